"""Build the pipeline's stages from settings, and run them on the in-memory bus.

    market data -> signal -> risk -> execution (paper) -> portfolio -> persistence

Every stage keeps its own view of the market (in the Redis runtime each may be its own
process); they all run the same domain code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from engine.bus.base import Publisher, Stage
from engine.bus.memory import InMemoryBus, instants
from engine.domain.execution import PaperExecution
from engine.domain.fill_limits import FillLimits
from engine.domain.market import MarketData, MarketState
from engine.domain.portfolio import Portfolio
from engine.domain.risk import RiskEngine
from engine.events import FeedEnded
from engine.events.envelope import bounded_id
from engine.events.market_data import FEED_SOURCE, FeedEndReason
from engine.observability.metrics import EngineMetrics
from engine.services.base import RestoredRun
from engine.services.execution import ExecutionStage
from engine.services.persistence import EventSink, PersistenceStage
from engine.services.portfolio import PortfolioStage
from engine.services.risk import RiskStage
from engine.services.signal import SignalStage
from engine.settings import Settings
from engine.storage.run_state import RunState
from engine.strategy import load_strategy
from engine.streams import Stream

#: Each stage's input streams, in pipeline order; a stage is a consumer group of its name.
STAGE_INPUTS: dict[str, tuple[Stream, ...]] = {
    stage.name: stage.inputs
    for stage in (SignalStage, RiskStage, ExecutionStage, PortfolioStage, PersistenceStage)
}
STAGE_NAMES: tuple[str, ...] = tuple(STAGE_INPUTS)
#: Stages that hold no memory and decide nothing: they store what the others decide.
STORING_STAGES = frozenset({"persistence"})


@dataclass
class Pipeline:
    """The stages of one run, with handles on the ones a runner watches."""

    signal: SignalStage
    risk: RiskStage
    execution: ExecutionStage
    portfolio: PortfolioStage
    persistence: PersistenceStage | None
    run_id: str | None = None

    @property
    def stages(self) -> list[Stage]:
        stages: list[Stage] = [self.signal, self.risk, self.execution, self.portfolio]
        if self.persistence is not None:
            stages.append(self.persistence)
        return stages

    @property
    def halt_reason(self) -> str | None:
        """Why the run stops early: the strategy halted (exceptions in a row), or risk did
        (drawdown beyond the abort level); None while neither did."""
        if self.signal.halt_reason is not None:
            return self.signal.halt_reason
        return "drawdown beyond the abort level" if self.risk.engine.halted else None

    @property
    def halted(self) -> bool:
        """True once the run stops early (see `halt_reason`)."""
        return self.halt_reason is not None


def build_pipeline(
    settings: Settings,
    publisher: Publisher,
    *,
    run_id: str,
    capital: Decimal | None = None,
    symbols: Iterable[str] | None = None,
    writer: EventSink | None = None,
    persistence_buffer: int = 0,
    state: RunState | None = None,
    metrics: EngineMetrics | None = None,
    strategy: str | None = None,
    strategy_params: Mapping[str, str] | None = None,
) -> Pipeline:
    """Assemble every stage of a run; `writer` None leaves persistence out. `strategy` is
    the run's (a name or dotted path; None: the configured `papertest.strategy`), built with
    `strategy_params`.

    With `state` (read by `load_run_state`), a restarted run continues with its positions,
    cash, drawdown high-water marks and halt intact: its stages take the stored fills back in
    event time, as the feed plays the run's market data again (`RestoredRun`). With
    `metrics`, what each stage publishes is counted and observed.
    """

    def out(stage: str) -> Publisher:
        return metrics.publisher(stage, publisher) if metrics else publisher

    capital = capital if capital is not None else settings.papertest.capital
    symbols = list(symbols) if symbols is not None else list(settings.papertest.symbols)
    quote = settings.papertest.quote_currency
    stale_after = timedelta(seconds=settings.market.stale_after_seconds)
    rules = load_strategy(
        strategy or settings.papertest.strategy, settings.strategy, strategy_params
    )
    restored = state or RunState()
    execution_market = MarketState()
    limits = FillLimits(settings.risk, execution_market, capital)
    risk_engine = RiskEngine(settings.risk, stale_after, run_id=run_id, state=restored.risk_state())
    signal = SignalStage(
        rules,
        out("signal"),
        run_id,
        error_limit=settings.papertest.strategy_error_limit,
        capital=capital,
        quote_currency=quote,
    )
    signal.restore(restored.fills)

    def again() -> RestoredRun:
        return RestoredRun(
            restored.fills, peak_equity=restored.peak_equity, max_drawdown=restored.max_drawdown
        )

    return Pipeline(
        signal=signal,
        risk=RiskStage(
            risk_engine,
            _portfolio(capital, quote, restored),
            MarketState(),
            out("risk"),
            symbols,
            restored=again(),
            open_orders=restored.open_orders,
        ),
        execution=ExecutionStage(
            PaperExecution(
                settings.execution, execution_market, quote_currency=quote, limits=limits
            ),
            execution_market,
            out("execution"),
            limits=limits,
            restored=again(),
        ),
        portfolio=PortfolioStage(
            _portfolio(capital, quote, restored),
            MarketState(),
            out("portfolio"),
            run_id,
            snapshot_every=timedelta(seconds=settings.papertest.snapshot_seconds),
            last_sequence=restored.snapshot_sequence,
            restored=again(),
        ),
        persistence=(
            PersistenceStage(
                writer,
                buffer_size=persistence_buffer,
                store_ticks=settings.market.record_ticks,
            )
            if writer is not None
            else None
        ),
        run_id=run_id,
    )


def _portfolio(capital: Decimal, quote: str, state: RunState) -> Portfolio:
    """The portfolio a resumed run's stage starts from: its latest marks, none of its fills
    nor high-water marks yet (the stage takes them back in event time: `RestoredRun`)."""
    return Portfolio.replay(capital, (), state.marks, quote_currency=quote)


@dataclass(frozen=True)
class ReplaySummary:
    """What a run over recorded or synthetic data did."""

    market_events: int
    halted: bool


def run_in_memory(
    pipeline: Pipeline, bus: InMemoryBus, market: Iterable[MarketData], *, end_feed: bool = True
) -> ReplaySummary:
    """Feed market events one at a time through every stage until done or halted, then end
    the feed as a run does (the final snapshot); `end_feed=False` stops as a crash would."""
    for stage in pipeline.stages:
        bus.subscribe(stage.name, stage.inputs, stage.handle)
    count = 0
    last: datetime | None = None
    for group in instants(market):  # as the engine's feed in memory: an instant at a time
        bus.publish_many(group)
        bus.drain()
        count += len(group)
        last = group[-1].ts_event
        if pipeline.halted:
            break
    if end_feed and last is not None:
        reason: FeedEndReason = "halted" if pipeline.halted else "exhausted"
        bus.publish(
            FeedEnded(
                event_id=bounded_id(f"feed-end-{pipeline.run_id}"),
                ts_event=last,
                source=FEED_SOURCE,
                run_id=pipeline.run_id,
                reason=reason,
            )
        )
        bus.drain()
    if pipeline.persistence is not None:
        pipeline.persistence.flush()
    return ReplaySummary(market_events=count, halted=pipeline.halted)
