"""A resumed run rebuilt from its stored fills, with its market data played again as
history, decides afterwards exactly what the run would have decided without the restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from engine.bus.memory import InMemoryBus, drain_all
from engine.domain.fills import Fill
from engine.events import Event, OrderResultReported
from engine.marketdata.feed import as_warmup
from engine.marketdata.synthetic import synthetic_candles
from engine.services.pipeline import build_pipeline
from engine.settings import Settings
from engine.storage.run_state import RunState
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def run(events: Sequence[Event], state: RunState | None = None) -> dict[str, list[Event]]:
    """Play `events` through a whole in-memory pipeline; return what it published."""
    bus = InMemoryBus()
    pipeline = build_pipeline(Settings(), bus, run_id="run-r", symbols=SYMBOLS, state=state)
    for stage in pipeline.stages:
        bus.subscribe(stage.name, stage.inputs, stage.handle)
    out: dict[str, list[Event]] = {"signals": [], "fills": [], "snapshots": []}
    bus.subscribe("s", [Stream.SIGNALS], out["signals"].extend)
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
