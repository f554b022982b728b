"""What a resumed run does with the orders still open when it stopped."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from engine.domain.orders import OrderSide, OrderStatus
from engine.events import OrderResultReported, OrderSubmitted
from engine.papertest.recovery import open_order_events
from engine.storage.event_writer import EventWriter
from engine.storage.run_state import OpenOrder, load_run_state
from tests.factories import EPOCH, order

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
