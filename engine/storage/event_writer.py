"""Write events to PostgreSQL in batches, idempotently by event id.

One batch is one transaction. Every insert skips rows already stored, so a redelivered
batch changes nothing. Large groups of rows are copied straight into their table inside a
savepoint; when one of them is stored already (COPY itself cannot skip duplicates: the
savepoint is rolled back, nothing of the group is kept), the group goes through COPY into
a temporary staging table and one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, and so do
the table's next groups until one of them meets no stored row (a resumed run's overlap is
behind). Small groups are inserted with `executemany ... ON CONFLICT DO NOTHING`.
Order results are stored as they are; fills also become rows in `trades` (a rejected or
cancelled result never does), and each touched order's status and filled quantity are
recomputed from all of its results, whatever order they arrived in.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from operator import attrgetter
from typing import Any, get_args

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter

from engine.bus.base import DeadLetter
from engine.errors import StorageError
from engine.events import (
    EVENT_CLASS_FOR_TYPE,
    Event,
    OrderResultReported,
    PortfolioSnapshotTaken,
    PositionSnapshot,
)
from engine.events.orders import OrderStatus
from engine.storage import schema
from engine.storage.connection import connect, translate_error
from engine.storage.schema import Table

log = logging.getLogger(__name__)

Row = tuple[Any, ...]

#: Columns filled by the database or by `_refresh_orders`, not taken from the event.
_DERIVED = {
    "orders": {"status", "filled_quantity", "updated_at", "timestamp", "status_reason"},
}
#: Snapshot columns whose event field has another name.
_RENAMED = {
    "portfolio_snapshots": {
        "timestamp": "ts_event",
        "daily_drawdown_pct": "daily_drawdown",
        "max_drawdown_pct": "max_drawdown",
    },
}
_TABLE_FOR_TYPE: dict[str, Table] = {
    "candle": schema.CANDLES,
    "trade_tick": schema.TRADE_TICKS,
    "quote_tick": schema.QUOTE_TICKS,
    "market_gap": schema.MARKET_GAPS,
    "signal": schema.SIGNALS,
    "risk_decision": schema.RISK_DECISIONS,
    "order": schema.ORDERS,
    "order_result": schema.ORDER_RESULTS,
    "portfolio_snapshot": schema.PORTFOLIO_SNAPSHOTS,
    "alert": schema.ALERTS,
}
#: A snapshot's positions as the JSON the `positions` column stores.
_POSITIONS_JSON = TypeAdapter(tuple[PositionSnapshot, ...])
_SKIPPED_STATUSES = {OrderStatus.REJECTED, OrderStatus.CANCELLED}
#: Control events with no table: the end of a run's feed shows in the run's own row.
_NOT_STORED = frozenset({"feed_end"})


@dataclass
class WriteResult:
    """Rows written per table by one batch (duplicates count 0)."""

    inserted: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def total(self) -> int:
        return sum(self.inserted.values())


def _columns(table: Table) -> tuple[str, ...]:
    derived = _DERIVED.get(table.name, set())
    return tuple(name for name in table.column_names if name not in derived)


#: Groups at least this large are copied through a staging table.
COPY_THRESHOLD = 64


@dataclass(frozen=True)
class _Target:
    """How rows of one table are written: a few by executemany, many through COPY."""

    table: str
    columns: tuple[str, ...]

    @property
    def names(self) -> str:
        return ", ".join(f'"{name}"' for name in self.columns)

    @property
    def insert(self) -> str:
        marks = ", ".join("%s" for _ in self.columns)
        return f"INSERT INTO {self.table} ({self.names}) VALUES ({marks}) ON CONFLICT DO NOTHING"

    @property
    def staging(self) -> str:
        return f"_staging_{self.table}"

    @property
    def create_staging(self) -> str:
        return (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {self.names} FROM {self.table} WITH NO DATA"
        )

    def copy_into(self, table: str) -> str:
        """COPY into `table`: the real one (a straight COPY) or `staging`."""
        return f"COPY {table} ({self.names}) FROM STDIN"

    @property
    def insert_staged(self) -> str:
        return (
            f"INSERT INTO {self.table} ({self.names}) SELECT {self.names} FROM {self.staging} "
            "ON CONFLICT DO NOTHING"
        )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _UnformattedError(Exception):
    """A value `_copy_field` has no text for: the rows go to psycopg's own COPY writer."""


