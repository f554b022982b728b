"""Where a papertest's engine runs, and how `claire papertest` starts, watches and stops it.

Local runtime: a background process per run (`launcher`). Docker runtime: the engine
containers `claire up` created; they pick up a running papertest by themselves, so
starting one is registering it, and stopping one is asking through the database.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import psycopg

from engine.errors import PermanentError
from engine.runs import launcher
from engine.runs.control import Control, RunControl
from engine.runs.registry import Run, RunRepository
from engine.runtime.processes import read_pid
from engine.runtime.select import endpoints
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings

PICKUP_TIMEOUT_S = 90.0


class EngineHost(Protocol):
    """Start, watch and stop the engine of a run."""

    def start(self, run: Run, *, resume: bool, env_file: Path | None) -> str:
        """Start the run's engine; return what runs it (for messages)."""
        ...

    def check_started(self, run: Run) -> None:
        """Raise with the engine's own words when it did not start (`run` as it was before)."""
        ...

    def alive(self, run: Run) -> bool: ...

    def health(self, run: Run) -> tuple[bool, str]:
        """Whether the live engine's health checks pass, and what they say."""
        ...

    def request_stop(self, run: Run) -> bool:
        """Ask the engine to stop gracefully (the request is in the run's control state
        already); False when no engine is alive to ask."""
        ...

    def wait_for_exit(self, run: Run, timeout: float) -> bool: ...

    def output_tail(self, run: Run) -> str:
        """The last lines the engine printed."""
        ...


def engine_host(settings: Settings) -> EngineHost:
    if settings.runtime is RuntimeKind.DOCKER:
        return ContainerHost(settings)
    return ProcessHost(settings)


#: A worker whose heartbeat is older than this is taken for dead: another worker takes its run.
WORKER_STALE_S = 30.0


class ProcessHost:
    """One background process per run, with a pid file (see `launcher`); a run that waits
    for a worker (`queued`) is run by whichever `claire worker` takes it, wherever it runs,
    and is alive while its heartbeat beats."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._home = settings.home

    def start(self, run: Run, *, resume: bool, env_file: Path | None) -> str:
        if run.parameters.queued:
            return "waiting for a worker: claire worker"
        pid = launcher.launch(self._home, run.run_id, resume=resume, env_file=env_file)
        return f"engine pid {pid}"

    def check_started(self, run: Run) -> None:
        if run.parameters.queued:
            return  # taken when a worker is free (status says so meanwhile)
        pid = read_pid(launcher.pid_file(self._home, run.run_id))
        if pid is not None and launcher.started_cleanly(self._home, run.run_id, pid):
            return
        raise PermanentError(f"the engine of {run.run_id} stopped at once: {self.output_tail(run)}")

    def alive(self, run: Run) -> bool:
        if run.parameters.queued:
            return worker_alive(read_control(self._settings, run.run_id))
        return launcher.engine_pid(self._home, run.run_id) is not None

    def health(self, run: Run) -> tuple[bool, str]:
        """Ask the engine's /health (a full-speed replay runs in memory and has none)."""
        monitor_url = read_control(self._settings, run.run_id).monitor_url
        if monitor_url is None:
            return True, "running in memory (a full-speed replay: no /health endpoint)"
        url = f"{monitor_url}/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                response.read()
                return True, f"healthy ({url})"
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            failing = [
                c["name"] + ": " + c["detail"] for c in body.get("checks", []) if not c["ok"]
            ]
            return False, "unhealthy: " + "; ".join(failing)
        except (OSError, ValueError) as exc:
            return False, f"no answer from {url} ({exc})"

    def request_stop(self, run: Run) -> bool:
        if run.parameters.queued:  # the request is in the control state: its worker reads it
            return self.alive(run)
        return launcher.request_stop(self._home, run.run_id) is not None

    def wait_for_exit(self, run: Run, timeout: float) -> bool:
        if run.parameters.queued:
            return _wait_until_ended(self._settings, run.run_id, timeout)
        pid = read_pid(launcher.pid_file(self._home, run.run_id))
        return pid is None or launcher.wait_for_exit(pid, timeout)

    def output_tail(self, run: Run) -> str:
        if run.parameters.queued:
            return f"its worker's log: claire logs --run {run.run_id}"
        return launcher.console_tail(self._home, run.run_id)


