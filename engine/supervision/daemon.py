"""The local runtime's supervisor: `python -m engine supervise`, one process per state
directory, started by `claire up` and `claire papertest start`, stopped by `claire down`.

Every `CLAIRE_SUPERVISOR_INTERVAL_SECONDS` it looks at:
- the redis-server and the PostgreSQL claire manages (servers given by URL are not its to
  restart): one found dead is started again at once, then after 1, 2, 4 ... seconds up to
  `CLAIRE_SUPERVISOR_BACKOFF_CAP_SECONDS`; Redis keeps its append-only file, so the streams
  and their consumer groups come back where they were;
- the engine of each running papertest: when its process is gone twice in a row while the
  run is marked running, the run is resumed (as `claire papertest resume` does);
- the progress of each papertest: no new snapshot for `CLAIRE_SUPERVISOR_STALL_AFTER_SECONDS`
  while its engine runs raises a `run_stalled` alert naming the cause (cleared when it moves
  again), which `claire status` reports as CRITICAL.
Each outage is stored in `outages`, once for each papertest it hit (when it began, when it
ended, the restarts it took), with a critical alert when it begins and a clearing one when
it ends. While PostgreSQL is down those writes wait in memory and are made once it answers.

Not supervised: the Docker runtime (Docker restarts its containers), Prometheus, servers
given by URL, and the supervisor itself (the boot entry `claire up --install` writes also
starts it again every minute).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg

from engine.errors import ClaireError
from engine.runs.registry import Run, RunRepository
from engine.runtime.local import LocalRuntime
from engine.runtime.status import ComponentState, ComponentStatus
from engine.settings import Settings
from engine.storage.outages import OutageLog
from engine.supervision.watch import (
    Backoff,
    OutageBegan,
    OutageEnded,
    Outcome,
    RestartDue,
    StallBegan,
    StallEnded,
    StallWatch,
    Watch,
)

log = logging.getLogger("engine.supervisor")

Write = Callable[[OutageLog], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Supervisor:
    """Look, restart, record; `run` loops until stopped, `look` is one round."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self._settings = settings
        self._clock = clock
        self._runtime = LocalRuntime(settings)
        self._backoff = Backoff(cap=timedelta(seconds=settings.supervisor.backoff_cap_seconds))
        self._servers = {name: Watch(name, self._backoff) for name in ("redis", "postgres")}
        # One watch per running papertest: its engine, and its progress.
        self._engines: dict[str, Watch] = {}
        self._stalls: dict[str, StallWatch] = {}
        self._waiting: list[Write] = []  # outage writes PostgreSQL could not take yet
        self._run_ids: list[str] = []  # the running papertests, as last seen
        # The runs a server's ongoing outage was recorded for (its end is recorded for them).
        self._affected: dict[str, list[str | None]] = {}

    def run(self, stop: threading.Event) -> None:
        interval = self._settings.supervisor.interval_seconds
        log.info("supervising %s every %.1f s", self._settings.home, interval)
        while not stop.is_set():
            try:
                self.look()
            except Exception:  # one bad round must not end the supervision
                log.exception("a supervision round failed; the next one follows")
            stop.wait(interval)

    def look(self) -> None:
        """Look at each component once; restart and record what that calls for."""
        runtime = self._runtime
        if runtime.manages_redis:
            self._server("redis", runtime.redis.status(), runtime.redis.start)
        if runtime.manages_postgres:
            self._server("postgres", runtime.postgres.status(), runtime.postgres.start)
        try:
            conn = psycopg.connect(
                runtime.endpoints().database_conninfo, autocommit=True, connect_timeout=2
            )
        except psycopg.Error:
            return  # the engines are looked at, and outages written, once PostgreSQL answers
        with conn:
            self._look_at_engines(conn)
            self._flush(OutageLog(conn))

    # -- servers ---------------------------------------------------------------------

    def _server(self, name: str, status: ComponentStatus, start: Callable[[], None]) -> None:
        alive = status.state is ComponentState.RUNNING  # one still loading its data counts
        watch = self._servers[name]
        for outcome in watch.observe(alive, self._clock(), status.detail):
            if isinstance(outcome, RestartDue):
                self._restart(name, outcome, start)
                self._note_restart(watch, outcome.attempt, self._affected.get(name, [None]))
                continue
            if isinstance(outcome, OutageBegan):  # every running papertest is hit by it
                self._affected[name] = list(self._run_ids) or [None]
            for run_id in self._affected.get(name, [None]):
                self._record(outcome, run_id)
            if isinstance(outcome, OutageEnded):
                self._affected.pop(name, None)

    def _restart(self, name: str, due: RestartDue, start: Callable[[], None]) -> None:
        log.warning("%s is down: restart %d", name, due.attempt)
        try:
            start()
        except ClaireError as exc:
            log.error("%s did not start: %s", name, exc.message)
        except (OSError, psycopg.Error) as exc:
            log.error("%s did not start: %s", name, exc)

    # -- the engines -----------------------------------------------------------------

    def _look_at_engines(self, conn: psycopg.Connection[Any]) -> None:
        runs = RunRepository(conn).active_runs()
        self._run_ids = [run.run_id for run in runs]
        for gone in set(self._engines) - set(self._run_ids):  # ended: its outage too
            for outcome in self._engines.pop(gone).observe(True, self._clock()):
                self._record(outcome, gone)
            self._stalls.pop(gone, None)
        for run in runs:
            self._look_at_engine(conn, run)
        if any(run.parameters.source == "mexc" for run in runs):
            self._look_at_feed()

    def _look_at_feed(self) -> None:
        """The shared live feed runs while a live papertest does (started again if dead)."""
        from engine.runs import service

        try:
            service.feed(self._settings, env_file=None)
        except (OSError, ClaireError) as exc:
            log.error("the shared feed did not start: %s", exc)

    def _look_at_engine(self, conn: psycopg.Connection[Any], run: Run) -> None:
        from engine.runs import service

        crashed = service.engine_state(self._settings, run) == "crashed"
        if not crashed:
            self._look_at_progress(conn, run.run_id)
        detail = f"the engine of {run.run_id} is not running"
        watch = self._engines.setdefault(run.run_id, Watch("engine", self._backoff, confirm=2))
        for outcome in watch.observe(not crashed, self._clock(), detail):
            if not isinstance(outcome, RestartDue):
                self._record(outcome, run.run_id)
                continue
            log.warning("the engine of %s is down: resume %d", run.run_id, outcome.attempt)
            try:
                service.resume(self._settings, run.run_id, env_file=None)
            except ClaireError as exc:
                log.error("%s did not resume: %s", run.run_id, exc.message)
                watch.give_up()  # the run is marked failed with the engine's own words
            self._note_restart(watch, outcome.attempt, [run.run_id])

    def _look_at_progress(self, conn: psycopg.Connection[Any], run_id: str) -> None:
        """A running engine whose run takes no new snapshot for the stall limit is stalled."""
        row = conn.execute(
            'SELECT MAX(sequence), MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %s',
            (run_id,),
        ).fetchone()
        newest, event_time = row if row is not None else (None, None)
        stall = self._stalls.setdefault(
            run_id, StallWatch(timedelta(seconds=self._settings.supervisor.stall_after_seconds))
        )
        change = stall.observe(newest, self._clock())
        if isinstance(change, StallBegan):
            down = [name for name, watch in self._servers.items() if watch.down_since is not None]
            cause = f"{', '.join(down)} down" if down else "event time stopped advancing"
            if event_time is not None:
                cause += f"; event time stands at {event_time.isoformat()}"
            log.warning("%s stalled since %s: %s", run_id, change.since, cause)
            self._waiting.append(
                partial(
                    OutageLog.stalled,
                    run_id=run_id,
                    since=change.since,
                    at=self._clock(),
                    cause=cause,
                )
            )
        elif isinstance(change, StallEnded):
            log.warning("%s makes progress again", run_id)
            self._waiting.append(
                partial(OutageLog.moving, run_id=run_id, since=change.since, at=change.ended)
            )

    # -- records ---------------------------------------------------------------------

    def _note_restart(self, watch: Watch, attempt: int, run_ids: list[str | None]) -> None:
        began = watch.down_since
        if began is None:
            return
        for run_id in run_ids:
            self._waiting.append(
                partial(
                    OutageLog.restarted,
                    run_id=run_id,
                    component=watch.component,
                    began_at=began,
                    restarts=attempt,
                )
            )

    def _record(self, outcome: Outcome, run_id: str | None) -> None:
        if isinstance(outcome, OutageBegan):
            log.warning("%s is down since %s: %s", outcome.component, outcome.at, outcome.detail)
            self._waiting.append(
                partial(
                    OutageLog.began,
                    run_id=run_id,
                    component=outcome.component,
                    at=outcome.at,
                    detail=outcome.detail,
                )
            )
        elif isinstance(outcome, OutageEnded):
            seconds = outcome.downtime.total_seconds()
            log.warning(
                "%s is back after %.0f s (%d restarts)",
                outcome.component,
                seconds,
                outcome.restarts,
            )
            self._waiting.append(
                partial(
                    OutageLog.ended,
                    run_id=run_id,
                    component=outcome.component,
                    began_at=outcome.began,
                    at=outcome.ended,
                    restarts=outcome.restarts,
                )
            )

    def _flush(self, outages: OutageLog) -> None:
        while self._waiting:
            try:
                self._waiting[0](outages)
            except psycopg.Error as exc:
                log.warning("outage records wait for PostgreSQL: %s", exc)
                return
            self._waiting.pop(0)
