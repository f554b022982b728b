"""Read what a report needs of one run from the database, as plain rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from engine.papertest.report.metrics import EquityPoint, FillRow
from engine.papertest.runs import Run


@dataclass
class RunData:
    """Every stored fact of one run a report uses."""

    run: Run
    curve: list[EquityPoint]
    fills: list[FillRow]
    order_statuses: list[str]
    rejections: list[str]
    alerts: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    dead_letters: int
    counts: dict[str, int]
    #: symbol -> [(close time, close)], the market the run saw (for buy and hold).
    closes: dict[str, list[tuple[datetime, Decimal]]] = field(default_factory=dict)


_CURVE = """
SELECT "timestamp", equity, cash, exposure_pct FROM portfolio_snapshots
 WHERE run_id = %s AND (%s::timestamptz IS NULL OR "timestamp" <= %s) ORDER BY "timestamp", sequence
"""
_FILLS = """
SELECT "timestamp", symbol, side, quantity, execution_price, fees, slippage_bps, order_id
  FROM trades WHERE run_id = %s AND (%s::timestamptz IS NULL OR "timestamp" <= %s)
 ORDER BY "timestamp", trade_id
"""
_ORDERS = """
SELECT status FROM orders WHERE run_id = %s AND (%s::timestamptz IS NULL OR ts_event <= %s)
 ORDER BY order_id
"""
_REJECTIONS = """
SELECT COALESCE(reason, 'no reason given') FROM order_results
 WHERE run_id = %s AND (%s::timestamptz IS NULL OR ts_event <= %s) AND status = 'rejected'
 ORDER BY event_id
"""
_DENIALS = """
SELECT reason_code FROM risk_decisions
 WHERE run_id = %s AND (%s::timestamptz IS NULL OR ts_event <= %s) AND NOT approved
 ORDER BY event_id
"""
_ALERTS = """
SELECT ts_event, level, code, message, cleared, symbol FROM alerts
 WHERE run_id = %s AND (%s::timestamptz IS NULL OR ts_event <= %s) ORDER BY ts_event, event_id
"""
_GAPS = """
SELECT symbol, cause, gap_start, gap_end, missing, backfilled, detail FROM market_gaps
 WHERE run_id = %s AND (%s::timestamptz IS NULL OR gap_start <= %s) ORDER BY gap_start, symbol
"""
_CLOSES = """
SELECT symbol, close_time, close FROM candles
 WHERE symbol = ANY(%s) AND close_time BETWEEN %s AND %s AND (source = %s OR source LIKE %s)
 ORDER BY close_time, symbol
"""
_COUNTS = """
SELECT (SELECT COUNT(*) FROM signals WHERE run_id = %(run)s),
       (SELECT COUNT(*) FROM risk_decisions WHERE run_id = %(run)s),
       (SELECT COUNT(*) FROM risk_decisions WHERE run_id = %(run)s AND NOT approved),
       (SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %(run)s),
       (SELECT COUNT(*) FROM candles WHERE close_time BETWEEN %(start)s AND %(end)s
           AND (source = %(source)s OR source LIKE %(like)s))
"""


def load_run_data(
    conn: psycopg.Connection[Any], run: Run, until: datetime | None = None
) -> RunData:
    """Read the run's snapshots, fills, orders, alerts, gaps and market closes (those up to
    event time `until`, when given)."""
    run_id = run.run_id
    bound = (run_id, until, until)
    curve = [EquityPoint(*row) for row in conn.execute(_CURVE, bound).fetchall()]
    start = curve[0].ts if curve else run.started_at
    end = curve[-1].ts if curve else (run.ended_at or run.started_at)
    source = run.data_source or ""
    like = source.replace("%", "") + ".%"
    fills = [FillRow(*row) for row in conn.execute(_FILLS, bound).fetchall()]
    rejections = [r[0] for r in conn.execute(_REJECTIONS, bound).fetchall()]
    denials = [f"denied: {r[0]}" for r in conn.execute(_DENIALS, bound).fetchall()]
    counted = conn.execute(
        _COUNTS, {"run": run_id, "start": start, "end": end, "source": source, "like": like}
    ).fetchone() or (0, 0, 0, 0, 0)
    closes: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    symbols = list(run.parameters.symbols)
    for symbol, at, close in conn.execute(_CLOSES, (symbols, start, end, source, like)):
        closes[symbol].append((at, close))
    return RunData(
        run=run,
        curve=curve,
        fills=fills,
        order_statuses=[r[0] for r in conn.execute(_ORDERS, bound).fetchall()],
        rejections=rejections + denials,
        alerts=_dicts(conn, _ALERTS, bound),
        gaps=_dicts(conn, _GAPS, bound),
        dead_letters=_dead_letters(conn, run),
        counts=dict(
            zip(
                ("signals", "decisions", "denials", "snapshots", "market_events"),
                (int(c) for c in counted),
                strict=True,
            )
        ),
        closes=dict(closes),
    )


def _dicts(
    conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]
) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(query.encode(), params)
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _dead_letters(conn: psycopg.Connection[Any], run: Run) -> int:
    """Dead letters recorded while the run was running (wall-clock time)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM dead_letters WHERE created_at >= %s"
        " AND (%s::timestamptz IS NULL OR created_at <= %s)",
        (run.started_at, run.ended_at, run.ended_at),
    ).fetchone()
    return int(row[0]) if row else 0