class ContainerHost:
    """The engine containers of the Docker runtime."""

    def __init__(self, settings: Settings) -> None:
        from engine.runtime.docker_runtime import DockerRuntime

        self._settings = settings
        self._runtime = DockerRuntime(settings)

    def _engine_running(self) -> bool:
        from engine.runtime.docker_specs import engine_roles

        infos = (self._runtime.container(role) for role in engine_roles(self._settings))
        return any(i is not None and i.status in ("running", "restarting") for i in infos)

    def _holder(self, run: Run) -> str:
        """The role of the engine container that holds `run` (its control state names the
        container's host), else the first one's."""
        from engine.runtime.docker_specs import ENGINE_ROLE, container_name, engine_roles

        engine = read_control(self._settings, run.run_id).engine or ""
        host = engine.split(" pid ")[0]
        for role in engine_roles(self._settings):
            if host == container_name(self._settings.docker.project, role):
                return role
        return ENGINE_ROLE

    def start(self, run: Run, *, resume: bool, env_file: Path | None) -> str:
        if not self._engine_running():
            self._runtime.up()  # the engine containers pick the run up as they start
        count = self._settings.docker.engines
        return "an engine container" if count == 1 else f"one of {count} engine containers"

    def check_started(self, run: Run) -> None:
        """Wait until an engine container took the run up: an engine started after the run
        was started or resumed (each start is recorded in its control state)."""
        deadline = time.monotonic() + PICKUP_TIMEOUT_S
        conninfo = endpoints(self._settings).database_conninfo
        while time.monotonic() < deadline:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                latest = RunRepository(conn).get(run.run_id)
                control = RunControl(conn).get(run.run_id)
            if not latest.running:
                raise PermanentError(
                    f"the engine of {run.run_id} stopped at once: {latest.end_reason}",
                    hint="claire logs engine",
                )
            if _taken_up(latest, control):
                return
            time.sleep(0.5)
        raise PermanentError(
            f"no engine container took up {run.run_id} within {PICKUP_TIMEOUT_S:.0f} s: "
            f"{self.output_tail(run)}",
            hint="claire ps; claire logs engine",
        )

    def alive(self, run: Run) -> bool:
        return self._engine_running()

    def health(self, run: Run) -> tuple[bool, str]:
        """The healthcheck of the engine container that holds the run (its /health, run by
        Docker)."""
        role = self._holder(run)
        info = self._runtime.container(role)
        if info is None:
            return False, f"unhealthy: {role}: missing"
        if info.health != "healthy":
            return False, f"unhealthy: {role}: {info.health} {info.health_output}".strip()
        return True, f"healthy (the healthcheck of container {info.name} passes)"

    def request_stop(self, run: Run) -> bool:
        """The request is in the run's control state already: the engine's heartbeat reads it."""
        return self._engine_running()

    def wait_for_exit(self, run: Run, timeout: float) -> bool:
        return _wait_until_ended(self._settings, run.run_id, timeout)

    def output_tail(self, run: Run) -> str:
        try:
            lines = list(self._runtime.logs(self._holder(run), tail=5))
        except PermanentError as exc:
            return exc.message
        return " | ".join(line.strip() for line in lines if line.strip())


def _wait_until_ended(settings: Settings, run_id: str, timeout: float) -> bool:
    """Wait until the run is no longer `running` (its engine recorded its end)."""
    deadline = time.monotonic() + timeout
    conninfo = endpoints(settings).database_conninfo
    while time.monotonic() < deadline:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if not RunRepository(conn).get(run_id).running:
                return True
        time.sleep(0.5)
    return False


def worker_alive(control: Control) -> bool:
    """Whether a worker holds the run: its heartbeat beat within WORKER_STALE_S."""
    beat = control.heartbeat_at
    if beat is None or control.engine is None:
        return False
    return (datetime.now(UTC) - beat).total_seconds() < WORKER_STALE_S


def read_control(settings: Settings, run_id: str) -> Control:
    """The run's control state, read on a connection of its own."""
    with psycopg.connect(endpoints(settings).database_conninfo, autocommit=True) as conn:
        return RunControl(conn).get(run_id)


def _taken_up(run: Run, control: Control) -> bool:
    """Whether an engine started the run after it was started or last resumed."""
    asked = max([run.started_at, *(resume.at for resume in control.resumes)])
    return control.engine_started_at is not None and control.engine_started_at >= asked
