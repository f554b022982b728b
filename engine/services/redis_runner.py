"""Run stages over Redis Streams: each stage one consumer group, one supervised thread.

The same stages as the in-memory runner. A stage whose loop crashes is logged and started
again; its unacknowledged messages are still pending and are processed on restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from engine.bus.base import DeadLetter, Stage
from engine.bus.redis_streams import (
    ConsumerOptions,
    RedisStreamBus,
    StreamConsumer,
    default_consumer_name,
)
from engine.errors import StorageUnavailableError, TransientError
from engine.events import AlertLevel, AlertRaised, Event
from engine.events.envelope import bounded_id
from engine.observability.health import HealthMonitor, Probe
from engine.observability.metrics import EngineMetrics, InstrumentedStage
from engine.streams import Stream

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


#: Tick a stage with the event time it has seen, not the wall clock: for replays and
#: recorded data, where "now" is the market's time (a wall-clock tick would find every
#: historical price stale and open the circuit breaker).
EVENT_TIME = "event time"
#: The alert code of a stage that cannot reach PostgreSQL.
OUTAGE_CODE = "storage_unavailable"


class StageRunner:
    """Poll one stage's streams until stopped; tick it every `tick_every_s`; never die."""

    def __init__(
        self,
        stage: Stage,
        bus: RedisStreamBus,
        *,
        options: ConsumerOptions | None = None,
        clock: Clock | str = wall_clock,
        tick_every_s: float = 1.0,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        metrics: EngineMetrics | None = None,
        run_id: str | None = None,
    ) -> None:
        self.stage: Stage = metrics.instrument(stage) if metrics else stage
        self._bus = bus
        self._run_id = run_id
        self._outage: tuple[str, datetime] | None = None  # (code, since) while one lasts
        self._clock = clock
        self._newest: datetime | None = None
        self._tick_every = tick_every_s
        self._metrics = metrics
        self._on_dead_letter = on_dead_letter
        self.consumer = StreamConsumer(
            bus,
            stage.inputs,
            stage.name,
            self._handle,
            consumer=f"{stage.name}-{default_consumer_name()}",
            options=options,
            on_dead_letter=self._dead_lettered,
        )
        self.restarts = 0
        self.lag: dict[Stream, int | None] = {}

    @property
    def last_input_at(self) -> float | None:
        """Monotonic time of the newest batch handled (None before the first, or unmeasured)."""
        return self.stage.last_input_at if isinstance(self.stage, InstrumentedStage) else None

    def refresh_lag(self) -> None:
        """Ask Redis how far behind this stage's group is, and export it."""
        self.lag = self.consumer.lag()
        if self._metrics is not None:
            for stream, lag in self.lag.items():
                if lag is not None:
                    self._metrics.consumer_lag.labels(self.stage.name, str(stream)).set(lag)

    def waiting(self) -> dict[Stream, int]:
        """Per input stream published to: how many of its messages this stage has not yet
        acknowledged (pending, or not read yet). A stream whose group this stage has not
        created yet counts whole: the stage has read none of it (yet it will, from the
        start), so a pipeline is never taken for settled before its stages began."""
        counts = {s: self._bus.unacknowledged(s, self.stage.name) for s in self.stage.inputs}
        return {stream: n for stream, n in counts.items() if n is not None}

    def _handle(self, events: Sequence[Event]) -> None:
        self.stage.handle(events)
        newest = max((e.ts_event for e in events), default=None)
        if newest is not None and (self._newest is None or newest > self._newest):
            self._newest = newest

    def _now(self) -> datetime | None:
        if self._clock == EVENT_TIME:
            return self._newest
        assert callable(self._clock)
        return self._clock()

    def _refresh_lag_quietly(self) -> None:
        try:
            self.refresh_lag()
        except self.consumer.options.transient as exc:
            log.debug("stage %s could not read its lag: %s", self.stage.name, exc)

    def _dead_lettered(self, letter: DeadLetter) -> None:
        if self._metrics is not None:
            self._metrics.dead_letters.labels(self.stage.name).inc()
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)

    def run(self, stop: threading.Event) -> None:
        """Supervise the loop: a crash is logged, and the loop starts again after a pause."""
        while not stop.is_set():
            try:
                self._loop(stop)
            except Exception:
                self.restarts += 1
                if self._metrics is not None:
                    self._metrics.stage_restarts.labels(self.stage.name).inc()
                log.exception("stage %s crashed; restarting (%d)", self.stage.name, self.restarts)
                stop.wait(min(5.0, 0.1 * 2 ** min(self.restarts, 6)))

    def _loop(self, stop: threading.Event) -> None:
        next_tick = time.monotonic() + self._tick_every
        backoff = 0.1
        while not stop.is_set():
            try:
                self.consumer.poll()
                backoff = 0.1
            except self.consumer.options.transient as exc:
                log.warning("stage %s waiting %.1f s: %s", self.stage.name, backoff, exc)
                self._outage_began(exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._outage_ended()
            if time.monotonic() >= next_tick:
                now = self._now()
                if now is not None:
                    self.stage.on_tick(now)
                self._refresh_lag_quietly()
                next_tick = time.monotonic() + self._tick_every

    def _outage_began(self, exc: BaseException) -> None:
        """Raise one critical alert when PostgreSQL stops answering (Redis being down, there
        is nowhere to publish it: its health check and the log say so instead)."""
        if self._outage is not None or not isinstance(exc, StorageUnavailableError):
            return
        since = self._now() or wall_clock()
        self._outage = (OUTAGE_CODE, since)
        message = f"stage {self.stage.name} cannot write: {exc.message}"
        self._publish_outage(since, message, cleared=False)

    def _outage_ended(self) -> None:
        if self._outage is None:
            return
        _, since = self._outage
        self._outage = None
        self._publish_outage(since, f"stage {self.stage.name} writes again", cleared=True)

    def _publish_outage(self, since: datetime, message: str, *, cleared: bool) -> None:
        stamp = f"{since:%Y%m%dT%H%M%S%f}"
        suffix = "cleared" if cleared else "raised"
        alert = AlertRaised(
            event_id=bounded_id(
                f"alert-{self._run_id}-{self.stage.name}-{OUTAGE_CODE}-{stamp}-{suffix}"
            ),
            ts_event=self._now() or wall_clock(),
            source=f"engine.{self.stage.name}",
            run_id=self._run_id,
            level=AlertLevel.INFO if cleared else AlertLevel.CRITICAL,
            code=OUTAGE_CODE,
            message=message[:2000],
            cleared=cleared,
        )
        try:
            self._bus.publish(alert)
        except TransientError as exc:
            log.warning("could not publish the %s alert: %s", OUTAGE_CODE, exc)


class ThreadedPipeline:
    """All stages in one process, one thread each, over Redis Streams."""

    def __init__(self, runners: Sequence[StageRunner], stop: threading.Event | None = None) -> None:
        """`stop`: the event `stop()` sets (shared with what the stages publish through)."""
        self.runners = list(runners)
        self._stop = stop or threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for runner in self.runners:
            thread = threading.Thread(
                target=runner.run,
                args=(self._stop,),
                name=f"stage-{runner.stage.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)


def runners_health(
    component: str,
    runners: Sequence[StageRunner],
    *,
    stale_after_s: float,
    max_lag: int,
    probes: Mapping[str, Probe] | None = None,
) -> HealthMonitor:
    """Judge a process running `runners`: newest input across them, every group's lag."""

    def last_input() -> float | None:
        times = [r.last_input_at for r in runners if r.last_input_at is not None]
        return max(times, default=None)

    def lag() -> dict[str, int | None]:
        return {f"{r.stage.name}:{stream}": n for r in runners for stream, n in r.lag.items()}

    return HealthMonitor(
        component, stale_after_s, max_lag, last_input, lag=lag, probes=dict(probes or {})
    )


def behind(runners: Iterable[StageRunner]) -> list[str]:
    """What is not acknowledged yet, one line per stage and stream ([]: everything is)."""
    return [
        f"{runner.stage.name} has {waiting} waiting on {stream}"
        for runner in runners
        for stream, waiting in runner.waiting().items()
        if waiting
    ]
