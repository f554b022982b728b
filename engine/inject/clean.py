"""`claire inject clean`: delete what injections stored (rows whose event id starts with
`inject-`, the positions of their runs, their dead letters)."""

from __future__ import annotations

from typing import Any

import psycopg

from engine.storage.connection import like_literal

#: The tables injected events are stored in, by their event id.
_BY_EVENT_ID = (
    "trades",
    "order_results",
    "orders",
    "candles",
    "signals",
    "risk_decisions",
    "portfolio_snapshots",
    "alerts",
    "market_gaps",
)


def clean_injected(conn: psycopg.Connection[Any], batch: str | None = None) -> int:
    """Delete the rows of one injected `batch` (None: of every injection); return how many
    rows of the event tables went."""
    run = f"inject-{like_literal(batch)}" if batch else "inject-%"  # a batch's run id
    pattern = f"{run}-%" if batch else run  # its events' ids
    removed = 0
    with conn.transaction():
        for table in _BY_EVENT_ID:
            cursor = conn.execute(f"DELETE FROM {table} WHERE event_id LIKE %s", (pattern,))
            removed += cursor.rowcount
        conn.execute("DELETE FROM positions WHERE run_id LIKE %s", (run,))
        conn.execute("DELETE FROM dead_letters WHERE payload LIKE %s", (f"%{pattern}",))
    return removed
