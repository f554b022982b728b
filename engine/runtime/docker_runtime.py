"""The Docker runtime: claire's servers, engine and monitoring as containers.

`up` is idempotent: it builds the engine image when the checkout changed, creates the
network and volumes, and (re)creates a container only when its configuration hash differs
from the label of the one running. The host reaches Redis and PostgreSQL on ports
published to 127.0.0.1; the engine containers reach them by name on the project network.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

from psycopg.conninfo import make_conninfo

from engine.errors import DockerError, PermanentError
from engine.runtime.base import Endpoints, endpoints_preferring_urls
from engine.runtime.docker_api import ContainerInfo, DockerApi, ExecResult
from engine.runtime.docker_specs import (
    ENGINE_ROLE,
    GRAFANA_DASHBOARDS_DIR,
    LABEL_CONFIG,
    LABEL_PROJECT,
    MONITOR_PORT,
    POSTGRES_PORT,
    PROMETHEUS_PORT,
    REDIS_PORT,
    STATE_DIR,
    ContainerSpec,
    HostPaths,
    ProjectPlan,
    container_name,
    engine_roles,
    project_plan,
)
from engine.runtime.status import ComponentState, ComponentStatus
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings, setting_specs

Progress = Callable[[str], None]

#: Settings the engine containers do without: the host's paths, how the host reaches the
#: servers (the containers get URLs naming them), and the Docker runtime's own settings.
_HOST_ONLY = {
    "CLAIRE_HOME",
    "CLAIRE_DATABASE_BIN_DIR",
    "CLAIRE_DATABASE_PASSWORD",
    "CLAIRE_DATABASE_PORT",
    "CLAIRE_REDIS_PASSWORD",
    "CLAIRE_REDIS_PORT",
    "CLAIRE_REDIS_BINARY",
    "CLAIRE_BACKUP_DIR",
    "CLAIRE_MARKET_DATA_DIR",
}
_HOST_ONLY_PREFIX = "CLAIRE_DOCKER_"


@dataclass(frozen=True)
class Change:
    """What `up` did to one container."""

    name: str
    action: str  # created, recreated, started, unchanged, removed


def _quiet(_: str) -> None:
    """Progress for callers that show none."""


class DockerRuntime:
    """Create, check and remove the project's containers (see the module docstring)."""

    def __init__(
        self, settings: Settings, api: DockerApi | None = None, progress: Progress = _quiet
    ) -> None:
        self._settings = settings
        self._api = api
        self.progress = progress
        self.changes: list[Change] = []

    @property
    def api(self) -> DockerApi:
        if self._api is None:
            self._api = DockerApi(self._settings.docker.host)
        return self._api

    @property
    def project(self) -> str:
        return self._settings.docker.project

    # -- endpoints -------------------------------------------------------------------------

    def endpoints(self) -> Endpoints:
        """The servers as the host sees them: their ports published on the bind address."""
        docker = self._settings.docker
        wildcard = docker.bind_address in ("0.0.0.0", "::", "")  # noqa: S104 - a comparison
        host = "127.0.0.1" if wildcard else docker.bind_address
        return endpoints_preferring_urls(
            self._settings,
            _redis_url(self._settings, host, docker.redis_port),
            _conninfo(self._settings, host, docker.postgres_port),
        )

    # -- up ----------------------------------------------------------------------------------

    def up(self) -> list[ComponentStatus]:
        """Create or update everything, wait until it is healthy, apply the migrations."""
        from engine.runtime.docker_image import engine_image, ensure_image
        from engine.storage.migrations import apply_migrations

        self.api.ping()
        self.changes = []
        image = engine_image(self.api, self._settings, self.progress)
        plan = self.plan(image.ref)
        image_ids = {image.ref: image.image_id}
        for spec in plan.containers:
            if spec.image not in image_ids:
                image_ids[spec.image] = ensure_image(self.api, spec.image, self.progress)
        self.api.ensure_network(plan.network, plan.labels)
        for volume in plan.volumes:
            self.api.ensure_volume(volume, plan.labels)
        self._remove_unplanned(plan)
        for spec in plan.servers:
            self._ensure(spec, image_ids[spec.image], plan)
        self._wait_healthy(plan.servers)
        self.progress("applying database migrations")
        apply_migrations(self.endpoints().database_conninfo)
        for spec in (*plan.engine, *plan.monitoring):
            self._ensure(spec, image_ids[spec.image], plan)
        self._wait_healthy(plan.containers)
        return self.status()

    def plan(self, engine_image: str) -> ProjectPlan:
        """The project's resources; writes the monitoring files the containers mount."""
        paths = self._write_monitoring_files()
        return project_plan(self._settings, engine_image, self.engine_environment(), paths)

    def engine_environment(self) -> dict[str, str]:
        """claire's settings for the engine containers: the host's, with the servers named
        by their container names and the state kept in the state volume."""
        from engine.settings import format_value

        env: dict[str, str] = {}
        for spec in setting_specs():
            value: object = self._settings
            for part in spec.path:
                value = getattr(value, part)
            host_only = spec.env in _HOST_ONLY or spec.env.startswith(_HOST_ONLY_PREFIX)
            if value is not None and not host_only:
                env[spec.env] = format_value(value)
        env.update(
            {
                "CLAIRE_RUNTIME": RuntimeKind.LOCAL.value,  # servers given by URL, below
                "CLAIRE_REDIS_URL": _redis_url(
                    self._settings, container_name(self.project, "redis"), REDIS_PORT
                ),
                "CLAIRE_DATABASE_URL": _database_url(
                    self._settings, container_name(self.project, "postgres"), POSTGRES_PORT
                ),
                "CLAIRE_MONITOR_HOST": "0.0.0.0",  # noqa: S104 - Prometheus scrapes the network
                "CLAIRE_MONITOR_PORT": str(MONITOR_PORT),
                "CLAIRE_MONITOR_PROMETHEUS": "false",
                "CLAIRE_MARKET_DATA_DIR": f"{STATE_DIR}/data",
                "CLAIRE_BACKUP_DIR": f"{STATE_DIR}/backups",
            }
        )
        return env

    def _ensure(self, spec: ContainerSpec, image_id: str, plan: ProjectPlan) -> None:
        digest = spec.config_hash(image_id)
        found = self.api.container(spec.name)
        if found is not None and found.labels.get(LABEL_CONFIG) == digest:
            if found.status in ("running", "restarting"):
                self.changes.append(Change(spec.name, "unchanged"))
            else:
                self.progress(f"starting {spec.name}")
                self.api.start(spec.name)
                self.changes.append(Change(spec.name, "started"))
            return
        if found is not None:
            self.progress(f"recreating {spec.name} (its configuration changed)")
            self.api.remove(spec.name, timeout=spec.stop_timeout_s)
        else:
            self.progress(f"creating {spec.name}")
        self.api.create_and_start(spec, plan.network, {**spec.labels, LABEL_CONFIG: digest})
        self.changes.append(Change(spec.name, "recreated" if found is not None else "created"))

    def _remove_unplanned(self, plan: ProjectPlan) -> None:
        """Remove the project's containers the settings no longer ask for (the stages after a
        switch to the single-container engine, Grafana once turned off)."""
        planned = {spec.name for spec in plan.containers}
        for info in self.api.containers(f"{LABEL_PROJECT}={self.project}"):
            if info.name not in planned:
                self.progress(f"removing {info.name} (no longer in the settings)")
                self.api.remove(info.name, timeout=90)
                self.changes.append(Change(info.name, "removed"))

    def _wait_healthy(self, specs: tuple[ContainerSpec, ...]) -> None:
        timeout = self._settings.docker.start_timeout_seconds
        deadline = time.monotonic() + timeout
        waiting = [spec.name for spec in specs]
        while waiting:
            infos = {name: self.api.container(name) for name in waiting}
            waiting = [name for name, info in infos.items() if not _healthy(info)]
            if not waiting:
                return
            self.progress("waiting for " + ", ".join(waiting) + " to be healthy")
            if time.monotonic() > deadline:
                raise DockerError(
                    f"{waiting[0]} is not healthy after {timeout} s: "
                    + _health_detail(infos[waiting[0]]),
                    hint=f"see its output: claire logs {self._role_of(waiting[0])}",
                )
            time.sleep(0.5)

    def _role_of(self, name: str) -> str:
        return name.removeprefix(f"{self.project}-")

    def _write_monitoring_files(self) -> HostPaths:
        """Prometheus's configuration and rules, Grafana's provisioning and dashboards,
        written under CLAIRE_HOME/docker/ (readable by the containers' own accounts)."""
        from engine.observability import dashboards, rules

        base = self._settings.home / "docker"
        targets = [
            f"{container_name(self.project, role)}:{MONITOR_PORT}"
            for role in engine_roles(self._settings)
        ]
        prometheus_url = f"http://{container_name(self.project, 'prometheus')}:{PROMETHEUS_PORT}"
        files = {
            "prometheus/prometheus.yml": rules.prometheus_config(targets),
            "prometheus/claire.rules.yml": rules.alert_rules(self._settings),
            **{
                f"grafana/provisioning/{name}": model
                for name, model in dashboards.provisioning(
                    prometheus_url, GRAFANA_DASHBOARDS_DIR
                ).items()
            },
            **{
                f"grafana/dashboards/{name}": model
                for name, model in dashboards.dashboards().items()
            },
        }
        digest = hashlib.sha256()
        for name, model in sorted(files.items()):
            text = json.dumps(model, indent=2, sort_keys=True) + "\n"
            _write_public(base, name, text)
            digest.update(f"{name}\0{text}".encode())
        data = self._settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        return HostPaths(
            prometheus_config=str(base / "prometheus"),
            grafana_provisioning=str(base / "grafana" / "provisioning"),
            grafana_dashboards=str(base / "grafana" / "dashboards"),
            market_data=str(data.resolve()),
            # A Windows path is no path in a Linux container (replays from it: not yet).
            market_data_target="" if os.name == "posix" else "/var/lib/claire-replays",
            config_digest=digest.hexdigest()[:16],
        )

    # -- down, status, logs ----------------------------------------------------------------

    def down(self, *, volumes: bool = False) -> list[ComponentStatus]:
        """Stop and remove the project's containers (and its network); keep the volumes
        unless `volumes`."""
        self.api.ping()
        label = f"{LABEL_PROJECT}={self.project}"
        infos = self.api.containers(label)
        # The engine first, so a running papertest ends while its servers still answer.
        for info in sorted(infos, key=lambda i: not i.role.startswith(ENGINE_ROLE)):
            self.progress(f"removing {info.name}")
            self.api.remove(info.name, timeout=90)
        self.api.remove_network(self.project)
        if volumes:
            for volume in self.api.volumes(label):
                self.progress(f"removing volume {volume}")
                self.api.remove_volume(volume)
        return self.status()

    def status(self) -> list[ComponentStatus]:
        """Every container of the plan: state, health, restarts, start time."""
        found = {i.name: i for i in self.api.containers(f"{LABEL_PROJECT}={self.project}")}
        names = [container_name(self.project, role) for role in self.roles()]
        extra = sorted(set(found) - set(names))
        return [_component(name, found.get(name), self._published(name)) for name in names + extra]

    def roles(self) -> list[str]:
        roles = ["redis", "postgres", *engine_roles(self._settings)]
        if self._settings.docker.prometheus:
            roles.append("prometheus")
        if self._settings.docker.grafana:
            roles.append("grafana")
        return roles

    def _published(self, name: str) -> str | None:
        docker = self._settings.docker
        ports = {
            "redis": docker.redis_port,
            "postgres": docker.postgres_port,
            "prometheus": self._settings.monitor.prometheus_port,
            "grafana": docker.grafana_port,
        }
        role = self._role_of(name)
        return f"{docker.bind_address}:{ports[role]}" if role in ports else None

    def container(self, role: str) -> ContainerInfo | None:
        return self.api.container(container_name(self.project, role))

    def logs(self, role: str, *, tail: int = 100, follow: bool = False) -> Iterator[str]:
        """The output of the container of `role`; an unknown role is refused, naming each."""
        if role not in self.roles():
            raise PermanentError(
                f"{role!r} is no container of project {self.project}: choose one of "
                f"{', '.join(self.roles())}"
            )
        return self.api.logs(container_name(self.project, role), tail=tail, follow=follow)

    # -- commands in the PostgreSQL container (backups) ----------------------------------------

    def postgres_to_file(self, argv: list[str], target: IO[bytes]) -> ExecResult:
        return self.api.exec_to_file(container_name(self.project, "postgres"), argv, target)

    def postgres_from_file(self, argv: list[str], source: IO[bytes]) -> ExecResult:
        return self.api.exec_from_file(container_name(self.project, "postgres"), argv, source)


