"""A resumed run rebuilt from what it had done before its resume point, with its market
data played again as history, decides afterwards exactly what the run would have decided
without the restart: the same signals, fills and snapshots, to the last digit."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.bus.memory import InMemoryBus, drain_all
from engine.domain.fills import Fill
from engine.events import (
    AlertRaised,
    Candle,
    Event,
    OrderResultReported,
    OrderSubmitted,
    PortfolioSnapshotTaken,
)
from engine.events.market_data import as_warmup
from engine.marketdata.synthetic import synthetic_candles
from engine.services.base import RECOVERY_SOURCE
from engine.services.pipeline import build_pipeline
from engine.settings import Settings
from engine.storage.run_state import OpenOrder, RunState
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
MINUTES = 2000
#: Tight drawdown limits, so the run raises (and clears) alerts and latches its daily limit.
SETTINGS = Settings(risk={"alert_drawdown": "0.0005", "max_daily_drawdown": "0.001"})


@dataclass(frozen=True)
class Played:
    """What a pipeline published."""

    signals: list[Event]
    orders: list[OrderSubmitted]
    fills: list[OrderResultReported]
    snapshots: list[PortfolioSnapshotTaken]
    alerts: list[Event]
    results: list[OrderResultReported]


def run(
    events: Sequence[Event], state: RunState | None = None, strategy: str = "momentum"
) -> Played:
    """Play `events` through a whole in-memory pipeline; return what it published
    (`strategy` may carry parameters: `path?key=value&...`)."""
    bus = InMemoryBus()
    path, _, query = strategy.partition("?")
    params = dict(pair.split("=") for pair in query.split("&")) if query else {}
    settings = SETTINGS if path == "momentum" else Settings()  # the examples': default limits
    pipeline = build_pipeline(
        settings, bus, run_id="run-r", symbols=SYMBOLS, state=state, strategy=path,
        strategy_params=params,
    )  # fmt: skip
    for stage in pipeline.stages:
        bus.subscribe(stage.name, stage.inputs, stage.handle)
    out: dict[Stream, list[Event]] = {}
    streams = (Stream.SIGNALS, Stream.ORDERS, Stream.ORDER_RESULTS, Stream.PORTFOLIO_SNAPSHOTS)
    for stream in (*streams, Stream.ALERTS):
        bus.subscribe(f"test-{stream}", [stream], out.setdefault(stream, []).extend)
    drain_all(bus, events)
    return Played(
        signals=out[Stream.SIGNALS],
        orders=[e for e in out[Stream.ORDERS] if isinstance(e, OrderSubmitted)],
        fills=[
            e for e in out[Stream.ORDER_RESULTS] if isinstance(e, OrderResultReported) and e.is_fill
        ],
        snapshots=[
            e for e in out[Stream.PORTFOLIO_SNAPSHOTS] if isinstance(e, PortfolioSnapshotTaken)
        ],
        alerts=out[Stream.ALERTS],
        results=[e for e in out[Stream.ORDER_RESULTS] if isinstance(e, OrderResultReported)],
    )


@functools.cache
def market() -> tuple[Candle, ...]:
    return tuple(synthetic_candles(SYMBOLS, START, MINUTES, seed=11))


@functools.cache
def clean(strategy: str = "momentum") -> Played:
    return run(market(), strategy=strategy)


def resume_at(after: datetime, strategy: str = "momentum") -> Played:
    """Resume the run at `after` as the engine does: the stages start from what it had done
    before then, recovery submits the orders open then again (with what of each had filled)
    before the feed plays anything, and the feed plays the market before `after` as history."""
    done = clean(strategy)
    before = [f for f in done.fills if f.ts_event < after]
    results = [r for r in done.results if r.ts_event < after]
    ended = {r.order_id for r in results if r.status.is_terminal}
    still_open = [o for o in done.orders if o.ts_event < after and o.order_id not in ended]
    snapshots = [s for s in done.snapshots if s.ts_event < after]
    resubmitted, open_orders = [], []
    for order in still_open:
        its = [r for r in results if r.order_id == order.order_id]
        filled = sum((r.filled_quantity for r in its), Decimal(0))
        resubmitted.append(
            order.model_copy(
                update={
                    "event_id": f"{order.event_id}-resubmitted",
                    "source": RECOVERY_SOURCE,
                    "filled_quantity": filled,
                    "prior_fills": sum(1 for r in its if r.is_fill),
                    "prior_results": len(its),
                }
            )
        )
        open_orders.append(
            OpenOrder(order.order_id, order.symbol, order.side, order.quantity - filled)
        )
    state = RunState(
        fills=tuple(Fill.from_result(f) for f in before),
        peak_equity=max((s.equity for s in snapshots), default=None),
        max_drawdown=max((s.max_drawdown for s in snapshots), default=None),
        snapshot_sequence=len(snapshots),
        open_orders=tuple(open_orders),
    )
    history = [as_warmup(c) if c.ts_event < after else c for c in market()]
    return run([*resubmitted, *history], state, strategy)


def later(events: Sequence[Event], after: datetime) -> list[tuple[str, str]]:
    """The events at or after `after`, compared by id and content."""
    return [
        (e.event_id, e.model_dump_json(exclude={"ts_init"})) for e in events if e.ts_event >= after
    ]


def open_order_cuts() -> list[int]:
    """Cuts (market event numbers) at which an order waits for its fill."""
    times = [c.ts_event for c in market()]
    orders = {o.order_id: o for o in clean().orders}
    waiting = [f.ts_event for f in clean().fills if orders[f.order_id].ts_event < f.ts_event]
    return [times.index(ts) for ts in waiting[:3]]


@pytest.mark.parametrize(
    "cut",
    [1, 400, 1554, 1771, 3000, *range(37, 2 * MINUTES, 211), *open_order_cuts()],
)
def test_resumed_at_any_point_then_the_same_signals_fills_and_snapshots_after(cut: int) -> None:
    after = market()[cut].ts_event
    resumed, done = resume_at(after), clean()
    assert len(done.fills) > 10
    assert {a.code for a in done.alerts if isinstance(a, AlertRaised)} >= {
        "drawdown",
        "daily_drawdown",
    }
    assert later(resumed.signals, after) == later(done.signals, after)
    assert later(resumed.fills, after) == later(done.fills, after)
    assert later(resumed.snapshots, after) == later(done.snapshots, after)
    assert all(s.ts_event >= after for s in resumed.snapshots)  # history never snapshots
    # History raises no alert again (they were raised, and sent, the first time).
    assert later(resumed.alerts, START) == later(done.alerts, after)


EXAMPLES = (
    "examples.strategies.ema_cross:EmaCross?fast=3&slow=8&interval=5m",
    "examples.strategies.rsi_reversion:RsiReversion?oversold=40",
    "examples.strategies.bollinger_breakout:BollingerBreakout?interval=5m&min_width=0",
)


def resting_cuts(strategy: str) -> list[int]:
    """Cuts at which a limit order of the strategy rests (or a market order waits)."""
    times = [c.ts_event for c in market()]
    done = clean(strategy)
    ends = {r.order_id: r.ts_event for r in done.results if r.status.is_terminal}
    waiting = [
        o.ts_event + (ends.get(o.order_id, o.ts_event) - o.ts_event) / 2
        for o in done.orders
        if ends.get(o.order_id, o.ts_event) > o.ts_event
    ]
    return [next(i for i, t in enumerate(times) if t >= w) for w in waiting[:4]]


@pytest.mark.parametrize("strategy", EXAMPLES, ids=lambda path: path.split(":")[1].split("?")[0])
def test_an_example_resumed_anywhere_then_the_same_signals_and_fills_after_the_cut(
    strategy: str,
) -> None:
    """Bars, indicators and what the strategy remembers are rebuilt from the history: its
    signals after the cut are the uninterrupted run's, and so are the fills (limit orders
    resting across the cut included)."""
    done = clean(strategy)
    assert len(done.fills) >= 4
    for cut in [5, 997, 2401, 3333, *resting_cuts(strategy)]:
        after = market()[cut].ts_event
        resumed = resume_at(after, strategy)
        assert later(resumed.signals, after) == later(done.signals, after), cut
        assert later(resumed.fills, after) == later(done.fills, after), cut
        assert later(resumed.snapshots, after) == later(done.snapshots, after), cut
