"""`claire strategy check`: a strategy through the in-memory pipeline at full speed.

It loads the strategy with its parameters (a wrong one is the same one line as at a start),
plays a synthetic market or a recording through every stage but persistence (nothing is
stored, no server is needed), and returns what happened: its signals, the orders risk made
of them, the fills, the round trips, and every exception the strategy raised with its file
and line (the run would have gone on; `halted` says whether it would have been stopped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.bus.memory import InMemoryBus
from engine.domain.market import MarketData
from engine.events import AlertRaised, Event, OrderResultReported, OrderSubmitted, SignalGenerated
from engine.marketdata.source import ReplaySource, SyntheticSource
from engine.reports.metrics import FillRow, RoundTrip, round_trips
from engine.services.pipeline import build_pipeline, run_in_memory
from engine.services.signal import ERROR_CODE
from engine.settings import Settings
from engine.strategy.base import warmup_of
from engine.streams import Stream

#: Where a synthetic check's market starts (event time; any fixed instant would do).
SYNTHETIC_START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass
class CheckResult:
    """What a strategy did over the checked market."""

    strategy: str
    market_events: int
    signals: list[SignalGenerated] = field(default_factory=list)
    orders: list[OrderSubmitted] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    round_trips: list[RoundTrip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    halted: str | None = None

    @property
    def ok(self) -> bool:
        """True when the strategy raised nothing."""
        return not self.errors


def check_strategy(
    settings: Settings,
    strategy: str,
    params: Mapping[str, Any],
    *,
    symbols: Sequence[str],
    days: int = 1,
    replay: Path | None = None,
    seed: int = 42,
) -> CheckResult:
    """Play `days` of a synthetic market of `symbols` (or the recording at `replay`)
    through the strategy and the paper pipeline; return what it did."""
    bus = InMemoryBus()
    seen: list[Event] = []
    bus.subscribe(
        "check", (Stream.SIGNALS, Stream.ORDERS, Stream.ORDER_RESULTS, Stream.ALERTS), seen.extend
    )
    pipeline = build_pipeline(
        settings,
        bus,
        run_id="strategy-check",
        symbols=symbols,
        strategy=strategy,
        strategy_params=dict(params),
    )
    warmup = warmup_of(pipeline.signal.strategy)
    summary = run_in_memory(pipeline, bus, _market(symbols, days, replay, seed, warmup))
    fills = [
        _fill_row(e, e.execution_price)
        for e in seen
        if isinstance(e, OrderResultReported) and e.is_fill and e.execution_price is not None
    ]
    trips, _ = round_trips(fills)
    return CheckResult(
        strategy=strategy,
        market_events=summary.market_events,
        signals=[e for e in seen if isinstance(e, SignalGenerated)],
        orders=[e for e in seen if isinstance(e, OrderSubmitted)],
        fills=fills,
        round_trips=trips,
        errors=[e.message for e in seen if isinstance(e, AlertRaised) and e.code == ERROR_CODE],
        halted=pipeline.signal.halt_reason,
    )


def _market(
    symbols: Sequence[str], days: int, replay: Path | None, seed: int, warmup: timedelta
) -> Iterable[MarketData]:
    """The market a run of the strategy would see: its warm-up first, as history."""
    if replay is not None:
        return ReplaySource(replay, symbols or None, warmup=warmup).events()
    return SyntheticSource(
        tuple(symbols), SYNTHETIC_START, days * 1440, seed=seed, warmup=warmup
    ).events()


def _fill_row(result: OrderResultReported, price: Decimal) -> FillRow:
    return FillRow(
        ts=result.ts_event,
        symbol=result.symbol,
        side=str(result.side),
        quantity=result.filled_quantity,
        price=price,
        fee=result.fee,
        slippage_bps=result.slippage_bps,
        order_id=result.order_id,
        reference_price=result.reference_price,
        trade_id=result.trade_id or "",
    )
