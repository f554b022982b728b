"""`python -m engine serve`: the main loop of the engine container.

`claire up` creates the engine containers (CLAIRE_DOCKER_ENGINES) before any papertest
exists. Each waits for a papertest to be running that no other engine holds, runs its whole
engine (the feed and every stage, one process), and waits again. It always answers /health
and /metrics on CLAIRE_MONITOR_PORT; while it waits it is healthy when Redis and PostgreSQL
answer. SIGTERM ends it: a run in progress is interrupted, not ended. Whether the process
was killed (Docker restarts it) or stopped (`claire up` after `claire down`), the run
resumes from what PostgreSQL holds as soon as the engine starts again.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

import psycopg
import redis

from engine.backup.marker import backup_time_reader
from engine.errors import ClaireError
from engine.observability.health import HealthReport, waiting_report
from engine.observability.metrics import EngineMetrics
from engine.observability.probes import postgres_probe, redis_probe
from engine.runs.control import RunControl, this_engine
from engine.runs.hosts import WORKER_STALE_S
from engine.runs.registry import Run, RunRepository
from engine.runtime.listeners import bind_monitor
from engine.runtime.select import endpoints
from engine.settings import Settings

log = logging.getLogger("engine.serve")

POLL_S = 1.0


class EngineServer:
    """Wait for papertests and run them (see the module docstring)."""

    def __init__(
        self, settings: Settings, *, worker: bool = False, name: str | None = None
    ) -> None:
        self.settings = settings
        #: A worker of the local runtime (`claire worker`): it takes only the runs that wait
        #: for a worker, and binds a free port when the configured one is taken.
        self.worker = worker
        #: Its name in a run's control state: an engine container's is the container's (it
        #: is the same after Docker restarts it), a worker's its host and pid.
        self.name = name or this_engine()
        self._endpoints = endpoints(settings)
        self._redis = redis.Redis.from_url(self._endpoints.redis_url, socket_timeout=2)
        self._probes = {
            "redis": redis_probe(self._redis),
            "postgres": postgres_probe(self._endpoints.database_conninfo),
        }
        self._idle_metrics = EngineMetrics("")
        self._idle_metrics.watch_health(self._idle_health)
        self._idle_metrics.watch_backups(
            settings.backup_dir, backup_time_reader(self._redis, settings.redis.namespace)
        )
        # A fixed port inside the container network (its healthcheck and Prometheus use it).
        self.monitor = bind_monitor(
            self._idle_metrics.registry,
            self._idle_health,
            settings.monitor.host,
            settings.monitor.port,
            fallback=worker,
        )
        self.stop = threading.Event()

    def _idle_health(self) -> HealthReport:
        return waiting_report("engine", self._probes, "waiting for a papertest")

    def run(self) -> int:
        """Serve until SIGTERM; return the exit code."""
        self.monitor.start()
        log.info("engine waiting for a papertest; /health on %s", self.monitor.url)
        try:
            while not self.stop.is_set():
                self._listen_for_signals()
                active = self._active_run()
                if active is None:
                    self.stop.wait(POLL_S)
                else:
                    self._run_papertest(*active)
        finally:
            self.monitor.stop()
            self._redis.close()
        return 0

    def _listen_for_signals(self) -> None:
        # A run's event loop takes these signals over and resets them when it ends.
        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def _active_run(self) -> tuple[Run, bool] | None:
        """A papertest this engine took (no other engine runs it), and whether an engine
        worked on it before (it resumes)."""
        try:
            with psycopg.connect(
                self._endpoints.database_conninfo, autocommit=True, connect_timeout=5
            ) as conn:
                taken = RunControl(conn).claim(
                    self.name,
                    # A run another engine holds is left to it until its heartbeat is
                    # WORKER_STALE_S old; an engine container restarted (its name is the
                    # container's) takes its own run back at once.
                    stale_after=timedelta(seconds=WORKER_STALE_S),
                    unmarked=not self.worker,  # the Docker runtime's runs are all its own
                )
                return (
                    None if taken is None else (RunRepository(conn).get(taken.run_id), taken.resume)
                )
        except psycopg.Error as exc:
            log.warning("cannot read the papertests: %s", str(exc).strip().splitlines()[0])
            return None

    def _run_papertest(self, run: Run, resume: bool) -> None:
        from engine.engine_process.run import PapertestEngine

        log.info("papertest %s: %s", run.run_id, "resuming" if resume else "starting")
        try:
            engine = PapertestEngine(
                self.settings,
                run.run_id,
                resume=resume,
                signals="interrupt",
                monitor=self.monitor,
                engine_name=self.name,
            )
        except (psycopg.Error, ClaireError) as exc:
            log.error("papertest %s cannot start: %s", run.run_id, exc)
            self.stop.wait(POLL_S * 5)
            return
        logs = None
        if self.worker:  # `claire logs --run RUN` reads the run's own log, as of a process
            from engine.runs.logs import RunDayHandler

            logs = RunDayHandler(self.settings.home, run.run_id, run.started_at)
            logging.getLogger().addHandler(logs)
        try:
            engine.run()
        except Exception:  # recorded by the engine (the run is marked failed); keep serving
            log.exception("papertest %s failed", run.run_id)
        finally:
            if logs is not None:
                logging.getLogger().removeHandler(logs)
                logs.close()
            self.monitor.serve(self._idle_metrics.registry, self._idle_health)
        if engine.interrupted:
            self.stop.set()  # SIGTERM: the container is stopping
