"""The tables and columns the code expects, defined once.

`sql/` creates them; `tests/integration/test_schema.py` checks that the migrated database
matches these definitions exactly (names, order, types, nullability), so the two cannot drift.
The vocabularies are the lowercase values the database's CHECK constraints accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, get_args

from engine.events import AlertLevel, CandleInterval, GapCause
from engine.events.orders import OrderSide, OrderStatus, OrderType, TimeInForce

# Column types as information_schema.columns.data_type spells them.
TEXT: Final = "text"
NUMERIC: Final = "numeric"  # always NUMERIC(38, 18): see engine.money.STORAGE_PLACES
TIMESTAMPTZ: Final = "timestamp with time zone"
INTEGER: Final = "integer"
SMALLINT: Final = "smallint"
BIGINT: Final = "bigint"
BOOLEAN: Final = "boolean"
JSONB: Final = "jsonb"

NUMERIC_PRECISION: Final = 38
NUMERIC_SCALE: Final = 18

# The vocabularies come from the domain, so the database and the events cannot drift apart;
# tests/integration/test_schema.py checks the SQL CHECK constraints against them.
SIDES: Final = tuple(OrderSide)
ORDER_TYPES: Final = tuple(OrderType)
TIMES_IN_FORCE: Final = tuple(TimeInForce)
#: Statuses an order result reports.
RESULT_STATUSES: Final = tuple(OrderStatus)
#: Statuses of an order row: submitted until its first result arrives, then the latest result.
ORDER_STATUSES: Final = ("submitted", *RESULT_STATUSES)
#: The results that create a row in `trades`.
FILL_STATUSES: Final = tuple(status for status in OrderStatus if status.is_fill)
RUN_STATUSES: Final = ("running", "completed", "stopped", "aborted", "failed")
ALERT_LEVELS: Final = tuple(AlertLevel)
CANDLE_INTERVALS: Final = get_args(CandleInterval)
GAP_CAUSES: Final = get_args(GapCause)


@dataclass(frozen=True)
class Column:
    """One column: its name, information_schema data type and whether it may be NULL."""

    name: str
    type: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One table and its columns, in the order `SELECT *` returns them."""

    name: str
    columns: tuple[Column, ...]
    #: True when each row is one event, written idempotently on a unique `event_id`.
    event_table: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called `name`; raise KeyError when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


def _text(name: str, *, nullable: bool = False) -> Column:
    return Column(name, TEXT, nullable)


def _numeric(name: str, *, nullable: bool = False) -> Column:
    return Column(name, NUMERIC, nullable)


def _time(name: str, *, nullable: bool = False) -> Column:
    return Column(name, TIMESTAMPTZ, nullable)


def _head() -> tuple[Column, ...]:
    """The envelope columns that open an event row."""
    return (_text("event_id"), _text("run_id", nullable=True))


def _tail(*, with_ts_event: bool = True) -> tuple[Column, ...]:
    """The envelope columns that close an event row."""
    ts_event = (_time("ts_event"),) if with_ts_event else ()
    return (
        *ts_event,
        _time("ts_init"),
        _text("source"),
        Column("schema_version", INTEGER),
    )


SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    (
        Column("version", INTEGER),
        _text("name"),
        _text("checksum"),
        _time("applied_at"),
    ),
    event_table=False,
)

RUNS = Table(
    "runs",
    (
        _text("run_id"),
        _text("name", nullable=True),
        _text("status"),
        Column("parameters", JSONB),
        _text("settings_hash", nullable=True),
        _text("code_version", nullable=True),
        _text("data_source", nullable=True),
        _time("started_at"),
        _time("planned_end", nullable=True),
        _time("ended_at", nullable=True),
        _text("end_reason", nullable=True),
        _numeric("initial_capital"),
        _time("event_start", nullable=True),
        _time("event_end", nullable=True),
        Column("settings", JSONB, nullable=True),
        _text("group_id", nullable=True),
        Column("group_index", SMALLINT, nullable=True),
    ),
    event_table=False,
)

RUN_CONTROL = Table(
    "run_control",
    (
        _text("run_id"),
        Column("epoch", INTEGER),
        _text("engine", nullable=True),
        _time("engine_started_at", nullable=True),
        _time("heartbeat_at", nullable=True),
        _text("monitor_url", nullable=True),
        _time("stop_requested_at", nullable=True),
        _text("stop_reason", nullable=True),
        Column("restarts", INTEGER),
        _numeric("peak_rss_mb", nullable=True),
        Column("stage_stats", JSONB),
    ),
    event_table=False,
)

RUN_RESUMES = Table(
    "run_resumes",
    (_text("run_id"), _time("resumed_at"), _time("from_event", nullable=True)),
    event_table=False,
)

CANDLES = Table(
    "candles",
    (
        *_head(),
        _text("symbol"),
        _text("interval"),
        _time("open_time"),
        _time("close_time"),
        _numeric("open"),
        _numeric("high"),
        _numeric("low"),
        _numeric("close"),
        _numeric("volume"),
        _numeric("quote_volume"),
        *_tail(),
    ),
)

TRADE_TICKS = Table(
    "trade_ticks",
    (
        *_head(),
        _text("symbol"),
        _numeric("price"),
        _numeric("quantity"),
        _text("side"),
        _text("trade_id", nullable=True),
        *_tail(),
    ),
)

QUOTE_TICKS = Table(
    "quote_ticks",
    (
        *_head(),
        _text("symbol"),
        _numeric("bid_price"),
        _numeric("bid_quantity"),
        _numeric("ask_price"),
        _numeric("ask_quantity"),
        *_tail(),
    ),
)

