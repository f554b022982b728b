"""One stage of a papertest in a process of its own (`python -m engine serve --role risk`).

The worker follows the run's epochs (`engine.papertest.epochs`): for each, it builds its
stage from what the database holds of the run and consumes that epoch's streams, until the
run ends or moves on to another epoch. A stateful stage that finds it has already consumed
part of the current epoch was restarted and lost its memory of it: it asks the engine for
a new epoch instead of going on with half a memory. Persistence holds no memory and just
goes on (what it had read but not written is still pending, and writes are idempotent).
"""

from __future__ import annotations

import logging
import threading
from contextlib import closing

import psycopg

from engine.backup.marker import backup_time_reader
from engine.bus.redis_streams import RedisStreamBus
from engine.errors import ClaireError
from engine.observability.metrics import EngineMetrics
from engine.observability.probes import postgres_probe, redis_probe
from engine.observability.server import MonitorServer
from engine.papertest.epochs import consumed, run_namespace
from engine.papertest.runs import Run, RunRepository
from engine.papertest.stages import run_pipeline, stage_runner, uses_memory_bus
from engine.runtime.select import endpoints
from engine.services.pipeline import STAGE_INPUTS, STORING_STAGES
from engine.services.redis_runner import runners_health
from engine.settings import Settings
from engine.storage.connection import Reconnecting
from engine.storage.event_writer import EventWriter
from engine.storage.run_state import load_run_state

log = logging.getLogger("engine.stage_worker")

POLL_S = 1.0


class StageWorker:
    """Run stage `name` for whichever epoch of the running papertest is current."""

    def __init__(
        self, settings: Settings, name: str, monitor: MonitorServer, stop: threading.Event
    ) -> None:
        self.settings = settings
        self.name = name
        self._monitor = monitor
        self._idle = (monitor.registry, monitor.health)
        self._stop = stop
        self._conninfo = endpoints(settings).database_conninfo
        self._redis_url = endpoints(settings).redis_url
        self._joined: tuple[str, int] | None = None  # the epoch this process worked on
        self._left: tuple[str, int] | None = None  # an epoch it must not take up again

    def work(self, run: Run) -> None:
        """Take part in the run's current epoch until it ends (or wait a moment)."""
        epoch = int(run.extra.get("epoch") or 0)
        key = (run.run_id, epoch)
        if epoch == 0 or uses_memory_bus(run) or key == self._left:
            self._stop.wait(POLL_S)
            return
        bus = RedisStreamBus.from_url(
            self._redis_url,
            run_namespace(self.settings, run.run_id, epoch),
            maxlen=self.settings.redis.stream_maxlen,
        )
        try:
            if self._lost_memory(bus, key):
                self._ask_for_new_epoch(run, epoch)
                self._left = key
                return
            self._joined = key
            self._run_epoch(run, epoch, bus)
        finally:
            bus.client.close()

    def _lost_memory(self, bus: RedisStreamBus, key: tuple[str, int]) -> bool:
        if self.name in STORING_STAGES or key == self._joined:
            return False
        return consumed(bus, self.name, STAGE_INPUTS[self.name])

    def _ask_for_new_epoch(self, run: Run, epoch: int) -> None:
        why = f"stage {self.name} restarted in epoch {epoch} and lost its memory of it"
        log.warning("papertest %s: %s", run.run_id, why)
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            RunRepository(conn).request_resume(run.run_id, epoch, why)

    def _run_epoch(self, run: Run, epoch: int, bus: RedisStreamBus) -> None:
        log.info("papertest %s: stage %s joins epoch %d", run.run_id, self.name, epoch)
        stateful = self.name not in STORING_STAGES
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            state = load_run_state(conn, run.run_id, before=run.state_as_of) if stateful else None
        # Closed, never committed on exit: PostgreSQL may have restarted under it meanwhile.
        with closing(psycopg.connect(self._conninfo)) as writer_conn:
            writer = None if stateful else EventWriter(writer_conn, self._conninfo)
            metrics = EngineMetrics(run.run_id)
            pipeline = run_pipeline(
                self.settings, run, bus, writer=writer, state=state, metrics=metrics
            )
            stage = next(s for s in pipeline.stages if s.name == self.name)
            runner = stage_runner(self.settings, run, stage, bus, metrics)
            health = runners_health(
                self.name,
                [runner],
                stale_after_s=self.settings.market.stale_after_seconds,
                max_lag=self.settings.monitor.max_consumer_lag,
                probes={
                    "redis": redis_probe(bus.client),
                    "postgres": postgres_probe(self._conninfo),
                },
            )
            metrics.watch_health(health.report)
            metrics.watch_backups(
                self.settings.backup_dir,
                backup_time_reader(bus.client, self.settings.redis.namespace),
            )
            self._monitor.serve(metrics.registry, health.report)
            done = threading.Event()
            thread = threading.Thread(target=runner.run, args=(done,), name=f"stage-{self.name}")
            thread.start()
            try:
                self._until_epoch_ends(run.run_id, epoch)
            finally:
                done.set()
                thread.join(30)
                self._monitor.serve(*self._idle)
                self._record_stats(run.run_id, metrics)
        log.info("papertest %s: stage %s leaves epoch %d", run.run_id, self.name, epoch)

    def _until_epoch_ends(self, run_id: str, epoch: int) -> None:
        db = Reconnecting(self._conninfo)  # PostgreSQL may restart while the epoch runs
        try:
            while not self._stop.wait(POLL_S):
                try:
                    latest = RunRepository(db.get()).get(run_id)
                except (psycopg.Error, ClaireError) as exc:
                    log.warning("cannot read the run: %s", str(exc).strip().splitlines()[0])
                    continue
                if not latest.running or int(latest.extra.get("epoch") or 0) != epoch:
                    return
        finally:
            db.close()

    def _record_stats(self, run_id: str, metrics: EngineMetrics) -> None:
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                RunRepository(conn).merge_engine_stats(run_id, metrics.summary())
        except psycopg.Error as exc:
            log.warning("could not record the stage's figures: %s", exc)
