"""What a resumed run does with the orders still open when it stopped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from engine.engine_process.recovery import open_order_events
from engine.events import OrderResultReported, OrderSubmitted
from engine.events.orders import OrderSide, OrderStatus
from engine.storage.event_writer import EventWriter
from engine.storage.run_state import OpenOrder, load_run_state
from tests.factories import EPOCH, fill, order, snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
def stored(database_conninfo: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A run with an open market order and an open limit order."""
    with psycopg.connect(database_conninfo) as conn:
        EventWriter(conn).write(
            [order("o-market"), order("o-limit", order_type="limit", price="90000")]
        )
        conn.commit()
    with psycopg.connect(database_conninfo, autocommit=True) as conn:
        yield conn


def test_recorded_data_then_every_open_order_submitted_again(
    stored: psycopg.Connection[tuple[object, ...]],
) -> None:
    events = open_order_events(stored, "run-1", EPOCH, live=False)
    assert {(type(e), e.order_id) for e in events} == {
        (OrderSubmitted, "o-market"),
        (OrderSubmitted, "o-limit"),
    }  # the market they wait for is played again


def test_live_then_market_orders_cancelled_and_limit_orders_submitted_again(
    stored: psycopg.Connection[tuple[object, ...]],
) -> None:
    events = {e.order_id: e for e in open_order_events(stored, "run-1", EPOCH, live=True)}
    cancelled = events["o-market"]
    assert isinstance(cancelled, OrderResultReported)
    assert cancelled.status is OrderStatus.CANCELLED
    assert "stopped before this market order was filled" in (cancelled.reason or "")
    assert isinstance(events["o-limit"], OrderSubmitted)


def test_run_state_then_open_orders_for_risk(
    stored: psycopg.Connection[tuple[object, ...]],
) -> None:
    state = load_run_state(stored, "run-1")
    assert set(state.open_orders) == {
        OpenOrder("o-market", "BTCUSDT", OrderSide.BUY, Decimal("0.05")),
        OpenOrder("o-limit", "BTCUSDT", OrderSide.BUY, Decimal("0.05")),
    }


def test_a_cut_then_only_what_the_run_had_done_before_it(database_conninfo: str) -> None:
    """A resumed replay decides everything from its resume point again: the state its stages
    start from (and the orders it submits again) is what the run had done before it, even
    when results of later market data were stored before the engine stopped."""
    cut = EPOCH + timedelta(minutes=10)
    before, after = EPOCH + timedelta(minutes=5), EPOCH + timedelta(minutes=12)
    with psycopg.connect(database_conninfo) as conn:
        EventWriter(conn).write(
            [
                order("o-done", at=before),
                fill("o-done", at=before),  # filled before the cut
                order("o-waits", at=before),
                fill("o-waits", at=after),  # filled after it: still open at the cut
                order("o-part", at=before, quantity="0.10"),
                fill("o-part", status="partially_filled", quantity="0.10", filled="0.04",
                     at=before),
                fill("o-part", number=2, quantity="0.10", filled="0.06", at=after),
                order("o-later", at=after),  # decided after the cut: decided again
                snapshot(9, cash="90000"),
                snapshot(12, cash="99000"),
            ]
        )  # fmt: skip
        conn.commit()
    with psycopg.connect(database_conninfo, autocommit=True) as conn:
        state = load_run_state(conn, "run-1", before=cut)
        events = open_order_events(conn, "run-1", EPOCH, live=False, before=cut)
        everything = load_run_state(conn, "run-1")
    assert [f.trade_id for f in state.fills] == ["trade-o-done-1", "trade-o-part-1"]
    assert set(state.open_orders) == {
        OpenOrder("o-waits", "BTCUSDT", OrderSide.BUY, Decimal("0.05")),
        OpenOrder("o-part", "BTCUSDT", OrderSide.BUY, Decimal("0.06")),
    }
    assert state.peak_equity == Decimal(90000)
    resubmitted = {e.order_id: e for e in events if isinstance(e, OrderSubmitted)}
    assert set(resubmitted) == {"o-waits", "o-part"}
    part = resubmitted["o-part"]  # goes on from its first fill
    assert (part.quantity, part.filled_quantity) == (Decimal("0.10"), Decimal("0.04"))
    assert (part.prior_fills, part.prior_results) == (1, 1)
    assert len(everything.fills) == 4
    assert [o.order_id for o in everything.open_orders] == ["o-later"]
    assert everything.peak_equity == Decimal(99000)
