"""Approved orders count against risk limits until they fill or end."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from engine.bus.memory import InMemoryBus, drain_all
from engine.domain.market import MarketState
from engine.domain.open_orders import CommittedPortfolio, OpenOrderBook
from engine.domain.portfolio import Portfolio
from engine.events import Event, RiskDecided, SignalGenerated
from engine.events.orders import OrderSide
from engine.services.pipeline import build_pipeline
from engine.settings import Settings
from engine.streams import Stream
from tests.factories import EPOCH, candle, fill, order, refusal


def test_book_when_order_partly_filled_then_remaining_is_pending() -> None:
    book = OpenOrderBook()
    book.on_order(order("o1", quantity="0.1"))

    book.on_result(fill("o1", status="partially_filled", quantity="0.1", filled="0.04"))

    assert book.pending("BTCUSDT", OrderSide.BUY) == Decimal("0.06")
    assert book.pending("BTCUSDT", OrderSide.SELL) == 0


def test_book_when_order_ends_then_nothing_pending() -> None:
    book = OpenOrderBook()
    book.on_order(order("o1"))
    book.on_order(order("o2"))

    book.on_result(fill("o1"))
    book.on_result(refusal("o2", status="cancelled"))

    assert len(book) == 0


def test_committed_view_counts_open_buys_for_entries_but_not_for_exits() -> None:
    market = MarketState()
    market.apply(candle(0, close="95000"))
    portfolio = Portfolio(Decimal(100000))
    book = OpenOrderBook()
    book.on_order(order("o1", quantity="0.05"))

    entry = CommittedPortfolio(portfolio, book, market)
    exit_view = CommittedPortfolio(portfolio, book, market, exit=True)

    assert entry.quantity("BTCUSDT") == Decimal("0.05")
    assert entry.exposure == Decimal("0.05") * Decimal(95000)
    assert exit_view.quantity("BTCUSDT") == 0


def _signal(minute: int) -> SignalGenerated:
    return SignalGenerated(
        event_id=f"sig-{minute}",
        ts_event=candle(minute).ts_event,
        ts_init=candle(minute).ts_event,
        source="engine.signal",
        run_id="run-1",
        symbol="BTCUSDT",
        side="buy",
        strategy="manual",
        confidence=Decimal(1),
        reference_price=Decimal(95000),
    )


def test_risk_when_second_entry_arrives_before_first_fills_then_denied() -> None:
    bus = InMemoryBus()
    pipeline = build_pipeline(Settings(), bus, run_id="run-1", symbols=["BTCUSDT"])
    bus.subscribe("risk", pipeline.risk.inputs, pipeline.risk.handle)  # no execution: no fills
    decisions: list[RiskDecided] = []

    def keep(events: Sequence[Event]) -> None:
        decisions.extend(e for e in events if isinstance(e, RiskDecided))

    bus.subscribe("spy", [Stream.RISK_DECISIONS], keep)

    drain_all(bus, [candle(0), candle(1), _signal(1), _signal(2)])

    assert [d.reason_code for d in decisions] == ["approved", "max_position"]
    assert decisions[1].ts_event > EPOCH
