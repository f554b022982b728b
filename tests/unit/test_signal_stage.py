"""History (a resumed run's warm-up, live start-up history, back-filled candles) warms the
stages but never trades, fills an order or dates a snapshot in the past."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from engine.bus.memory import InMemoryBus
from engine.domain.execution import PaperExecution
from engine.domain.market import MarketState
from engine.domain.portfolio import Portfolio
from engine.events import Event, OrderResultReported, OrderSubmitted
from engine.marketdata.synthetic import synthetic_candles
from engine.services.execution import ExecutionStage
from engine.services.portfolio import PortfolioStage
from engine.services.signal import SignalStage
from engine.settings import ExecutionSettings, Settings
from engine.strategy import load_strategy
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)


def signals_for(source: str) -> list[Event]:
    settings = Settings()
    bus = InMemoryBus()
    out: list[Event] = []
    bus.subscribe("probe", (Stream.SIGNALS,), out.extend)
    stage = SignalStage(load_strategy("momentum", settings.strategy), bus, "run-w")
    stage.handle(list(synthetic_candles(("BTCUSDT", "ETHUSDT"), START, 600, seed=7, source=source)))
    bus.drain()
    return out


def test_live_candles_then_signals() -> None:
    assert len(signals_for("mexc")) > 0


def test_history_and_backfilled_candles_then_no_signal() -> None:
    assert signals_for("mexc.history") == []
    assert signals_for("mexc.backfill") == []


def stage_outputs(source: str) -> tuple[list[Event], list[Event]]:
    """Feed candles from `source` to a portfolio stage, and to an execution stage holding a
    market order that waits for the market after its latency; return snapshots and fills."""
    bus = InMemoryBus()
    snapshots: list[Event] = []
    results: list[Event] = []
    bus.subscribe("snapshots", (Stream.PORTFOLIO_SNAPSHOTS,), snapshots.extend)
    bus.subscribe("results", (Stream.ORDER_RESULTS,), results.extend)
    candles = list(synthetic_candles(("BTCUSDT",), START, 30, seed=7, source=source))
    portfolio = PortfolioStage(Portfolio(Decimal("10000")), MarketState(), bus, "run-w")
    market = MarketState()
    execution = ExecutionStage(
        PaperExecution(ExecutionSettings(latency_ms=1000), market), market, bus
    )
    market.apply(candles[0].model_copy(update={"source": "synthetic"}))  # a price to accept at
    execution.handle([market_buy(at=candles[0].ts_event)])
    bus.drain()
    results.clear()  # the order's acceptance
    portfolio.handle(candles)
    execution.handle(candles)
    bus.drain()
    return snapshots, results


def market_buy(at: datetime) -> OrderSubmitted:
    return OrderSubmitted(
        event_id="order-w1", ts_event=at, source="engine.risk", run_id="run-w",
        order_id="w1", symbol="BTCUSDT", side="buy", order_type="market",
        quantity=Decimal("0.001"),
    )  # fmt: skip


def test_live_candles_then_snapshots_and_a_resting_order_fills() -> None:
    snapshots, results = stage_outputs("synthetic")
    assert len(snapshots) >= 29
    assert [r.status for r in results if isinstance(r, OrderResultReported)] == ["filled"]


def test_history_candles_then_no_snapshot_dated_in_the_past_and_no_fill() -> None:
    # A resumed run's warm-up: the portfolio already holds what came after this history.
    for source in ("synthetic.history", "mexc.history", "mexc.backfill"):
        assert stage_outputs(source) == ([], [])