#: The text of recent UTC times: a batch's rows share a few event times.
_utc_text = lru_cache(maxsize=4096)(datetime.isoformat)


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is not UTC:  # (equal times in other zones have other text)
        return value.isoformat()
    return _utc_text(value)


def _str_text(value: str) -> str:
    if "\\" not in value and value.isprintable():  # no tab, newline or return either
        return value
    return value.translate(_COPY_ESCAPES)


def as_is(text: Any) -> str:
    """The `dumps` of a `Jsonb` whose object is already JSON text."""
    return str(text)


def _copy_field(value: Any) -> str:
    """Return `value` in COPY's text format (what psycopg's text dumpers would write)."""
    kind = type(value)
    if value is None:
        return "\\N"
    if kind is str:
        return _str_text(value)
    if kind is Decimal or kind is int:
        return str(value)
    if kind is datetime:
        return _datetime_text(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is Jsonb:
        return _str_text(value.obj if value.dumps is as_is else json.dumps(value.obj))
    raise _UnformattedError(kind.__name__)


def copy_text(rows: Iterable[Row]) -> bytes | None:
    """Return rows as the body of a text COPY, or None when a value has no plain text."""
    try:
        return "".join(["\t".join(map(_copy_field, row)) + "\n" for row in rows]).encode()
    except _UnformattedError:
        return None


@dataclass(frozen=True)
class _Part:
    """Rows of one table, ready to write: a few by executemany, many by COPY of `data`."""

    target: _Target
    rows: list[Row]
    data: bytes | None = None

    @classmethod
    def of(cls, target: _Target, rows: list[Row]) -> _Part:
        return cls(target, rows, copy_text(rows) if len(rows) >= COPY_THRESHOLD else None)


@dataclass
class PreparedBatch:
    """A batch of events turned into what its transaction writes (`EventWriter.prepare`):
    the rows per table, the orders whose status to recompute, the positions to store."""

    parts: list[tuple[str, _Part]] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    positions: list[PortfolioSnapshotTaken] = field(default_factory=list)
    events: int = 0


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _holds_enum(annotation: Any) -> bool:
    if isinstance(annotation, type):
        return issubclass(annotation, Enum)
    return any(_holds_enum(arg) for arg in get_args(annotation))


def _row_maker(event_type: str, table: Table) -> Callable[[Any], Row]:
    """Return a function turning an event into its row (enums stored by value)."""
    renamed = _RENAMED.get(table.name, {})
    fields = [renamed.get(name, name) for name in _columns(table)]
    model = EVENT_CLASS_FOR_TYPE[event_type].model_fields
    enums = [i for i, name in enumerate(fields) if _holds_enum(model[name].annotation)]
    values = attrgetter(*fields)

    def make(event: Any) -> Row:
        row = list(values(event))
        for i in enums:
            row[i] = _plain(row[i])
        return tuple(row)

    return make


def _snapshot_row_maker() -> Callable[[Any], Row]:
    base = _row_maker("portfolio_snapshot", schema.PORTFOLIO_SNAPSHOTS)
    index = _columns(schema.PORTFOLIO_SNAPSHOTS).index("positions")

    def make(event: Any) -> Row:
        row = list(base(event))
        row[index] = Jsonb(_POSITIONS_JSON.dump_json(event.positions).decode(), dumps=as_is)
        return tuple(row)

    return make


_ROW_MAKERS: dict[str, Callable[[Any], Row]] = {
    event_type: _row_maker(event_type, table) for event_type, table in _TABLE_FOR_TYPE.items()
}
_ROW_MAKERS["portfolio_snapshot"] = _snapshot_row_maker()
_TARGETS = {t: _Target(table.name, _columns(table)) for t, table in _TABLE_FOR_TYPE.items()}
_TRADES = _Target(schema.TRADES.name, tuple(schema.TRADES.column_names))

# Recompute each touched order from all of its results: the most final status wins
# (accepted < partially_filled < any terminal status), then the newest.
_REFRESH_ORDERS = """
UPDATE orders AS o
   SET status = r.status, filled_quantity = r.filled,
       status_reason = COALESCE(r.reason, o.status_reason),
       updated_at = now()
  FROM (
        SELECT order_id,
               SUM(filled_quantity) AS filled,
               (ARRAY_AGG(status ORDER BY
                    CASE status WHEN 'accepted' THEN 0 WHEN 'partially_filled' THEN 1 ELSE 2 END
                    DESC, ts_event DESC, event_id DESC))[1] AS status,
               (ARRAY_AGG(reason ORDER BY ts_event DESC, event_id DESC)
                    FILTER (WHERE reason IS NOT NULL))[1] AS reason
          FROM order_results
         WHERE order_id = ANY(%s)
         GROUP BY order_id
       ) AS r
 WHERE o.order_id = r.order_id
"""

_FLATTEN_POSITIONS = """
UPDATE positions SET quantity = 0, average_price = 0, updated_at = %s
 WHERE run_id = %s AND NOT (symbol = ANY(%s)) AND updated_at <= %s
"""
_UPSERT_POSITION = """
INSERT INTO positions (run_id, symbol, quantity, average_price, realized_pnl, updated_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id, symbol) DO UPDATE
   SET quantity = EXCLUDED.quantity, average_price = EXCLUDED.average_price,
       realized_pnl = EXCLUDED.realized_pnl, updated_at = EXCLUDED.updated_at
 WHERE positions.updated_at <= EXCLUDED.updated_at
"""

_DEAD_LETTER_INSERT = """
INSERT INTO dead_letters (stream, message_id, group_name, error, attempts, payload, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (stream, message_id) DO NOTHING
"""


def _trade_rows(results: list[OrderResultReported]) -> list[Row]:
    """The `trades` rows of the fills among `results` (a rejection or cancel has none)."""
    fills = []
    for order_result in results:
        if order_result.status.is_fill:
            fills.append(_trade_row(order_result))
        elif order_result.status in _SKIPPED_STATUSES:
            log.debug(
                "skipping %s result of order %s: no trade (%s)",
                order_result.status,
                order_result.order_id,
                order_result.reason or "no reason given",
            )
    return fills


def _trade_row(result: OrderResultReported) -> Row:
    return (
        result.order_id,
        result.trade_id,
        result.run_id,
        result.symbol,
        _plain(result.side),
        result.filled_quantity,
        result.execution_price,
        result.reference_price,
        result.slippage_bps,
        result.fee,
        result.fee_currency,
        _plain(result.status),
        result.ts_event,
        result.event_id,
    )


def _copy(cur: psycopg.Cursor[Any], statement: str, part: _Part) -> None:
    with cur.copy(statement) as copy:
        if part.data is not None:
            copy.write(part.data)
        else:
            for row in part.rows:
                copy.write_row(row)


class EventWriter:
    """Persist batches of events through one connection (one transaction per batch).

    With `conninfo`, a connection the server dropped (PostgreSQL restarted) is opened again
    at the next write: until then each write raises StorageUnavailableError, and the events
    stay pending on the bus.
    """

    def __init__(self, conn: psycopg.Connection[Any], conninfo: str = "") -> None:
        self._conn = conn
        self._conninfo = conninfo
        self._staged: set[str] = set()  # staging tables created on this connection
        self._overlapping: set[str] = set()  # tables whose last group met stored rows
        self._opened = False  # the connection is one this writer opened (after a drop)

    def _live(self) -> psycopg.Connection[Any]:
        if self._conninfo and (self._conn.closed or self._conn.broken):
            self._conn = connect(self._conninfo)
            self._opened = True
            self._staged.clear()  # temporary tables died with the old connection
        return self._conn

    def close(self) -> None:
        """Close the connection this writer opened itself (the one it was given is the
        caller's to close)."""
        if self._opened:
            self._conn.close()

    def _insert(self, cur: psycopg.Cursor[Any], part: _Part) -> int:
        """Insert the part's rows skipping duplicates; return how many were new."""
        target, rows = part.target, part.rows
        if len(rows) < COPY_THRESHOLD:
            cur.executemany(target.insert, rows)
            return max(cur.rowcount, 0)
        if target.table not in self._overlapping:
            try:
                with cur.connection.transaction():  # a savepoint: a duplicate undoes the COPY
                    _copy(cur, target.copy_into(target.table), part)
                return len(rows)
            except psycopg.errors.UniqueViolation:
                self._overlapping.add(target.table)
        if target.table not in self._staged:
            cur.execute(target.create_staging)
            self._staged.add(target.table)
        _copy(cur, target.copy_into(target.staging), part)
        cur.execute(target.insert_staged)
        inserted = max(cur.rowcount, 0)  # the staging rows go at commit (ON COMMIT DELETE ROWS)
        if inserted == len(rows):
            self._overlapping.discard(target.table)  # past the stored rows: straight COPY again
        return inserted

    def write(self, events: Sequence[Event]) -> WriteResult:
        """Store `events` in one transaction; raise StorageError / StorageUnavailableError."""
        return self.commit(self.prepare(events))

    @staticmethod
    def prepare(events: Sequence[Event]) -> PreparedBatch:
        """Turn `events` into their rows (no I/O: `commit` writes them)."""
        batch = PreparedBatch(events=len(events))
        by_type: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            if event.type not in _NOT_STORED:
                by_type[event.type].append(event)
        for event_type, group in by_type.items():
            make = _ROW_MAKERS[event_type]
            part = _Part.of(_TARGETS[event_type], [make(e) for e in group])
            batch.parts.append((_TABLE_FOR_TYPE[event_type].name, part))
        order_results = [
            e for e in by_type.get("order_result", []) if isinstance(e, OrderResultReported)
        ]
        fills = _trade_rows(order_results)
        if fills:
            batch.parts.append(("trades", _Part.of(_TRADES, fills)))
        touched = {e.order_id for e in order_results} | {
            getattr(e, "order_id", "") for e in by_type.get("order", [])
        }
        batch.touched = sorted(touched)
        batch.positions = [
            e
            for e in by_type.get("portfolio_snapshot", [])
            if isinstance(e, PortfolioSnapshotTaken)
        ]
        return batch

    def commit(self, batch: PreparedBatch) -> WriteResult:
        """Write a prepared batch in one transaction; raise StorageError /
        StorageUnavailableError (nothing of it is then stored)."""
        result = WriteResult()
        if not batch.events:
            return result
        conn = self._live()
        if conn.info.transaction_status == TransactionStatus.INTRANS:
            # Our transaction would only be a savepoint in someone else's: nothing committed.
            raise StorageError(
                "the event writer's connection has a transaction open; give it its own connection"
            )
        try:
            with conn.transaction(), conn.cursor() as cur:
                for table, part in batch.parts:
                    result.inserted[table] += self._insert(cur, part)
                if batch.touched:
                    cur.execute(_REFRESH_ORDERS, (batch.touched,))
                self._write_positions(cur, batch.positions)
        except psycopg.Error as exc:
            raise translate_error(exc, self._conninfo) from exc
        return result

    def record_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        """Store dead letters (idempotent per stream and message id)."""
        rows = [
            (
                letter.stream,
                letter.message_id,
                letter.group,
                letter.error,
                letter.attempts,
                letter.payload.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                letter.ts,
            )
            for letter in letters
        ]
        if not rows:
            return
        try:
            conn = self._live()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_DEAD_LETTER_INSERT, rows)
        except psycopg.Error as exc:
            raise translate_error(exc, self._conninfo) from exc

    @staticmethod
    def _write_positions(cur: psycopg.Cursor[Any], snapshots: list[PortfolioSnapshotTaken]) -> None:
        latest: dict[str, PortfolioSnapshotTaken] = {}
        for snapshot in snapshots:
            run = snapshot.run_id or ""
            if run not in latest or snapshot.ts_event >= latest[run].ts_event:
                latest[run] = snapshot
        for run_id, snapshot in latest.items():
            if not run_id:
                continue
            ts = snapshot.ts_event
            held = [p.symbol for p in snapshot.positions]
            cur.execute(_FLATTEN_POSITIONS, (ts, run_id, held, ts))
            cur.executemany(
                _UPSERT_POSITION,
                [
                    (run_id, p.symbol, p.quantity, p.average_price, p.realized_pnl, ts)
                    for p in snapshot.positions
                ],
            )