SIGNALS = Table(
    "signals",
    (
        *_head(),
        _text("symbol"),
        _text("side"),
        _text("strategy"),
        _numeric("confidence"),
        _text("reason", nullable=True),
        _numeric("reference_price"),
        *_tail(),
        _text("order_type"),
        _numeric("limit_price", nullable=True),
        _text("time_in_force", nullable=True),
        _time("expires_at", nullable=True),
        _numeric("equity_fraction", nullable=True),
        _numeric("quote_amount", nullable=True),
        _numeric("close_fraction", nullable=True),
    ),
)

RISK_DECISIONS = Table(
    "risk_decisions",
    (
        *_head(),
        _text("signal_id"),
        Column("approved", BOOLEAN),
        _text("reason_code"),
        _text("detail", nullable=True),
        _text("order_id", nullable=True),
        *_tail(),
    ),
)

ORDERS = Table(
    "orders",
    (
        _text("order_id"),
        *_head(),
        _text("signal_id", nullable=True),
        _text("symbol"),
        _text("side"),
        _text("order_type"),
        _numeric("quantity"),
        _numeric("price", nullable=True),
        _text("status"),
        _numeric("filled_quantity"),
        _text("reason", nullable=True),
        _time("expires_at", nullable=True),
        *_tail(),
        _time("updated_at"),
        _time("timestamp"),
        _numeric("decision_price", nullable=True),
        _text("status_reason", nullable=True),
        _text("time_in_force", nullable=True),
    ),
)

ORDER_RESULTS = Table(
    "order_results",
    (
        *_head(),
        _text("order_id"),
        _text("symbol"),
        _text("side"),
        _text("order_type"),
        _text("status"),
        _numeric("quantity"),
        _numeric("filled_quantity"),
        _numeric("execution_price", nullable=True),
        _numeric("reference_price", nullable=True),
        _numeric("slippage_bps", nullable=True),
        _numeric("fee"),
        _text("fee_currency", nullable=True),
        _text("trade_id", nullable=True),
        _text("reason", nullable=True),
        *_tail(),
    ),
)

#: Fills only; `event_id` is that of the order result that reported the fill.
TRADES = Table(
    "trades",
    (
        _text("order_id"),
        _text("trade_id"),
        _text("run_id", nullable=True),
        _text("symbol"),
        _text("side"),
        _numeric("quantity"),
        _numeric("execution_price"),
        _numeric("reference_price"),
        _numeric("slippage_bps"),
        _numeric("fees"),
        _text("fee_currency"),
        _text("status"),
        _time("timestamp"),
        _text("event_id"),
    ),
)

POSITIONS = Table(
    "positions",
    (
        _text("run_id"),
        _text("symbol"),
        _numeric("quantity"),
        _numeric("average_price"),
        _numeric("realized_pnl"),
        _time("updated_at"),
    ),
    event_table=False,
)

#: `timestamp` is the snapshot's ts_event.
PORTFOLIO_SNAPSHOTS = Table(
    "portfolio_snapshots",
    (
        *_head(),
        _time("timestamp"),
        _numeric("cash"),
        _numeric("equity"),
        _numeric("realized_pnl"),
        _numeric("unrealized_pnl"),
        _numeric("exposure"),
        _numeric("daily_drawdown_pct"),
        _numeric("max_drawdown_pct"),
        Column("positions", JSONB),
        *_tail(with_ts_event=False),
        _numeric("positions_value"),
        _numeric("exposure_pct"),
        Column("sequence", BIGINT),
    ),
)

ALERTS = Table(
    "alerts",
    (
        *_head(),
        _text("level"),
        _text("code"),
        _text("message"),
        Column("cleared", BOOLEAN),
        _text("symbol", nullable=True),
        *_tail(),
    ),
)

MARKET_GAPS = Table(
    "market_gaps",
    (
        *_head(),
        _text("symbol"),
        _text("cause"),
        _time("gap_start"),
        _time("gap_end"),
        Column("missing", INTEGER),
        Column("backfilled", INTEGER),
        _text("detail", nullable=True),
        *_tail(),
    ),
)

DEAD_LETTERS = Table(
    "dead_letters",
    (
        Column("id", BIGINT),
        _text("stream"),
        _text("message_id"),
        _text("group_name"),
        _text("error"),
        Column("attempts", INTEGER),
        _text("payload"),
        _time("created_at"),
    ),
    event_table=False,
)

OUTAGES = Table(
    "outages",
    (
        Column("id", BIGINT),
        _text("run_id", nullable=True),
        _text("component"),
        _time("began_at"),
        _time("ended_at", nullable=True),
        Column("restarts", INTEGER),
        _text("detail"),
    ),
    event_table=False,
)

TABLES: Final = (
    SCHEMA_MIGRATIONS,
    RUNS,
    CANDLES,
    TRADE_TICKS,
    QUOTE_TICKS,
    SIGNALS,
    RISK_DECISIONS,
    ORDERS,
    ORDER_RESULTS,
    TRADES,
    POSITIONS,
    PORTFOLIO_SNAPSHOTS,
    ALERTS,
    DEAD_LETTERS,
    MARKET_GAPS,
    OUTAGES,
    RUN_CONTROL,
    RUN_RESUMES,
)
EVENT_TABLES: Final = tuple(table for table in TABLES if table.event_table)
TABLES_BY_NAME: Final = {table.name: table for table in TABLES}
