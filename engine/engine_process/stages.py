"""A run's stages over Redis, as its feed sees them: every stage in the engine's own
process, one thread each (`local_stages`), with the handles the feed and the run's control
need (halted, backlog, settled, a health monitor)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.bus.base import Publisher, Stage
from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus
from engine.durations import parse_speed
from engine.observability.health import HealthMonitor, Probe
from engine.observability.metrics import EngineMetrics
from engine.observability.probes import postgres_probe, redis_probe
from engine.runs.registry import Run
from engine.runtime.select import endpoints
from engine.services.persistence import EventSink
from engine.services.pipeline import Pipeline, build_pipeline
from engine.services.redis_runner import (
    EVENT_TIME,
    Clock,
    StageRunner,
    behind,
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
        strategy=run.parameters.strategy,
        strategy_params=run.parameters.strategy_params,
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
    """The run's stage threads, and how the feed and the run's control ask about them."""

    runners: list[StageRunner]
    halted: Callable[[], bool]
    halt_reason: Callable[[], str | None]
    backlog: Callable[[], int]
    settled: Callable[[], bool]
    health: HealthMonitor


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
        halt_reason=lambda: pipeline.halt_reason,
        backlog=lambda: _backlog(bus, runners),
        settled=lambda: not behind(runners),
        health=health,
    )


def _backlog(bus: RedisStreamBus, runners: list[StageRunner]) -> int:
    lags = [
        bus.group_lag(Stream.MARKET_DATA, runner.stage.name)
        for runner in runners
        if Stream.MARKET_DATA in runner.stage.inputs
    ]
    return max((lag or 0 for lag in lags), default=0)
