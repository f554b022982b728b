"""What the Docker runtime creates, as plain data: one network, named volumes, containers.

Pure: no Docker calls. `project_plan(settings, ...)` turns the settings into specs; the
runtime compares each spec's `config_hash` with the label of the container that exists and
recreates only what changed. Every container is hardened (no new privileges, capabilities
dropped, read-only root with tmpfs), has a healthcheck that can fail, a restart policy and
labels naming the project; published ports bind to `bind_address` (127.0.0.1) only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

from engine.settings import Settings

LABEL_PROJECT = "claire.project"
LABEL_ROLE = "claire.role"
LABEL_CONFIG = "claire.config-hash"
LABEL_CONTENT = "claire.content-hash"

#: Where things live inside the containers.
STATE_DIR = "/var/lib/claire"
PROMETHEUS_CONFIG_DIR = "/etc/prometheus"
GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning"
GRAFANA_DASHBOARDS_DIR = "/var/lib/claire-dashboards"
POSTGRES_DATA = "/var/lib/postgresql/data"
POSTGRES_SOCKET_DIR = "/var/run/postgresql"
MONITOR_PORT = 9464
REDIS_PORT = 6379
POSTGRES_PORT = 5432
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000

#: The engine container: a running papertest's whole engine (the feed and every stage).
ENGINE_ROLE = "engine"

_SECOND_NS = 1_000_000_000
_TMP = "/tmp"  # noqa: S108 - a tmpfs inside the container, private to it


def _scratch(size: str, **more: str) -> dict[str, str]:
    """The tmpfs mounts of a read-only container: /tmp of `size`, and `more` paths."""
    return {_TMP: f"size={size},mode=1777", **more}


@dataclass(frozen=True)
class HealthCheck:
    """A Docker healthcheck (`test` in Docker's form: ["CMD", ...] or ["CMD-SHELL", "..."])."""

    test: tuple[str, ...]
    interval_s: float = 5.0  # also the wait before the first check
    timeout_s: float = 5.0
    retries: int = 3
    start_period_s: float = 60.0

    def to_docker(self) -> dict[str, object]:
        return {
            "test": list(self.test),
            "interval": int(self.interval_s * _SECOND_NS),
            "timeout": int(self.timeout_s * _SECOND_NS),
            "retries": self.retries,
            "start_period": int(self.start_period_s * _SECOND_NS),
        }


@dataclass(frozen=True)
class Mount:
    """A named volume (`source` a volume name) or a host directory (`bind`) at `target`."""

    source: str
    target: str
    read_only: bool = False
    bind: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything one container is created with."""

    role: str
    name: str
    image: str
    command: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    ports: dict[int, tuple[str, int]] = field(default_factory=dict)  # container -> (host ip, port)
    mounts: tuple[Mount, ...] = ()
    tmpfs: dict[str, str] = field(default_factory=dict)
    healthcheck: HealthCheck | None = None
    read_only: bool = True
    cap_add: tuple[str, ...] = ()
    restart: str = "always"
    labels: dict[str, str] = field(default_factory=dict)
    stop_timeout_s: int = 30
    files_digest: str = ""  # of the configuration files it mounts: a change recreates it

    def config_hash(self, image_id: str) -> str:
        """A digest of the whole configuration and the image it runs: any change recreates."""
        data = asdict(self)
        data["labels"] = {k: v for k, v in self.labels.items() if k != LABEL_CONFIG}
        data["image_id"] = image_id
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def security_opt(self) -> list[str]:
        return ["no-new-privileges:true"]

    @property
    def cap_drop(self) -> list[str]:
        return ["ALL"]


@dataclass(frozen=True)
class ProjectPlan:
    """The network, volumes and containers of one project, in start order."""

    project: str
    network: str
    volumes: tuple[str, ...]
    servers: tuple[ContainerSpec, ...]  # Redis, PostgreSQL: before the migrations
    engine: tuple[ContainerSpec, ...]
    monitoring: tuple[ContainerSpec, ...]

    @property
    def containers(self) -> tuple[ContainerSpec, ...]:
        return (*self.servers, *self.engine, *self.monitoring)

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_PROJECT: self.project}


@dataclass(frozen=True)
class HostPaths:
    """Host directories the containers see (bind mounts): generated monitoring configuration
    and the market data a replay reads."""

    prometheus_config: str
    grafana_provisioning: str
    grafana_dashboards: str
    market_data: str
    market_data_target: str = ""  # where the containers see it (default: the same path)
    config_digest: str = ""  # of the monitoring files: a change recreates their containers


def container_name(project: str, role: str) -> str:
    return f"{project}-{role}"


def volume_name(project: str, what: str) -> str:
    return f"{project}-{what}"


def project_plan(
    settings: Settings, engine_image: str, engine_env: dict[str, str], paths: HostPaths
) -> ProjectPlan:
    """Every resource of the project, from the settings.

    `engine_env` carries claire's settings into the engine containers (it holds secrets);
    `engine_image` is the image claire built or the one the settings name.
    """
    docker = settings.docker
    project = docker.project
    volumes = [volume_name(project, v) for v in ("redis", "postgres", "state")]
    monitoring: list[ContainerSpec] = []
    if docker.prometheus:
        volumes.append(volume_name(project, "prometheus"))
        monitoring.append(_prometheus(settings, paths))
    if docker.grafana:
        volumes.append(volume_name(project, "grafana"))
        monitoring.append(_grafana(settings, paths))
    engine = tuple(
        _engine(settings, engine_image, engine_env, paths, role) for role in engine_roles(settings)
    )
    return ProjectPlan(
        project=project,
        network=project,
        volumes=tuple(volumes),
        servers=(_redis(settings), _postgres(settings)),
        engine=engine,
        monitoring=tuple(monitoring),
    )


def _labels(settings: Settings, role: str) -> dict[str, str]:
    return {LABEL_PROJECT: settings.docker.project, LABEL_ROLE: role}


def _port(settings: Settings, container_port: int, host_port: int) -> dict[int, tuple[str, int]]:
    return {container_port: (settings.docker.bind_address, host_port)}


def _secret(value: object) -> str:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get is not None else ""


def _redis(settings: Settings) -> ContainerSpec:
    """Redis with a password, append-only persistence and `noeviction` (never lose events).

    The password goes into a config file on a tmpfs, so it is not on the command line.
    """
    password = _secret(settings.redis.password)
    start = (
        'umask 077 && printf "requirepass %s\\n" "$REDIS_PASSWORD" > /tmp/redis.conf && '
        "exec redis-server /tmp/redis.conf --port 6379 --dir /data --appendonly yes "
        "--appendfsync everysec --maxmemory-policy noeviction --protected-mode no"
    )
    return ContainerSpec(
        role="redis",
        name=container_name(settings.docker.project, "redis"),
        image=settings.docker.redis_image,
        command=("sh", "-c", start),
        environment={"REDIS_PASSWORD": password, "REDISCLI_AUTH": password},
        user="redis",
        ports=_port(settings, REDIS_PORT, settings.docker.redis_port),
        mounts=(Mount(volume_name(settings.docker.project, "redis"), "/data"),),
        tmpfs=_scratch("16m"),
        healthcheck=HealthCheck(("CMD-SHELL", "redis-cli -p 6379 ping | grep -q PONG")),
        restart=settings.docker.restart,
        labels=_labels(settings, "redis"),
    )


def _postgres(settings: Settings) -> ContainerSpec:
    """PostgreSQL as its own user (no capabilities needed), checked over TCP so the
    temporary server of the first initialisation does not count as ready."""
    db = settings.database
    return ContainerSpec(
        role="postgres",
        name=container_name(settings.docker.project, "postgres"),
        image=settings.docker.postgres_image,
        command=("postgres",),
        environment={
            "POSTGRES_USER": db.user,
            "POSTGRES_PASSWORD": _secret(db.password),
            "POSTGRES_DB": db.name,
            "POSTGRES_INITDB_ARGS": "--encoding=UTF8 --auth-host=scram-sha-256",
            "PGDATA": POSTGRES_DATA,
        },
        user="postgres",
        ports=_port(settings, POSTGRES_PORT, settings.docker.postgres_port),
        mounts=(Mount(volume_name(settings.docker.project, "postgres"), POSTGRES_DATA),),
        tmpfs=_scratch("64m", **{POSTGRES_SOCKET_DIR: "size=1m,mode=3777"}),
        healthcheck=HealthCheck(
            (
                "CMD",
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-p",
                str(POSTGRES_PORT),
                "-U",
                db.user,
                "-d",
                db.name,
            ),
        ),
        restart=settings.docker.restart,
        labels=_labels(settings, "postgres"),
        stop_timeout_s=60,
    )


def engine_roles(settings: Settings) -> list[str]:
    """The engine containers' roles: `engine`, then `engine-2` ... (CLAIRE_DOCKER_ENGINES).
    Each is its own host (hostname: its container name), so a restarted container takes
    its own run back at once and the others leave it alone."""
    return [ENGINE_ROLE] + [f"{ENGINE_ROLE}-{i}" for i in range(2, settings.docker.engines + 1)]


def _engine(
    settings: Settings, image: str, env: dict[str, str], paths: HostPaths, role: str
) -> ContainerSpec:
    return ContainerSpec(
        role=role,
        name=container_name(settings.docker.project, role),
        image=image,
        command=(
            "python",
            "-m",
            "engine",
            "serve",
            "--name",
            container_name(settings.docker.project, role),
        ),
        environment=env,
        mounts=(
            Mount(volume_name(settings.docker.project, "state"), STATE_DIR),
            # Recorded market data, at the same path as on the host: `replay:PATH` works as is.
            Mount(
                paths.market_data,
                paths.market_data_target or paths.market_data,
                read_only=True,
                bind=True,
            ),
        ),
        tmpfs=_scratch("256m"),
        healthcheck=HealthCheck(
            ("CMD", "python", "-m", "engine.observability.healthcheck", str(MONITOR_PORT))
        ),
        restart=settings.docker.restart,
        labels=_labels(settings, role),
        stop_timeout_s=90,  # a stopping run writes its final snapshot and its report
    )


def _prometheus(settings: Settings, paths: HostPaths) -> ContainerSpec:
    config = PurePosixPath(PROMETHEUS_CONFIG_DIR)
    return ContainerSpec(
        role="prometheus",
        name=container_name(settings.docker.project, "prometheus"),
        image=settings.docker.prometheus_image,
        command=(
            f"--config.file={config / 'prometheus.yml'}",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=30d",
            f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}",
        ),
        user="nobody",
        ports=_port(settings, PROMETHEUS_PORT, settings.monitor.prometheus_port),
        mounts=(
            Mount(volume_name(settings.docker.project, "prometheus"), "/prometheus"),
            Mount(paths.prometheus_config, PROMETHEUS_CONFIG_DIR, read_only=True, bind=True),
        ),
        tmpfs=_scratch("16m"),
        healthcheck=HealthCheck(
            ("CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready")
        ),
        restart=settings.docker.restart,
        labels=_labels(settings, "prometheus"),
        files_digest=paths.config_digest,
    )


def _grafana(settings: Settings, paths: HostPaths) -> ContainerSpec:
    return ContainerSpec(
        role="grafana",
        name=container_name(settings.docker.project, "grafana"),
        image=settings.docker.grafana_image,
        environment={
            "GF_SECURITY_ADMIN_USER": "admin",
            "GF_SECURITY_ADMIN_PASSWORD": _secret(settings.docker.grafana_password),
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_PATHS_PROVISIONING": GRAFANA_PROVISIONING_DIR,
        },
        ports=_port(settings, GRAFANA_PORT, settings.docker.grafana_port),
        mounts=(
            Mount(volume_name(settings.docker.project, "grafana"), "/var/lib/grafana"),
            Mount(paths.grafana_provisioning, GRAFANA_PROVISIONING_DIR, read_only=True, bind=True),
            Mount(paths.grafana_dashboards, GRAFANA_DASHBOARDS_DIR, read_only=True, bind=True),
        ),
        tmpfs=_scratch("64m", **{"/var/log/grafana": "size=16m,mode=1777"}),
        healthcheck=HealthCheck(
            (
                "CMD-SHELL",
                f"wget -q -O /dev/null http://127.0.0.1:{GRAFANA_PORT}/api/health"
                f" || curl -fsS -o /dev/null http://127.0.0.1:{GRAFANA_PORT}/api/health",
            ),
        ),
        restart=settings.docker.restart,
        labels=_labels(settings, "grafana"),
        files_digest=paths.config_digest,
    )
