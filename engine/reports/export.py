"""Export a run's trades, orders, snapshots and alerts for analysis elsewhere.

CSV comes straight from PostgreSQL's COPY (exact decimal text); Parquet keeps NUMERIC
columns as decimal128(38, 18) and times as UTC timestamps, so nothing passes through a float.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from engine.atomic import replaced_atomically
from engine.storage import schema

ExportFormat = Literal["csv", "parquet"]

#: What is exported, in which order: (file stem, table, ordering).
TABLES: tuple[tuple[str, schema.Table, str], ...] = (
    ("trades", schema.TRADES, '"timestamp", trade_id'),
    ("orders", schema.ORDERS, "ts_event, order_id"),
    ("portfolio_snapshots", schema.PORTFOLIO_SNAPSHOTS, '"timestamp", sequence'),
    ("alerts", schema.ALERTS, "ts_event, event_id"),
    ("risk_decisions", schema.RISK_DECISIONS, "ts_event, event_id"),
    ("market_gaps", schema.MARKET_GAPS, "gap_start, symbol"),
)
_ARROW_TYPES = {
    schema.NUMERIC: pa.decimal128(schema.NUMERIC_PRECISION, schema.NUMERIC_SCALE),
    schema.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    schema.INTEGER: pa.int32(),
    schema.BIGINT: pa.int64(),
    schema.BOOLEAN: pa.bool_(),
}


def export_run(
    conn: psycopg.Connection[Any], run_id: str, out_dir: Path, fmt: ExportFormat
) -> dict[str, tuple[Path, int]]:
    """Write one file per table into `out_dir`; return {stem: (path, rows)}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, tuple[Path, int]] = {}
    for stem, table, order in TABLES:
        path = out_dir / f"{stem}.{fmt}"
        query = sql.SQL("SELECT * FROM {} WHERE run_id = {} ORDER BY {}").format(
            sql.Identifier(table.name), sql.Literal(run_id), sql.SQL(order)
        )
        with replaced_atomically(path) as partial:
            if fmt == "csv":
                rows = _csv(conn, query, partial)
            else:
                rows = _parquet(conn, query, table, partial)
        written[stem] = (path, rows)
    return written


def _csv(conn: psycopg.Connection[Any], query: sql.Composed, path: Path) -> int:
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)
    lines = 0
    with path.open("wb") as handle, conn.cursor() as cur, cur.copy(copy) as stream:
        for chunk in stream:
            handle.write(chunk)
            lines += bytes(chunk).count(b"\n")
    return max(0, lines - 1)


def _parquet(
    conn: psycopg.Connection[Any], query: sql.Composed, table: schema.Table, path: Path
) -> int:
    with conn.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description or []]
        rows = cur.fetchall()
    types = {c.name: c.type for c in table.columns}
    fields = [pa.field(n, _ARROW_TYPES.get(types.get(n, schema.TEXT), pa.string())) for n in names]
    columns = {
        name: [_plain(row[i], types.get(name, schema.TEXT)) for row in rows]
        for i, name in enumerate(names)
    }
    pq.write_table(pa.table(columns, schema=pa.schema(fields)), path)
    return len(rows)


def _plain(value: Any, column_type: str) -> Any:
    if value is None or column_type in _ARROW_TYPES:
        return value
    return value if isinstance(value, str) else str(value)  # jsonb and the like: as text
