"""The migrated schema is what engine/storage/schema.py says, and it honours the trading rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from engine.runtime.local import LocalRuntime
from engine.storage import schema
from engine.storage.schema import EVENT_TABLES, TABLES, TABLES_BY_NAME, Table
from tests.conftest import TEMPLATE_DB
from tests.support import scratch_database

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]
Row = dict[str, object]
T0 = datetime(2025, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def module_database(session_runtime: LocalRuntime) -> Iterator[str]:
    """One migrated database for this module (cloning one per test would dominate run time)."""
    with scratch_database(session_runtime, "t_schema", TEMPLATE_DB) as name:
        yield session_runtime.postgres.conninfo(name)


@pytest.fixture
def db(module_database: str) -> Iterator[Db]:
    """A connection whose every change is rolled back at the end of the test."""
    with (
        psycopg.connect(module_database, autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        yield conn


def _id() -> str:
    return uuid.uuid4().hex


def _envelope() -> Row:
    return {
        "event_id": _id(),
        "run_id": "run-1",
        "ts_event": T0,
        "ts_init": T0,
        "source": "inject",
        "schema_version": 1,
    }


def _candle() -> Row:
    return {
        **_envelope(),
        "symbol": "BTCUSDT",
        "interval": "1m",
        "open_time": T0,
        "close_time": T0 + timedelta(minutes=1),
        "open": Decimal(100),
        "high": Decimal(110),
        "low": Decimal(90),
        "close": Decimal(105),
        "volume": Decimal(2),
        "quote_volume": Decimal(210),
    }


def _trade_tick() -> Row:
    return {
        **_envelope(),
        "symbol": "BTCUSDT",
        "price": Decimal(100),
        "quantity": Decimal("0.5"),
        "side": "buy",
        "trade_id": _id(),
    }


def _quote_tick() -> Row:
    return {
        **_envelope(),
        "symbol": "BTCUSDT",
        "bid_price": Decimal("99.9"),
        "bid_quantity": Decimal(1),
        "ask_price": Decimal("100.1"),
        "ask_quantity": Decimal(2),
    }


def _signal() -> Row:
    return {
        **_envelope(),
        "symbol": "BTCUSDT",
        "side": "buy",
        "strategy": "momentum",
        "confidence": Decimal("0.7"),
        "reason": "up 1.2% on 3x volume",
        "reference_price": Decimal(100),
    }


def _risk_decision() -> Row:
    return {
        **_envelope(),
        "signal_id": _id(),
        "approved": True,
        "reason_code": "approved",
        "detail": None,
        "order_id": _id(),
    }


def _order() -> Row:
    return {
        **_envelope(),
        "order_id": _id(),
        "signal_id": _id(),
        "symbol": "BTCUSDT",
        "side": "buy",
        "order_type": "market",
        "quantity": Decimal("0.01"),
        "price": None,
    }


def _order_result() -> Row:
    return {
        **_envelope(),
        "order_id": _id(),
        "symbol": "BTCUSDT",
        "side": "buy",
        "order_type": "market",
        "status": "filled",
        "quantity": Decimal("0.01"),
        "filled_quantity": Decimal("0.01"),
        "execution_price": Decimal("100.05"),
        "reference_price": Decimal(100),
        "slippage_bps": Decimal(5),
        "fee": Decimal("0.0005"),
        "fee_currency": "USDT",
        "trade_id": _id(),
    }


def _trade() -> Row:
    return {
        "order_id": _id(),
        "trade_id": _id(),
        "run_id": "run-1",
        "symbol": "BTCUSDT",
        "side": "buy",
        "quantity": Decimal("0.01"),
        "execution_price": Decimal("100.05"),
        "reference_price": Decimal(100),
        "slippage_bps": Decimal(5),
        "fees": Decimal("0.0005"),
        "fee_currency": "USDT",
        "status": "filled",
        "timestamp": T0,
        "event_id": _id(),
    }


def _snapshot() -> Row:
    envelope = _envelope()
    return {
        **{k: v for k, v in envelope.items() if k != "ts_event"},
        "timestamp": T0,
        "cash": Decimal(100_000),
        "equity": Decimal(100_000),
        "realized_pnl": Decimal(0),
        "unrealized_pnl": Decimal(0),
        "exposure": Decimal(0),
        "daily_drawdown_pct": Decimal(0),
        "max_drawdown_pct": Decimal(0),
        "positions": Jsonb([]),
    }


def _alert() -> Row:
    return {
        **_envelope(),
        "level": "warning",
        "code": "drawdown",
        "message": "drawdown 3.1% is above 3%",
        "cleared": False,
        "symbol": None,
    }


def _market_gap() -> Row:
    return {
        **_envelope(),
        "symbol": "BTCUSDT",
        "cause": "disconnect",
        "gap_start": T0 - timedelta(minutes=2),
        "gap_end": T0,
        "missing": 2,
        "backfilled": 2,
        "detail": None,
    }


def _run() -> Row:
    return {
        "run_id": _id(),
        "name": "papertest",
        "status": "running",
        "parameters": Jsonb({"duration": "7d"}),
        "started_at": T0,
        "planned_end": T0 + timedelta(days=7),
        "initial_capital": Decimal(100_000),
    }


def _dead_letter() -> Row:
    return {
        "stream": "claire:order_results",
        "message_id": "1700000000000-0",
        "group_name": "persistence",
        "error": "invalid event: status: unknown 'weird'",
        "attempts": 5,
        "payload": '{"status": "weird"}',
    }


FACTORIES: dict[str, Callable[[], Row]] = {
    "candles": _candle,
    "trade_ticks": _trade_tick,
    "quote_ticks": _quote_tick,
    "signals": _signal,
    "risk_decisions": _risk_decision,
    "orders": _order,
    "order_results": _order_result,
    "trades": _trade,
    "portfolio_snapshots": _snapshot,
    "alerts": _alert,
    "market_gaps": _market_gap,
    "runs": _run,
    "dead_letters": _dead_letter,
}


def _insert(db: Db, table: str, row: Row, *, on_conflict: str = "") -> int:
    """Insert one row; return how many rows were written."""
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(name) for name in row),
        sql.SQL(", ").join(sql.Placeholder() for _ in row),
        sql.SQL(on_conflict),
    )
    with db.transaction():  # a savepoint: a refused row leaves the test's transaction usable
        return db.execute(statement, list(row.values())).rowcount


def _count(db: Db, table: str) -> int:
    row = db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(str(row[0]))


# --- structure ---------------------------------------------------------------------------------


def test_tables_are_the_ones_the_code_expects(db: Db) -> None:
    rows = db.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    ).fetchall()

    assert {row[0] for row in rows} == {table.name for table in TABLES}


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_columns_are_the_ones_the_code_expects(db: Db, table: Table) -> None:
    rows = db.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        (table.name,),
    ).fetchall()

    assert rows == [(c.name, c.type, c.nullable) for c in table.columns]


def test_every_numeric_column_is_numeric_38_18(db: Db) -> None:
    rows = db.execute(
        "SELECT table_name, column_name, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'numeric'"
    ).fetchall()

    assert rows
    assert {(row[2], row[3]) for row in rows} == {(schema.NUMERIC_PRECISION, schema.NUMERIC_SCALE)}


def _unique_keys(db: Db, table: str) -> set[tuple[str, ...]]:
    rows = db.execute(
        """
        SELECT array_agg(a.attname::text ORDER BY k.ord)
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass AND i.indisunique
        GROUP BY i.indexrelid
        """,
        (table,),
    ).fetchall()
    return {tuple(cast(list[str], row[0])) for row in rows}


@pytest.mark.parametrize("table", EVENT_TABLES, ids=lambda table: table.name)
def test_every_event_table_is_unique_on_event_id(db: Db, table: Table) -> None:
    assert ("event_id",) in _unique_keys(db, table.name)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("orders", ("order_id",)),
        ("trades", ("trade_id",)),
        ("candles", ("source", "symbol", "interval", "open_time")),
        ("positions", ("run_id", "symbol")),
        ("dead_letters", ("stream", "message_id")),
        ("runs", ("run_id",)),
        ("schema_migrations", ("version",)),
    ],
)
def test_natural_keys_are_unique(db: Db, table: str, key: tuple[str, ...]) -> None:
    assert key in _unique_keys(db, table)


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("trades", ("run_id", "timestamp")),
        ("trades", ("timestamp",)),
        ("portfolio_snapshots", ("run_id", "timestamp")),
        ("orders", ("run_id", "ts_event")),
        ("order_results", ("order_id",)),
    ],
)
def test_lookup_indexes_exist(db: Db, table: str, columns: tuple[str, ...]) -> None:
    rows = db.execute(
        """
        SELECT array_agg(a.attname::text ORDER BY k.ord)
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass
        GROUP BY i.indexrelid
        """,
        (table,),
    ).fetchall()

    assert columns in {tuple(cast(list[str], row[0])) for row in rows}


# --- every table accepts a valid row, and a redelivered one is a no-op ---------------------------


@pytest.mark.parametrize("table", FACTORIES)
def test_valid_row_round_trips(db: Db, table: str) -> None:
    row = FACTORIES[table]()

    assert _insert(db, table, row) == 1
    assert set(row) <= set(TABLES_BY_NAME[table].column_names)
    assert _count(db, table) == 1


@pytest.mark.parametrize("table", [t.name for t in EVENT_TABLES])
def test_duplicate_event_id_with_on_conflict_do_nothing_is_a_no_op(db: Db, table: str) -> None:
    row = FACTORIES[table]()
    _insert(db, table, row)

    written = _insert(db, table, row, on_conflict="ON CONFLICT (event_id) DO NOTHING")

    assert written == 0
    assert _count(db, table) == 1


@pytest.mark.parametrize(
    ("table", "natural_key"),
    [
        ("orders", ("order_id",)),
        ("trades", ("trade_id",)),
        ("candles", ("source", "symbol", "interval", "open_time")),
    ],
)
def test_same_natural_key_under_a_new_event_id_is_a_no_op(
    db: Db, table: str, natural_key: tuple[str, ...]
) -> None:
    first = FACTORIES[table]()
    second = {**FACTORIES[table](), **{name: first[name] for name in natural_key}}
    _insert(db, table, first)

    assert _insert(db, table, second, on_conflict="ON CONFLICT DO NOTHING") == 0
    assert _count(db, table) == 1


def test_duplicate_dead_letter_is_a_no_op(db: Db) -> None:
    _insert(db, "dead_letters", _dead_letter())

    written = _insert(
        db,
        "dead_letters",
        {**_dead_letter(), "attempts": 6},
        on_conflict="ON CONFLICT (stream, message_id) DO NOTHING",
    )

    assert written == 0
    assert _count(db, "dead_letters") == 1


def test_money_round_trips_exactly(db: Db) -> None:
    tiny = Decimal("0.000000000000000001")
    big = Decimal("12345678901234567890.123456789012345678")
    _insert(db, "trades", {**_trade(), "quantity": tiny, "execution_price": big})

    row = db.execute("SELECT quantity, execution_price FROM trades").fetchone()

    assert row == (tiny, big)


# --- vocabularies: exactly the lowercase values schema.py lists ----------------------------------


def _result_with_status(status: str) -> Row:
    row = _order_result()
    if status not in schema.FILL_STATUSES:
        row.update(execution_price=None, filled_quantity=Decimal(0), trade_id=None)
    return {**row, "status": status}


def _run_with_status(status: str) -> Row:
    ended = None if status == "running" else T0 + timedelta(days=1)
    return {**_run(), "status": status, "ended_at": ended}


VOCABULARIES: list[tuple[str, tuple[str, ...], Callable[[str], Row]]] = [
    ("order_results.status", schema.RESULT_STATUSES, _result_with_status),
    ("orders.status", schema.ORDER_STATUSES, lambda v: {**_order(), "status": v}),
    ("trades.status", schema.FILL_STATUSES, lambda v: {**_trade(), "status": v}),
    ("trades.side", schema.SIDES, lambda v: {**_trade(), "side": v}),
    ("signals.side", schema.SIDES, lambda v: {**_signal(), "side": v}),
    (
        "signals.time_in_force",
        schema.TIMES_IN_FORCE,
        lambda v: {**_signal(), "order_type": "limit", "limit_price": 99, "time_in_force": v},
    ),
    (
        "orders.time_in_force",
        schema.TIMES_IN_FORCE,
        lambda v: {**_order(), "order_type": "limit", "price": 99, "time_in_force": v},
    ),
    ("runs.status", schema.RUN_STATUSES, _run_with_status),
    ("alerts.level", schema.ALERT_LEVELS, lambda v: {**_alert(), "level": v}),
    ("market_gaps.cause", schema.GAP_CAUSES, lambda v: {**_market_gap(), "cause": v}),
    ("candles.interval", schema.CANDLE_INTERVALS, lambda v: {**_candle(), "interval": v}),
]


@pytest.mark.parametrize(
    ("column", "values", "make"), VOCABULARIES, ids=[v[0] for v in VOCABULARIES]
)
def test_vocabulary_values_are_accepted(
    db: Db, column: str, values: tuple[str, ...], make: Callable[[str], Row]
) -> None:
    table = column.split(".", maxsplit=1)[0]
    for value in values:
        _insert(db, table, make(value))

    assert _count(db, table) == len(values)


@pytest.mark.parametrize(
    ("column", "values", "make"), VOCABULARIES, ids=[v[0] for v in VOCABULARIES]
)
def test_vocabulary_rejects_other_spellings(
    db: Db, column: str, values: tuple[str, ...], make: Callable[[str], Row]
) -> None:
    table = column.split(".", maxsplit=1)[0]
    for value in (values[0].upper(), values[0].title(), "unknown", ""):
        with pytest.raises(errors.CheckViolation):
            _insert(db, table, make(value))


# --- the order/trade rules of the brief --------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "changes"),
    [
        ("trades", {"execution_price": Decimal(0)}),
        ("trades", {"execution_price": Decimal(-1)}),
        ("trades", {"status": "rejected"}),
        ("trades", {"status": "cancelled"}),
        ("trades", {"status": "FILLED"}),
        ("trades", {"fees": Decimal("-0.01")}),
        ("trades", {"quantity": Decimal(0)}),
        ("orders", {"order_type": "market", "price": Decimal(100)}),
        ("orders", {"order_type": "limit", "price": None}),
        ("orders", {"order_type": "limit", "price": Decimal(0)}),
        ("orders", {"order_type": "LIMIT", "price": Decimal(100)}),
        ("orders", {"quantity": Decimal(0)}),
        ("orders", {"quantity": Decimal(-1)}),
        ("orders", {"filled_quantity": Decimal(1)}),
        ("order_results", {"status": "weird"}),
        ("order_results", {"status": "Rejected", "execution_price": None, "trade_id": None}),
        ("order_results", {"status": "rejected"}),
        ("order_results", {"execution_price": None}),
        ("order_results", {"execution_price": Decimal(0)}),
        ("order_results", {"trade_id": None}),
        ("order_results", {"fee": Decimal(-1)}),
        ("signals", {"confidence": Decimal("1.01")}),
        ("signals", {"order_type": "limit"}),
        ("signals", {"limit_price": Decimal(99)}),
        ("signals", {"time_in_force": "gtc"}),
        ("signals", {"equity_fraction": Decimal(0)}),
        ("signals", {"equity_fraction": Decimal("1.5")}),
        ("signals", {"quote_amount": Decimal(-5)}),
        ("signals", {"close_fraction": Decimal(0)}),
        ("orders", {"time_in_force": "gtc"}),
        ("risk_decisions", {"approved": False}),
        ("candles", {"high": Decimal(95)}),
        ("portfolio_snapshots", {"daily_drawdown_pct": Decimal("-0.01")}),
        ("runs", {"status": "completed"}),
        ("runs", {"initial_capital": Decimal(0)}),
    ],
    ids=lambda value: (
        value if isinstance(value, str) else "-".join(f"{k}={v}" for k, v in value.items())
    ),
)
def test_check_constraint_rejects(db: Db, table: str, changes: Row) -> None:
    with pytest.raises(errors.CheckViolation):
        _insert(db, table, {**FACTORIES[table](), **changes})


def test_limit_order_with_price_is_accepted(db: Db) -> None:
    _insert(db, "orders", {**_order(), "order_type": "limit", "price": Decimal("95000.5")})

    assert db.execute("SELECT order_type, price FROM orders").fetchall() == [
        ("limit", Decimal("95000.5"))
    ]


def test_denied_risk_decision_without_order_is_accepted(db: Db) -> None:
    _insert(db, "risk_decisions", {**_risk_decision(), "approved": False, "order_id": None})

    assert _count(db, "risk_decisions") == 1


def test_order_defaults_to_submitted_and_unfilled(db: Db) -> None:
    _insert(db, "orders", _order())

    assert db.execute("SELECT status, filled_quantity FROM orders").fetchone() == (
        "submitted",
        Decimal(0),
    )
