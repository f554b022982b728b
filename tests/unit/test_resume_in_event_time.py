"""A resumed run rebuilt from its stored fills, with its market data played again as
history, decides afterwards exactly what the run would have decided without the restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from engine.bus.memory import InMemoryBus, drain_all
from engine.domain.fills import Fill
from engine.events import Event, OrderResultReported, OrderSubmitted, PortfolioSnapshotTaken
from engine.marketdata.feed import as_warmup
from engine.marketdata.synthetic import synthetic_candles
from engine.services.base import RECOVERY_SOURCE
from engine.services.pipeline import build_pipeline
from engine.settings import Settings
from engine.storage.run_state import OpenOrder, RunState
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def run(events: Sequence[Event], state: RunState | None = None) -> dict[str, list[Event]]:
    """Play `events` through a whole in-memory pipeline; return what it published."""
    bus = InMemoryBus()
    pipeline = build_pipeline(Settings(), bus, run_id="run-r", symbols=SYMBOLS, state=state)
    for stage in pipeline.stages:
        bus.subscribe(stage.name, stage.inputs, stage.handle)
    out: dict[str, list[Event]] = {"signals": [], "orders": [], "fills": [], "snapshots": []}
    bus.subscribe("s", [Stream.SIGNALS], out["signals"].extend)
    bus.subscribe("o", [Stream.ORDERS], out["orders"].extend)
    bus.subscribe("f", [Stream.ORDER_RESULTS], out["fills"].extend)
    bus.subscribe("p", [Stream.PORTFOLIO_SNAPSHOTS], out["snapshots"].extend)
    drain_all(bus, events)
    out["fills"] = [e for e in out["fills"] if isinstance(e, OrderResultReported) and e.is_fill]
    return out


@pytest.mark.parametrize("resume_minute", [200, 777, 1500])
def test_resumed_mid_run_then_the_same_signals_fills_and_snapshots_after(
    resume_minute: int,
) -> None:
    candles = list(synthetic_candles(SYMBOLS, START, 2000, seed=11))
    clean = run(candles)
    assert len(clean["fills"]) > 10
    after = candles[2 * resume_minute].ts_event
    stored = [
        Fill.from_result(f)
        for f in clean["fills"]
        if isinstance(f, OrderResultReported) and f.ts_event < after
    ]

    snapshots = [s for s in clean["snapshots"] if s.ts_event < after]
    resumed = run(
        [as_warmup(c) if c.ts_event < after else c for c in candles],
        RunState(
            fills=tuple(stored),
            peak_equity=max(s.equity for s in snapshots),  # type: ignore[attr-defined]
            max_drawdown=max(s.max_drawdown for s in snapshots),  # type: ignore[attr-defined]
            snapshot_sequence=len(snapshots),
        ),
    )

    def later(events: list[Event]) -> list[tuple[object, ...]]:
        return [
            (e.event_id, e.model_dump_json(exclude={"ts_init"}))
            for e in events
            if e.ts_event >= after
        ]

    assert later(resumed["signals"]) == later(clean["signals"])
    assert later(resumed["fills"]) == later(clean["fills"])
    assert later(resumed["snapshots"]) == later(clean["snapshots"])
    assert [e.ts_event >= after for e in resumed["snapshots"]] == [True] * len(
        resumed["snapshots"]
    )  # history never snapshots


def test_an_order_open_at_the_resume_point_is_resubmitted_and_fills_as_it_would_have() -> None:
    """Recovery resubmits the orders open at the resume point before the feed plays
    anything: execution has seen no market yet, and takes each such order in event time."""
    candles = list(synthetic_candles(SYMBOLS, START, 2000, seed=11))
    clean = run(candles)
    orders = {
        order.order_id: order for order in clean["orders"] if isinstance(order, OrderSubmitted)
    }
    fills = [f for f in clean["fills"] if isinstance(f, OrderResultReported)]
    fill = next(f for f in fills if orders[f.order_id].ts_event < f.ts_event)
    order = orders[fill.order_id]
    after = fill.ts_event  # the order was still open at the resume point
    snapshots = [
        s
        for s in clean["snapshots"]
        if isinstance(s, PortfolioSnapshotTaken) and s.ts_event < after
    ]
    resubmitted = order.model_copy(
        update={"event_id": f"{order.event_id}-resubmitted", "source": RECOVERY_SOURCE}
    )
    resumed = run(
        [resubmitted, *(as_warmup(c) if c.ts_event < after else c for c in candles)],
        RunState(
            fills=tuple(Fill.from_result(f) for f in fills if f.ts_event < after),
            peak_equity=max(s.equity for s in snapshots),
            max_drawdown=max(s.max_drawdown for s in snapshots),
            snapshot_sequence=len(snapshots),
            open_orders=(OpenOrder(order.order_id, order.symbol, order.side, order.quantity),),
        ),
    )
    for kind in ("fills", "snapshots"):
        assert later(resumed[kind], after) == later(clean[kind], after), kind


def later(events: list[Event], after: datetime) -> list[tuple[str, str]]:
    """The events at or after `after`, compared by id and content."""
    return [
        (e.event_id, e.model_dump_json(exclude={"ts_init"})) for e in events if e.ts_event >= after
    ]
