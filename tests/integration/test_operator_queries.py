"""The operator's own analysis queries (from the brief) run unchanged and answer correctly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg.types.json import Jsonb

from engine.storage.schema import PORTFOLIO_SNAPSHOTS, TRADES

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]

# Verbatim from the brief: these must keep running as the schema evolves.
ORDERS_BY_TYPE = (
    "SELECT order_type, COUNT(*), COUNT(price) AS with_price,"
    " COUNT(*) - COUNT(price) AS null_price\n"
    "  FROM orders GROUP BY order_type;"
)
TRADES_BY_STATUS = "SELECT status, COUNT(*) FROM trades GROUP BY status;"
TRADES_WITHOUT_PRICE = "SELECT COUNT(*) FROM trades WHERE execution_price <= 0;"
TRADES_IN_WEEK = "SELECT * FROM trades WHERE timestamp BETWEEN '2025-11-23' AND '2025-11-30';"
SNAPSHOTS_IN_ORDER = "SELECT * FROM portfolio_snapshots ORDER BY timestamp;"
TRADE_SUMMARY = (
    "SELECT COUNT(*) AS total_trades, AVG(slippage_bps) AS avg_slippage, SUM(fees) AS total_fees\n"
    "  FROM trades;"
)


def _at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def _order(db: Db, order_type: str, price: Decimal | None) -> None:
    db.execute(
        "INSERT INTO orders (order_id, event_id, run_id, symbol, side, order_type, quantity,"
        " price, ts_event, ts_init, source, schema_version)"
        " VALUES (%s, %s, 'run-1', 'BTCUSDT', 'buy', %s, 0.01, %s, %s, %s, 'inject', 1)",
        (uuid.uuid4().hex, uuid.uuid4().hex, order_type, price, _at(24), _at(24)),
    )


def _trade(db: Db, trade_id: str, status: str, at: datetime, slippage: str, fees: str) -> None:
    db.execute(
        "INSERT INTO trades (order_id, trade_id, run_id, symbol, side, quantity, execution_price,"
        " reference_price, slippage_bps, fees, fee_currency, status, timestamp, event_id)"
        " VALUES (%s, %s, 'run-1', 'BTCUSDT', 'buy', 0.01, 95010, 95000, %s, %s, 'USDT', %s, %s,"
        " %s)",
        (uuid.uuid4().hex, trade_id, Decimal(slippage), Decimal(fees), status, at, trade_id),
    )


def _snapshot(db: Db, event_id: str, at: datetime, equity: str) -> None:
    db.execute(
        "INSERT INTO portfolio_snapshots (event_id, run_id, timestamp, cash, equity,"
        " realized_pnl, unrealized_pnl, exposure, daily_drawdown_pct, max_drawdown_pct,"
        " positions, ts_init, source, schema_version)"
        " VALUES (%s, 'run-1', %s, %s, %s, 0, 0, 0, 0, 0, %s, %s, 'inject', 1)",
        (event_id, at, Decimal(equity), Decimal(equity), Jsonb([]), at),
    )


def test_operator_queries_on_empty_database(db: Db) -> None:
    assert db.execute(ORDERS_BY_TYPE).fetchall() == []
    assert db.execute(TRADES_BY_STATUS).fetchall() == []
    assert db.execute(TRADES_WITHOUT_PRICE).fetchall() == [(0,)]
    assert db.execute(TRADES_IN_WEEK).fetchall() == []
    assert db.execute(SNAPSHOTS_IN_ORDER).fetchall() == []
    assert db.execute(TRADE_SUMMARY).fetchall() == [(0, None, None)]


def test_orders_by_type_counts_prices(db: Db) -> None:
    _order(db, "market", None)
    _order(db, "market", None)
    _order(db, "limit", Decimal("94000.5"))

    rows = db.execute(ORDERS_BY_TYPE).fetchall()

    assert sorted(rows) == [("limit", 1, 1, 0), ("market", 2, 0, 2)]


@pytest.fixture
def trades(db: Db) -> Db:
    _trade(db, "t-before", "filled", _at(20), "1", "0.50")
    _trade(db, "t-in-1", "filled", _at(24), "2", "0.25")
    _trade(db, "t-in-2", "partially_filled", _at(25), "4", "0.125")
    # After midnight of the 30th, so outside `BETWEEN '2025-11-23' AND '2025-11-30'`.
    _trade(db, "t-last-day", "filled", _at(30, hour=18), "5", "1")
    return db


def test_trades_by_status(trades: Db) -> None:
    rows = trades.execute(TRADES_BY_STATUS).fetchall()

    assert {status: count for status, count in rows} == {"filled": 3, "partially_filled": 1}


def test_no_trade_without_positive_price(trades: Db) -> None:
    assert trades.execute(TRADES_WITHOUT_PRICE).fetchall() == [(0,)]


def test_trades_in_week(trades: Db) -> None:
    cursor = trades.execute(TRADES_IN_WEEK)
    rows = cursor.fetchall()

    assert [column.name for column in cursor.description or []] == list(TRADES.column_names)
    trade_id = TRADES.column_names.index("trade_id")
    assert sorted(str(row[trade_id]) for row in rows) == ["t-in-1", "t-in-2"]


def test_trade_summary(trades: Db) -> None:
    (total, average_slippage, total_fees) = trades.execute(TRADE_SUMMARY).fetchall()[0]

    assert total == 4
    assert average_slippage == Decimal(3)
    assert total_fees == Decimal("1.875")


def test_snapshots_come_in_time_order(db: Db) -> None:
    _snapshot(db, "late", _at(26), "99000")
    _snapshot(db, "early", _at(24), "100000")
    _snapshot(db, "middle", _at(25), "101000")

    cursor = db.execute(SNAPSHOTS_IN_ORDER)
    rows = cursor.fetchall()

    assert [column.name for column in cursor.description or []] == list(
        PORTFOLIO_SNAPSHOTS.column_names
    )
    assert [row[0] for row in rows] == ["early", "middle", "late"]
