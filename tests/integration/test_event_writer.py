"""Persistence against a real PostgreSQL: idempotent batches, trades for fills only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from engine.bus.base import DeadLetter
from engine.errors import StorageError
from engine.events import decode_event, encode_event
from engine.services.persistence import PersistenceStage
from engine.storage.event_writer import COPY_THRESHOLD, EventWriter
from tests.factories import candle, fill, order, position, refusal, snapshot, trade_tick

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def writer(database_conninfo: str) -> Iterator[EventWriter]:
    with psycopg.connect(database_conninfo) as conn:
        yield EventWriter(conn, database_conninfo)


def scalar(db: Db, query: str) -> object:
    row = db.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_write_same_batch_twice_then_stored_once(writer: EventWriter, db: Db) -> None:
    batch = [
        trade_tick(1),
        candle(1),
        order("o1"),
        fill("o1"),
        snapshot(1, positions=(position(),)),
    ]

    first = writer.write(batch)
    second = writer.write(batch)

    assert first.inserted["trades"] == 1
    assert second.total == 0
    for table in ("trade_ticks", "candles", "orders", "order_results", "trades"):
        assert scalar(db, f"SELECT COUNT(*) FROM {table}") == 1, table


def test_large_batches_copied_then_overlap_stored_once_with_exact_values(
    writer: EventWriter, db: Db
) -> None:
    # Groups of COPY_THRESHOLD rows or more go through COPY and a staging table.
    ticks = [trade_tick(i, price=f"95000.{i:03d}") for i in range(300)]
    orders = [order(f"o{i}") for i in range(100)]
    fills = [fill(f"o{i}", fee="0.000000000000000001") for i in range(100)]
    snapshots = [snapshot(i, positions=(position(),)) for i in range(100)]

    first = writer.write([*ticks[:200], *orders, *fills, *snapshots])
    second = writer.write(ticks[100:])  # 100 already stored, 100 new

    assert COPY_THRESHOLD <= 100
    assert first.inserted["trade_ticks"] == 200
    assert first.inserted["trades"] == 100
    assert first.inserted["portfolio_snapshots"] == 100
    assert second.inserted["trade_ticks"] == 100
    assert scalar(db, "SELECT COUNT(*) FROM trade_ticks") == 300
    assert scalar(db, "SELECT price FROM trade_ticks WHERE event_id = 'tick-BTCUSDT-299'") == (
        Decimal("95000.299")
    )
    assert scalar(db, "SELECT SUM(fees) FROM trades") == Decimal("0.0000000000000001")
    assert scalar(db, "SELECT COUNT(*) FROM orders WHERE status = 'filled'") == 100
    assert scalar(db, "SELECT jsonb_array_length(positions) FROM portfolio_snapshots LIMIT 1") == 1


def test_fresh_groups_copied_straight_in_and_stored_rows_skipped_through_staging(
    database_conninfo: str, db: Db
) -> None:
    ticks = [trade_tick(i) for i in range(450)]
    staging = "SELECT to_regclass('pg_temp._staging_trade_ticks') IS NOT NULL"
    with psycopg.connect(database_conninfo) as conn:
        writer = EventWriter(conn, database_conninfo)

        fresh = writer.write(ticks[:100])
        staged_after_fresh = scalar(conn, staging)
        conn.rollback()  # the check's transaction: the writer wants its connection idle
        overlap = writer.write(ticks[50:150])  # 50 stored already: the straight COPY fails
        after = writer.write(ticks[150:250])  # staging again, then (none met) straight
        straight = writer.write(ticks[250:350])
        doubled = writer.write([*ticks[350:450], *ticks[350:450]])  # twice in one batch

    assert COPY_THRESHOLD <= 100  # every group here is copied
    assert staged_after_fresh is False  # no staging table: the rows went straight in
    assert [r.inserted["trade_ticks"] for r in (fresh, overlap, after, straight, doubled)] == [
        100,
        50,
        100,
        100,
        100,
    ]
    assert scalar(db, "SELECT COUNT(*) FROM trade_ticks") == 450
    assert scalar(db, "SELECT COUNT(DISTINCT event_id) FROM trade_ticks") == 450


def test_market_order_stored_with_null_price_and_limit_with_its_price(
    writer: EventWriter, db: Db
) -> None:
    writer.write([order("m1"), order("l1", order_type="limit", price="94000.5")])

    rows = db.execute(
        "SELECT order_type, COUNT(*), COUNT(price) AS with_price,"
        " COUNT(*) - COUNT(price) AS null_price FROM orders GROUP BY order_type ORDER BY 1"
    ).fetchall()
    price = scalar(db, "SELECT price FROM orders WHERE order_id = 'l1'")

    assert rows == [("limit", 1, 1, 0), ("market", 1, 0, 1)]
    assert price == Decimal("94000.5")


@pytest.mark.parametrize("spelling", ["REJECTED", "rejected", "Rejected", "CANCELLED", "canceled"])
def test_refused_result_recorded_on_order_and_no_trade(
    writer: EventWriter, db: Db, spelling: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = encode_event(refusal("o1")).replace(b'"rejected"', f'"{spelling}"'.encode())
    result = decode_event(raw)

    with caplog.at_level(logging.DEBUG, logger="engine.storage.event_writer"):
        writer.write([order("o1"), result])

    status, why = db.execute("SELECT status, status_reason FROM orders").fetchone() or ("", "")
    assert status == spelling.lower().replace("canceled", "cancelled")
    assert why == "no market price for BTCUSDT"
    assert scalar(db, "SELECT COUNT(*) FROM trades") == 0
    assert "skipping" in caplog.text


def test_fill_becomes_trade_with_price_slippage_and_fee(writer: EventWriter, db: Db) -> None:
    writer.write([order("o1"), fill("o1", price="95010", reference="95000", fee="2.37525")])

    row = db.execute(
        "SELECT status, execution_price, reference_price, slippage_bps, fees, fee_currency"
        " FROM trades"
    ).fetchone()

    assert row == (
        "filled",
        Decimal("95010"),
        Decimal("95000"),
        Decimal("1.0526"),
        Decimal("2.37525"),
        "USDT",
    )
    assert scalar(db, "SELECT COUNT(*) FROM trades WHERE execution_price <= 0") == 0


def test_a_fill_keeps_the_orders_own_reason_and_decision_price(writer: EventWriter, db: Db) -> None:
    decided = order("o1").model_copy(
        update={"reason": "approved: entry", "decision_price": Decimal("94990")}
    )
    filled = fill("o1", price="95010", reference="95000").model_copy(
        update={"reason": "taker fill"}
    )
    writer.write([decided, filled])

    row = db.execute("SELECT reason, status_reason, decision_price FROM orders").fetchone()

    assert row == ("approved: entry", "taker fill", Decimal("94990"))


def test_partial_fills_then_order_filled_with_summed_quantity(writer: EventWriter, db: Db) -> None:
    writer.write(
        [
            order("o1", quantity="0.1"),
            refusal("o1", number=0, status="accepted", reason=None),
            fill("o1", number=1, status="partially_filled", quantity="0.1", filled="0.04"),
            fill("o1", number=2, status="filled", quantity="0.1", filled="0.06"),
        ]
    )

    status, filled = db.execute("SELECT status, filled_quantity FROM orders").fetchone() or (0, 0)
    statuses = db.execute(
        "SELECT status, COUNT(*) FROM trades GROUP BY status ORDER BY 1"
    ).fetchall()

    assert (status, filled) == ("filled", Decimal("0.1"))
    assert statuses == [("filled", 1), ("partially_filled", 1)]


def test_result_written_before_its_order_then_order_still_gets_status(
    writer: EventWriter, db: Db
) -> None:
    writer.write([fill("o1")])
    writer.write([order("o1")])

    assert db.execute("SELECT status, filled_quantity FROM orders").fetchone() == (
        "filled",
        Decimal("0.05"),
    )


def test_snapshots_upsert_positions_and_flatten_closed_ones(writer: EventWriter, db: Db) -> None:
    writer.write([snapshot(1, positions=(position("BTCUSDT"), position("ETHUSDT", "2", "3000")))])
    writer.write([snapshot(2, positions=(position("ETHUSDT", "1", "3000"),))])
    writer.write([snapshot(0, positions=(position("BTCUSDT", "9"),))])  # late: ignored

    rows = db.execute("SELECT symbol, quantity FROM positions ORDER BY symbol").fetchall()
    pct = db.execute("SELECT exposure_pct, daily_drawdown_pct FROM portfolio_snapshots LIMIT 1")

    assert rows == [("BTCUSDT", Decimal(0)), ("ETHUSDT", Decimal(1))]
    assert pct.fetchone() is not None


def test_dead_letters_recorded_once(writer: EventWriter, db: Db) -> None:
    letter = DeadLetter(
        stream="orders",
        message_id="1-0",
        group="persistence",
        consumer="c",
        error="invalid event: price: must be greater than 0",
        attempts=1,
        payload=b'{"price": "-1"}\x00',
        ts=datetime(2026, 1, 5, tzinfo=UTC),
    )

    writer.record_dead_letters([letter, letter])
    writer.record_dead_letters([letter])

    assert scalar(db, "SELECT COUNT(*) FROM dead_letters") == 1
    assert "price" in str(scalar(db, "SELECT error FROM dead_letters"))


def test_operator_summary_query_over_written_trades(writer: EventWriter, db: Db) -> None:
    writer.write([order("o1"), fill("o1"), order("o2", side="sell"), fill("o2", side="sell")])

    total, avg_slippage, fees = db.execute(
        "SELECT COUNT(*) AS total_trades, AVG(slippage_bps) AS avg_slippage,"
        " SUM(fees) AS total_fees FROM trades"
    ).fetchone() or (0, 0, 0)

    assert total == 2
    assert avg_slippage == Decimal("1.0526")
    assert fees == Decimal("4.7505")


def test_connection_with_an_open_transaction_then_refused_not_silently_uncommitted(
    database_conninfo: str,
) -> None:
    with psycopg.connect(database_conninfo) as conn:
        conn.execute("SELECT 1")  # opens a transaction nobody commits
        with pytest.raises(StorageError, match="transaction open"):
            EventWriter(conn, database_conninfo).write([candle(1)])


@pytest.mark.parametrize(("store_ticks", "expected"), [(False, (3, 0)), (True, (3, 5))])
def test_persistence_stage_stores_ticks_only_when_asked(
    writer: EventWriter, db: Db, store_ticks: bool, expected: tuple[int, int]
) -> None:
    stage = PersistenceStage(writer, store_ticks=store_ticks)
    stage.handle([*(trade_tick(i) for i in range(5)), *(candle(i) for i in range(3))])
    assert (
        scalar(db, "SELECT COUNT(*) FROM candles"),
        scalar(db, "SELECT COUNT(*) FROM trade_ticks"),
    ) == expected
