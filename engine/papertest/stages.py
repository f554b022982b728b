"""A run's stages as its feed sees them: built in this process or running elsewhere.

`local_stages`: every stage in the engine's own process, one thread each over Redis.
`remote_stages`: the stages run in processes of their own (`stage_worker`); here only the
notifier and a watch for risk's halt, and the feed asks Redis how far behind they are.
Either way the feed gets the same handles: halted, backlog, settled, decided, and a health
monitor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.bus.base import Publisher
from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus
from engine.events import Event
from engine.observability.health import HealthMonitor, Probe
from engine.observability.metrics import EngineMetrics
from engine.observability.probes import postgres_probe, redis_probe
from engine.papertest.durations import parse_speed
from engine.papertest.epochs import market_lags, settled
from engine.papertest.runs import Run
from engine.runtime.select import endpoints
from engine.services.base import Stage
from engine.services.halt_watch import HaltWatch
from engine.services.persistence import EventSink
from engine.services.pipeline import STAGE_NAMES, STORING_STAGES, Pipeline, build_pipeline
from engine.services.redis_runner import (
    EVENT_TIME,
    Clock,
    StageRunner,
    runners_health,
    wall_clock,
)
from engine.settings import Settings
from engine.storage.run_state import RunState
from engine.streams import Stream


def uses_memory_bus(run: Run) -> bool:
    """`--speed max` on recorded or synthetic data runs in memory; the rest over Redis."""
    return parse_speed(run.parameters.speed) is None and run.parameters.source != "mexc"


def run_pipeline(
    settings: Settings,
    run: Run,
    bus: Publisher,
    *,
    writer: EventSink | None,
    state: RunState | None,
    metrics: EngineMetrics,
    persistence_buffer: int = 0,
) -> Pipeline:
    """The stages of `run` (persistence only with a `writer`), from `state` when resumed."""
    return build_pipeline(
        settings,
        bus,
        run_id=run.run_id,
        capital=run.initial_capital,
        symbols=run.parameters.symbols,
        writer=writer,
        persistence_buffer=persistence_buffer,
        state=state,
        metrics=metrics,
    )


def stage_runner(
    settings: Settings, run: Run, stage: Stage, bus: RedisStreamBus, metrics: EngineMetrics
) -> StageRunner:
    """A stage of `run` over Redis. Live data ticks with the wall clock; recorded and
    synthetic data with its own time."""
    options = ConsumerOptions(
        batch_size=200,
        block_ms=100,
        claim_idle_ms=settings.redis.claim_idle_ms,
        max_deliveries=settings.redis.max_deliveries,
        claim_at_start=True,  # each stage of a run has one consumer
    )
    clock: Clock | str = wall_clock if run.parameters.source == "mexc" else EVENT_TIME
    return StageRunner(stage, bus, options=options, metrics=metrics, clock=clock, run_id=run.run_id)


@dataclass(frozen=True)
class RunStages:
    """The run's stages as the feed sees them: what runs here, and how to ask the rest."""

    runners: list[StageRunner]
    halted: Callable[[], bool]
    backlog: Callable[[], int]
    settled: Callable[[], bool]
    #: Like `settled`, but for the stages whose output decides the run's course (persistence
    #: only stores it): what a lockstep feed waits for.
    decided: Callable[[], bool]
    health: HealthMonitor


class StampedPublisher:
    """The feed's publisher: remembers when it last published (its health's input)."""

    def __init__(self, bus: RedisStreamBus) -> None:
        self._bus = bus
        self.last_publish_at: float | None = None

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        self.last_publish_at = time.monotonic()
        return self._bus.publish(event, stream)

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        self.last_publish_at = time.monotonic()
        return self._bus.publish_many(events, stream)


def probes(settings: Settings, bus: RedisStreamBus) -> dict[str, Probe]:
    """Does Redis answer, does PostgreSQL answer."""
    return {
        "redis": redis_probe(bus.client),
        "postgres": postgres_probe(endpoints(settings).database_conninfo),
    }


def local_stages(
    settings: Settings,
    run: Run,
    bus: RedisStreamBus,
    *,
    pipeline: Pipeline,
    notifier: Stage,
    metrics: EngineMetrics,
) -> RunStages:
    """Every stage of `pipeline` (and the notifier) in this process, one thread each."""
    runners = [stage_runner(settings, run, s, bus, metrics) for s in [*pipeline.stages, notifier]]
    health = runners_health(
        "papertest",
        runners,
        stale_after_s=settings.market.stale_after_seconds,
        max_lag=settings.monitor.max_consumer_lag,
        probes=probes(settings, bus),
    )
    return RunStages(
        runners,
        halted=lambda: pipeline.halted,
        backlog=lambda: _backlog(bus, runners),
        settled=lambda: _settled(runners),
        decided=lambda: _settled([r for r in runners if r.stage.name not in STORING_STAGES]),
        health=health,
    )


def remote_stages(
    settings: Settings,
    run: Run,
    bus: RedisStreamBus,
    *,
    stamped: StampedPublisher,
    notifier: Stage,
    metrics: EngineMetrics,
    halted_before: bool,
) -> RunStages:
    """The stages run elsewhere: here the notifier, and a watch for risk's halt."""
    watch = HaltWatch(halted=halted_before)
    runners = [stage_runner(settings, run, stage, bus, metrics) for stage in (notifier, watch)]
    health = HealthMonitor(
        "papertest",
        settings.market.stale_after_seconds,
        settings.monitor.max_consumer_lag,
        lambda: stamped.last_publish_at,
        lag=lambda: market_lags(bus),
        probes=probes(settings, bus),
    )
    return RunStages(
        runners,
        halted=lambda: watch.halted,
        backlog=lambda: max((lag or 0 for lag in market_lags(bus).values()), default=0),
        settled=lambda: settled(bus, STAGE_NAMES),
        decided=lambda: settled(bus, STAGE_NAMES, skip=STORING_STAGES),
        health=health,
    )


def _backlog(bus: RedisStreamBus, runners: list[StageRunner]) -> int:
    lags = [
        bus.group_lag(Stream.MARKET_DATA, runner.stage.name)
        for runner in runners
        if Stream.MARKET_DATA in runner.stage.inputs
    ]
    return max((lag or 0 for lag in lags), default=0)


def _settled(runners: list[StageRunner]) -> bool:
    return not any(n for runner in runners for n in runner.waiting().values())