def _redis_url(settings: Settings, host: str, port: int) -> str:
    password = settings.redis.password
    auth = f":{quote(password.get_secret_value(), safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/0"


def _conninfo(settings: Settings, host: str, port: int) -> str:
    db = settings.database
    password = db.password.get_secret_value() if db.password else None
    return make_conninfo(host=host, port=str(port), dbname=db.name, user=db.user, password=password)


def _database_url(settings: Settings, host: str, port: int) -> str:
    db = settings.database
    password = db.password.get_secret_value() if db.password else ""
    return (
        f"postgresql://{quote(db.user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(db.name, safe='')}"
    )


def _write_public(base: Path, name: str, text: str) -> None:
    """Write `base/name` so the containers' own accounts can read it (it holds no secret)."""
    directory = base
    for part in Path(name).parent.parts:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        directory = directory / part
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    path = base / name
    path.write_text(text)
    path.chmod(0o644)


def _healthy(info: ContainerInfo | None) -> bool:
    if info is None or not info.running:
        return False
    return info.health in (None, "healthy")


def _health_detail(info: ContainerInfo | None) -> str:
    if info is None:
        return "it does not exist"
    if not info.running:
        return f"it is {info.status} (exit code {info.exit_code})"
    return f"health {info.health}: {info.health_output or 'no output yet'}"


def _component(name: str, info: ContainerInfo | None, endpoint: str | None) -> ComponentStatus:
    if info is None:
        state = ComponentState.STOPPED
        return ComponentStatus(name, state, False, "not created", endpoint=endpoint)
    if info.status in ("exited", "dead", "created"):
        detail = f"{info.status} (exit code {info.exit_code})"
        return ComponentStatus(
            name, ComponentState.DOWN, False, detail, endpoint=endpoint, restarts=info.restarts
        )
    healthy = _healthy(info)
    detail = info.health or info.status
    if info.status == "restarting":
        detail = "restarting"
    elif info.health_output and not healthy:
        detail = f"{info.health}: {info.health_output}"
    return ComponentStatus(
        name,
        ComponentState.RUNNING,
        healthy,
        detail,
        endpoint=endpoint,
        restarts=info.restarts,
        started_at=info.started_at,
    )
