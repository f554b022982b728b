"""Run one papertest's engine to its end: `python -m engine papertest RUN_ID`.

The market source feeds the pipeline until the planned end (in event time), the end of the
data, a halt (drawdown beyond the abort level), a stop request (SIGTERM, or through the
database) or a fatal error. Then the feed's end goes down the pipeline (the portfolio takes
the final snapshot), the run records how it ended, and writes its report.

A `--speed max` replay or synthetic run uses the in-memory bus (no Redis round trips);
everything else runs over Redis Streams, in the epoch's own stream namespace, with /health
and /metrics, the stages as supervised threads of this process (`engine.engine_process.stages`).
The run is the unit of restart: whatever dies, the next start resumes it from what
PostgreSQL holds (`engine.engine_process.epochs`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal

import psycopg
import redis

from engine.backup.marker import backup_time_reader
from engine.bus.base import Publisher
from engine.bus.memory import InMemoryBus
from engine.bus.redis_streams import PatientPublisher, RedisStreamBus
from engine.durations import parse_duration, parse_speed
from engine.engine_process.epochs import (
    allocate_epoch,
    clear_other_epochs,
    run_namespace,
)
from engine.engine_process.recovery import downtime_gaps, open_order_events
from engine.engine_process.stages import RunStages, local_stages, run_pipeline, uses_memory_bus
from engine.errors import ClaireError
from engine.events import FeedEnded
from engine.events.envelope import bounded_id
from engine.events.market_data import FEED_SOURCE, FeedEndReason
from engine.marketdata.feed import FeedOptions, FeedResult, MarketFeed
from engine.marketdata.files import MarketRecorder
from engine.marketdata.shared import SharedFeedSource, shares_the_feed
from engine.marketdata.source import MarketSource, ReplaySource, SyntheticSource
from engine.observability.health import HealthMonitor
from engine.observability.memory import peak_rss_mb
from engine.observability.metrics import EngineMetrics
from engine.observability.notify import Notifier
from engine.observability.server import MonitorServer
from engine.reports.summary import summarize
from engine.runs.control import RunControl, this_engine
from engine.runs.registry import RunRepository, RunStatus, utc_now
from engine.runtime.base import Endpoints
from engine.runtime.listeners import bind_monitor
from engine.runtime.prometheus_server import publish_target, withdraw_target
from engine.runtime.select import endpoints
from engine.services.dead_letters import DeadLetterRecorder
from engine.services.notifier import NotifierStage
from engine.services.persistence import EventSink
from engine.services.pipeline import Pipeline
from engine.services.redis_runner import (
    ThreadedPipeline,
)
from engine.settings import Settings
from engine.storage.background import BackgroundWriter
from engine.storage.connection import Reconnecting
from engine.storage.event_writer import EventWriter
from engine.storage.run_state import load_run_state
from engine.strategy.base import import_from, strategy_warmup

log = logging.getLogger("engine.papertest")

MINUTE = timedelta(minutes=1)
#: The cut of a resumed run that had stored no snapshot: it decides everything again.
START_OF_TIME = datetime.min.replace(tzinfo=UTC)
SETTLE_TIMEOUT_S = 60.0
LIVE_REORDER_S = 2.0
HEARTBEAT_S = 1.0


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    status: RunStatus
    reason: str
    events: int
    #: Wall-clock time of the end.
    ended_at: datetime
    #: Event time of the first and last market data the run played.
    event_span: tuple[datetime | None, datetime | None] = (None, None)


class PapertestEngine:
    """Everything one run needs, wired from settings; `run()` blocks until the run ends.

    SIGTERM and SIGINT stop the run (final snapshot, end recorded, report), or with
    `signals="interrupt"` only interrupt it: the engine exits and the run stays `running`,
    to be resumed (an engine container being replaced). `claire papertest stop` may also ask
    through the database, which works wherever the engine runs. With `monitor`, the run's
    /health and /metrics are served by that server (an engine container's) instead of one
    of its own. Each start is a new epoch of the run (see `engine.engine_process.epochs`).
    """

    def __init__(
        self,
        settings: Settings,
        run_id: str,
        *,
        resume: bool = False,
        signals: Literal["stop", "interrupt"] = "stop",
        monitor: MonitorServer | None = None,
        engine_name: str | None = None,
    ) -> None:
        self.settings = settings
        #: How it names itself in the run's control state (`serve --name`; host and pid).
        self.engine_name = engine_name or this_engine()
        self.endpoints: Endpoints = endpoints(settings)
        # The run's own reads and writes: reopened when PostgreSQL restarts mid-run.
        self._db = Reconnecting(self.endpoints.database_conninfo, autocommit=True)
        self.run_record = self.runs.get(run_id)
        import_from(self.run_record.parameters.strategy_dir)  # wherever this engine started
        self.resume = resume
        self._signals = signals
        self._shared_monitor = monitor
        self.epoch = self.control.get(run_id).epoch + 1  # over Redis: allocated
        self._stop = asyncio.Event()
        self.interrupted = False
        # A resumed run: its last stored snapshot (the feed plays the market after it again,
        # and the cut the stages start from: what the run had done before it; live, all).
        self._resumed_from: datetime | None = None
        self._state_as_of: datetime | None = None
        self.metrics = EngineMetrics(run_id)
        self.notifier = Notifier(settings.notify)

    @property
    def runs(self) -> RunRepository:
        return RunRepository(self._db.get())

    @property
    def control(self) -> RunControl:
        return RunControl(self._db.get())

    def interrupt(self) -> None:
        """End the engine without ending the run (it resumes at the next start)."""
        self.interrupted = True
        self._stop.set()

    # -- the run -------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        """Run to the end, record it, write the report; never leave the run `running`."""
        run = self.run_record
        log.info("papertest %s starting (resume=%s)", run.run_id, self.resume)
        try:
            outcome = asyncio.run(self._run_async())
        except BaseException as exc:
            log.exception("papertest %s failed", run.run_id)
            # A known error is its own one line; anything else is named by its class.
            said = exc.message if isinstance(exc, ClaireError) else f"{type(exc).__name__}: {exc}"
            outcome = RunOutcome("failed", f"engine error: {said}", 0, utc_now())
            self.runs.finish(run.run_id, outcome.status, outcome.reason, outcome.ended_at)
            raise
        finally:
            self._db.close()
        return outcome

    async def _run_async(self) -> RunOutcome:
        loop = asyncio.get_running_loop()
        on_signal = self.interrupt if self._signals == "interrupt" else self._stop.set
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        if not uses_memory_bus(self.run_record):
            with redis.Redis.from_url(self.endpoints.redis_url) as client:
                self.epoch = allocate_epoch(
                    client, self.settings, self.run_record.run_id, self.epoch - 1
                )
        if self.resume:
            self._resumed_from = self._resume_point()
            if self.run_record.parameters.source != "mexc":
                self._state_as_of = self._resumed_from or START_OF_TIME
        self.control.start_engine(self.run_record.run_id, self.epoch, self.engine_name)
        watcher = asyncio.create_task(self._watch_stop_requests())
        try:
            if uses_memory_bus(self.run_record):
                result, halt = await self._run_in_memory()
            else:
                result, halt = await self._run_over_redis()
        finally:
            watcher.cancel()
        outcome = self._outcome(result, halt)
        self.control.add_engine_stats(
            self.run_record.run_id,
            self.metrics.stage_summary(),
            Decimal(str(round(peak_rss_mb(), 1))),
        )
        if self.interrupted:
            run_id = self.run_record.run_id
            log.info("papertest %s interrupted: it resumes at the next start", run_id)
            return RunOutcome("running", "interrupted", outcome.events, outcome.ended_at)
        self.runs.finish(
            self.run_record.run_id,
            outcome.status,
            outcome.reason,
            outcome.ended_at,
            event_span=outcome.event_span,
        )
        if not uses_memory_bus(self.run_record):
            self._drop_streams()
        self.notifier.send(
            f"claire papertest {self.run_record.run_id} {outcome.status}",
            f"{outcome.reason}; {outcome.events} market events. {self._summary_text()}",
        )
        log.info(
            "papertest %s ended: %s (%s)", self.run_record.run_id, outcome.status, outcome.reason
        )
        self._write_report()
        self.notifier.wait()
        return outcome

    def _drop_streams(self) -> None:
        """The run ended: its streams are never read again (its report reads the database)."""
        try:
            with redis.Redis.from_url(self.endpoints.redis_url) as client:
                clear_other_epochs(client, self.settings, self.run_record.run_id, keep=None)
        except redis.RedisError as exc:
            log.warning("could not delete the streams of the run: %s", exc)

    async def _watch_stop_requests(self) -> None:
        """Beat the run's heartbeat once a second; stop when `claire papertest stop` asked
        through the database (or the run was ended from elsewhere)."""
        run_id = self.run_record.run_id
        while not self._stop.is_set():
            await asyncio.sleep(HEARTBEAT_S)
            try:
                beat = await asyncio.to_thread(self.control.heartbeat, run_id, self.engine_name)
            except (psycopg.Error, ClaireError) as exc:
                log.warning("could not beat the run's heartbeat: %s", exc)
                continue
            if beat == "taken":  # another worker took it while this one's heartbeat stood
                log.warning("papertest %s: taken by another engine; leaving it", run_id)
                self.interrupt()
            elif beat == "stop":
                log.info("papertest %s: stop requested", run_id)
                self._stop.set()

    def _outcome(self, result: FeedResult, halt: str | None) -> RunOutcome:
        run = self.run_record
        span = (result.first_event_time, result.last_event_time)
        outcome = partial(RunOutcome, events=result.events, ended_at=utc_now(), event_span=span)
        if halt is not None:  # the strategy's exceptions, or the drawdown abort level
            return outcome("aborted", halt)
        if result.reason == "stopped":
            reason = self.control.get(run.run_id).stop_reason
            return outcome("stopped", reason or "stopped by the user")
        if result.reason == "planned_end":
            return outcome("completed", "planned end reached")
        return outcome("completed", "market data ran out")

    # -- in memory -----------------------------------------------------------------------

    async def _run_in_memory(self) -> tuple[FeedResult, str | None]:
        bus = InMemoryBus()
        with psycopg.connect(self.endpoints.database_conninfo) as conn:
            # Batches are committed by the writer's thread while the engine goes on.
            writer = BackgroundWriter(EventWriter(conn, self.endpoints.database_conninfo))
            try:
                pipeline = self._pipeline(bus, writer, persistence_buffer=2_000)
                for stage in pipeline.stages:
                    bus.subscribe(stage.name, stage.inputs, self.metrics.instrument(stage).handle)
                notifier = self._notifier_stage()
                bus.subscribe(notifier.name, notifier.inputs, notifier.handle)
                self._recover(bus)
                bus.drain()

                def after_publish() -> bool:
                    bus.drain()
                    return pipeline.halted

                result = await self._feed(bus, after_publish, backlog=None)
                self._close_out(bus, result, pipeline.halted)
                bus.drain()
                if pipeline.persistence is not None:
                    pipeline.persistence.flush()
                writer.close()  # every batch committed before the run is called finished
            finally:
                writer.abandon()
        return result, pipeline.halt_reason

    # -- over Redis ----------------------------------------------------------------------

    async def _run_over_redis(self) -> tuple[FeedResult, str | None]:
        run_id = self.run_record.run_id
        namespace = run_namespace(self.settings, run_id, self.epoch)
        bus = RedisStreamBus.from_url(
            self.endpoints.redis_url, namespace, maxlen=self.settings.redis.stream_maxlen
        )
        if self.resume:  # the streams of earlier epochs are never read again
            clear_other_epochs(bus.client, self.settings, run_id, keep=self.epoch)
        # Closed, never committed on exit: PostgreSQL may have restarted under them meanwhile
        # (the writers reconnect by themselves).
        with (
            closing(psycopg.connect(self.endpoints.database_conninfo)) as conn,
            closing(psycopg.connect(self.endpoints.database_conninfo)) as letters_conn,
        ):
            stopping = threading.Event()
            stages = self._local(bus, PatientPublisher(bus, stopping), conn)
            self._recover(bus)
            threads = ThreadedPipeline(stages.runners, stopping)
            recorder = DeadLetterRecorder(
                bus, EventWriter(letters_conn, self.endpoints.database_conninfo)
            )
            monitor = self._monitor(stages.health, bus)
            threads.start()
            letters = asyncio.get_running_loop().run_in_executor(
                None, self._record_letters, recorder
            )
            try:
                result = await self._feed(bus, stages.halted, backlog=stages.backlog)
                if not self.interrupted:  # an interrupted epoch is played again: no waiting
                    await self._settle(stages.settled)
                    self._close_out(bus, result, stages.halted())
                    await self._settle(stages.settled)
            finally:
                self._stop.set()
                threads.stop()
                await letters
                if monitor is not self._shared_monitor:
                    monitor.stop()
                    withdraw_target(self.settings.home, run_id)
            bus.client.close()
        return result, stages.halt_reason()

    def _local(
        self, bus: RedisStreamBus, out: PatientPublisher, conn: psycopg.Connection[Any]
    ) -> RunStages:
        writer = EventWriter(conn, self.endpoints.database_conninfo)
        pipeline = self._pipeline(out, writer, persistence_buffer=0)
        return local_stages(
            self.settings,
            self.run_record,
            bus,
            pipeline=pipeline,
            notifier=self._notifier_stage(),
            metrics=self.metrics,
        )

    def _notifier_stage(self) -> NotifierStage:
        return NotifierStage(
            self.notifier,
            lambda: (f"claire daily summary {self.run_record.run_id}", self._summary_text()),
            self.settings.notify.daily_summary_at,
        )

    def _summary_text(self) -> str:
        try:
            run = self.runs.get(self.run_record.run_id)
            s = summarize(self._db.get(), run, self.settings, run.status)
        except Exception:
            log.exception("could not summarise the run")
            return ""
        return (
            f"Equity {s.equity:,.2f} ({s.total_return * 100:+.2f} %), "
            f"max drawdown {s.max_drawdown * 100:.2f} %, {s.fills} fills, "
            f"{s.round_trips} round trips, {len(s.alerts)} alerts."
        )

    def _recover(self, bus: Any) -> None:
        """On resume: settle open orders and, for a live run, record the downtime."""
        if not self.resume:
            return
        run, now = self.run_record, utc_now()
        live = run.parameters.source == "mexc"
        events = open_order_events(
            self._db.get(), run.run_id, now, live=live, before=self._state_as_of
        )
        point = self._resumed_from
        if live and point is not None:
            events += downtime_gaps(run.run_id, run.parameters.symbols, point, now)
        if events:
            log.info("resume: %d recovery events (open orders, downtime)", len(events))
            bus.publish_many(events)

    def _record_letters(self, recorder: DeadLetterRecorder) -> None:
        while not self._stop.is_set():
            try:
                recorder.poll(block_ms=200)
            except Exception:
                log.exception("dead-letter recorder failed; retrying")
                time.sleep(1)

    def _monitor(self, health: HealthMonitor, bus: RedisStreamBus) -> MonitorServer:
        self.metrics.watch_health(health.report)
        self.metrics.watch_backups(
            self.settings.backup_dir, backup_time_reader(bus.client, self.settings.redis.namespace)
        )
        if self._shared_monitor is not None:
            self._shared_monitor.serve(self.metrics.registry, health.report)
            return self._shared_monitor
        # The configured port, or a free one when it is taken: recorded where it really is.
        server = bind_monitor(
            self.metrics.registry,
            health.report,
            self.settings.monitor.host,
            self.settings.monitor.port,
        )
        server.start()
        self.control.set_monitor_url(self.run_record.run_id, server.url)
        publish_target(self.settings.home, self.run_record.run_id, server.address)
        log.info("/health and /metrics on %s", server.url)
        return server

    async def _settle(self, done: Callable[[], bool]) -> None:
        """Wait until every stage has read and acknowledged everything published."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if done():
                    return
            except (redis.RedisError, ClaireError) as exc:  # Redis restarting: ask again
                log.warning("cannot tell whether the stages caught up: %s", exc)
            await asyncio.sleep(0.05)
        log.warning("stages did not catch up within %.0f s", SETTLE_TIMEOUT_S)

    # -- shared --------------------------------------------------------------------------

    def _pipeline(self, bus: Any, writer: EventSink, persistence_buffer: int) -> Pipeline:
        # Read with the autocommit connection: a read on the writer's connection would leave a
        # transaction open, and every batch written after it would stay uncommitted.
        state = (
            load_run_state(self._db.get(), self.run_record.run_id, before=self._state_as_of)
            if self.resume
            else None
        )
        return run_pipeline(
            self.settings,
            self.run_record,
            bus,
            writer=writer,
            state=state,
            metrics=self.metrics,
            persistence_buffer=persistence_buffer,
        )

    async def _feed(self, bus: Any, after_publish: Any, backlog: Any) -> FeedResult:
        run = self.run_record
        live = run.parameters.source == "mexc"
        # Live data arrives in real time by itself: pacing it would hold back the history.
        speed = None if live else parse_speed(run.parameters.speed)
        duration = parse_duration(run.parameters.duration)
        replayed = run.parameters.source.startswith("replay:")
        options = FeedOptions(
            speed=speed,
            until=None if replayed else run.started_at + duration,
            span=duration if replayed else None,
            after=self._resumed_from,
            # In memory: one event-time instant at a time (replays identical to the paced ones
            # over Redis). Live: each event as it comes. Paced replays over Redis: batches.
            batch_size=1 if live else 200,
            by_instant=isinstance(bus, InMemoryBus),
            max_backlog=self.settings.monitor.max_consumer_lag // 2,
            run_id=run.run_id,
            # Live data arrives slightly out of event-time order; release it in replay order.
            reorder_s=LIVE_REORDER_S if run.parameters.source == "mexc" else 0.0,
        )
        recorder = None
        if run.parameters.record:
            recorder = MarketRecorder(self.settings.data_dir / "recordings" / run.run_id)
        source = self._source()
        feed = MarketFeed(
            source,
            bus,
            options,
            recorder=recorder,
            backlog=backlog,
            after_publish=after_publish,
            # recorded as it starts: a report of the running run (or of a backup) covers
            # the same event time as the finished run's
            on_start=lambda at: self.runs.set_event_start(run.run_id, at),
        )
        try:
            return await feed.run(self._stop)
        finally:
            await source.close()
            if recorder is not None:
                recorder.close()

    def _source(self) -> MarketSource:
        run = self.run_record
        spec = run.parameters.source
        # The strategy's warm-up: history it is fed before the run trades.
        warmup = run.parameters.market_warmup(
            strategy_warmup(
                run.parameters.strategy, self.settings.strategy, run.parameters.strategy_params
            )
        )
        if spec == "synthetic":
            start = run.started_at.replace(second=0, microsecond=0)
            minutes = int(parse_duration(run.parameters.duration) / MINUTE) + 2
            return SyntheticSource(
                run.parameters.symbols, start, minutes, seed=run.parameters.seed, warmup=warmup
            )
        if spec.startswith("replay:"):
            # Only the run's symbols: the file's own when none were asked for (the preflight)
            return ReplaySource(
                Path(spec.removeprefix("replay:")),
                run.parameters.symbols,
                name=run.data_source,
                warmup=warmup,
            )
        if shares_the_feed(self.settings):
            from engine.marketdata.live import DEFAULT_HISTORY

            return SharedFeedSource(
                run.parameters.symbols,
                self.endpoints.redis_url,
                self.settings.redis.namespace,
                run_id=run.run_id,
                started=run.started_at,
                warmup=max(warmup, DEFAULT_HISTORY),
                resumed_from=self._resumed_from,
            )
        from engine.marketdata.live_factory import live_source  # network clients: only here

        return live_source(self.settings, run.parameters.symbols, warmup=warmup)

    def _resume_point(self) -> datetime | None:
        row = (
            self._db.get()
            .execute(
                'SELECT MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %s',
                (self.run_record.run_id,),
            )
            .fetchone()
        )
        return row[0] if row else None

    def _close_out(self, bus: Publisher, result: FeedResult, halted: bool) -> None:
        """Tell the stages the feed ended; the portfolio answers with the final snapshot."""
        ended = result.last_event_time or utc_now()
        reason: FeedEndReason = "halted" if halted else result.reason
        bus.publish(
            FeedEnded(
                event_id=bounded_id(f"feed-end-{self.run_record.run_id}-{self.epoch}"),
                ts_event=ended,
                source=FEED_SOURCE,
                run_id=self.run_record.run_id,
                reason=reason,
            )
        )

    def _write_report(self) -> None:
        try:
            from engine.reports import write_report

            written = write_report(self.settings, self.run_record.run_id)
            log.info("report written: %s", ", ".join(str(p) for p in written.paths))
        except Exception:
            log.exception("could not write the report of %s", self.run_record.run_id)
