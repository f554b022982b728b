"""Read what a report needs of one run from the database, as plain rows.

One query per table, whatever the run's length (no query per snapshot or per order); rows
become the report's row types here and nowhere else.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from engine.reports.costs import OrderRow
from engine.reports.metrics import EquityPoint, FillRow
from engine.reports.trading import FinalSnapshot, PositionRow
from engine.runs.control import Control, RunControl
from engine.runs.registry import Run
from engine.storage.connection import like_literal


@dataclass
class RunData:
    """Every stored fact of one run a report uses."""

    run: Run
    #: Its engines' starts, figures and resumes.
    control: Control
    curve: list[EquityPoint]
    final: FinalSnapshot | None
    fills: list[FillRow]
    orders: list[OrderRow]
    rejections: list[str]
    alerts: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    dead_letters: int
    counts: dict[str, int]
    #: What the supervisor found dead during the run (wall clock), and the restarts it took.
    outages: list[dict[str, Any]] = field(default_factory=list)
    #: symbol -> (open time, open) of the first candle of the run (for buy and hold).
    opens: dict[str, tuple[datetime, Decimal]] = field(default_factory=dict)
    #: symbol -> [(close time, close)], the market the run saw.
    closes: dict[str, list[tuple[datetime, Decimal]]] = field(default_factory=dict)

    @property
    def order_statuses(self) -> list[str]:
        return [o.status for o in self.orders]


_UNTIL = '(%(until)s::timestamptz IS NULL OR "timestamp" <= %(until)s)'
#: The equity curve; a snapshot's largest position (quantity x mark, the average price when
#: it has no mark) is multiplied by PostgreSQL, exactly, from the stored text of its amounts.
_CURVE = f"""
SELECT "timestamp", equity, cash, exposure_pct,
       (SELECT COALESCE(MAX((p->>'quantity')::numeric
                            * COALESCE(p->>'market_price', p->>'average_price')::numeric), 0)
          FROM jsonb_array_elements(positions) AS p)
  FROM portfolio_snapshots
 WHERE run_id = %(run)s AND {_UNTIL} ORDER BY "timestamp", sequence
"""
_FINAL = f"""
SELECT "timestamp", equity, cash, realized_pnl, unrealized_pnl, positions
  FROM portfolio_snapshots WHERE run_id = %(run)s AND {_UNTIL}
 ORDER BY "timestamp" DESC, sequence DESC LIMIT 1
"""
_FILLS = f"""
SELECT "timestamp", symbol, side, quantity, execution_price, fees, slippage_bps, order_id,
       reference_price, trade_id
  FROM trades WHERE run_id = %(run)s AND {_UNTIL} ORDER BY "timestamp", trade_id
"""
_ORDERS = """
SELECT order_id, symbol, side, order_type, quantity, filled_quantity, status, reason,
       status_reason, decision_price, ts_event
  FROM orders WHERE run_id = %(run)s AND (%(until)s::timestamptz IS NULL OR ts_event <= %(until)s)
 ORDER BY ts_event, order_id
"""
_REJECTIONS = """
SELECT COALESCE(reason, 'no reason given') FROM order_results
 WHERE run_id = %(run)s AND (%(until)s::timestamptz IS NULL OR ts_event <= %(until)s)
   AND status = 'rejected'
 ORDER BY event_id
"""
_DENIALS = """
SELECT reason_code FROM risk_decisions
 WHERE run_id = %(run)s AND (%(until)s::timestamptz IS NULL OR ts_event <= %(until)s)
   AND NOT approved
 ORDER BY event_id
"""
_ALERTS = """
SELECT ts_event, level, code, message, cleared, symbol FROM alerts
 WHERE run_id = %(run)s AND (%(until)s::timestamptz IS NULL OR ts_event <= %(until)s)
 ORDER BY ts_event, event_id
"""
_GAPS = """
SELECT symbol, cause, gap_start, gap_end, missing, backfilled, detail FROM market_gaps
 WHERE run_id = %(run)s AND (%(until)s::timestamptz IS NULL OR gap_start <= %(until)s)
 ORDER BY gap_start, symbol
"""
_OUTAGES = """
SELECT component, began_at, ended_at, restarts, detail FROM outages
 WHERE run_id = %(run)s ORDER BY began_at, component
"""
_RUN_CANDLES = """
  FROM candles
 WHERE symbol = ANY(%(symbols)s) AND open_time >= %(open_from)s
   AND close_time >= %(close_from)s AND close_time <= %(end)s
   AND (source = %(source)s OR source LIKE %(like)s)
"""
_CLOSES = f"SELECT symbol, close_time, close {_RUN_CANDLES} ORDER BY close_time, symbol, open_time"
_OPENS = (
    f"SELECT DISTINCT ON (symbol) symbol, open_time, open {_RUN_CANDLES}"
    " ORDER BY symbol, open_time, close_time"
)
_COUNTS = """
SELECT (SELECT COUNT(*) FROM signals WHERE run_id = %(run)s),
       (SELECT COUNT(*) FROM risk_decisions WHERE run_id = %(run)s),
       (SELECT COUNT(*) FROM risk_decisions WHERE run_id = %(run)s AND NOT approved),
       (SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %(run)s),
       (SELECT COUNT(*) FROM candles WHERE close_time BETWEEN %(close_from)s AND %(end)s
           AND (source = %(source)s OR source LIKE %(like)s))
"""


def load_run_data(
    conn: psycopg.Connection[Any], run: Run, until: datetime | None = None
) -> RunData:
    """Read the run's snapshots, fills, orders, alerts, gaps and market candles (those up to
    event time `until`, when given)."""
    bound = {"run": run.run_id, "until": until}
    curve = [EquityPoint(*row) for row in conn.execute(_CURVE, bound).fetchall()]
    final_row = conn.execute(_FINAL, bound).fetchone()
    window = _window(run, curve, until)
    counted = conn.execute(_COUNTS, {**bound, **window}).fetchone() or (0, 0, 0, 0, 0)
    opens, closes = _candles(conn, run, window)
    return RunData(
        run=run,
        control=RunControl(conn).get(run.run_id),
        curve=curve,
        final=None if final_row is None else _final(final_row),
        fills=[FillRow(*row) for row in conn.execute(_FILLS, bound).fetchall()],
        orders=[OrderRow(*row) for row in conn.execute(_ORDERS, bound).fetchall()],
        rejections=[r[0] for r in conn.execute(_REJECTIONS, bound).fetchall()]
        + [f"denied: {r[0]}" for r in conn.execute(_DENIALS, bound).fetchall()],
        alerts=dict_rows(conn, _ALERTS, bound),
        gaps=dict_rows(conn, _GAPS, bound),
        dead_letters=_dead_letters(conn, run),
        counts=dict(
            zip(
                ("signals", "decisions", "denials", "snapshots", "market_events"),
                (int(c) for c in counted),
                strict=True,
            )
        ),
        outages=dict_rows(conn, _OUTAGES, bound),
        opens=opens,
        closes=closes,
    )


def _window(run: Run, curve: list[EquityPoint], until: datetime | None) -> dict[str, Any]:
    """The event time of the market the run saw: from its first candle's open (event_start;
    for a run that did not record it, the candle that closed at the first snapshot) to its
    last market event (event_end, else the last snapshot)."""
    first = curve[0].ts if curve else run.started_at
    end = run.event_end or (curve[-1].ts if curve else run.ended_at or run.started_at)
    if until is not None:
        end = min(end, until)
    source = run.data_source or ""
    return {
        "open_from": run.event_start or first - timedelta(days=1),
        "close_from": run.event_start or first,
        "end": end,
        "source": source,
        "like": children_of(source),
    }


def _candles(
    conn: psycopg.Connection[Any], run: Run, window: dict[str, Any]
) -> tuple[dict[str, tuple[datetime, Decimal]], dict[str, list[tuple[datetime, Decimal]]]]:
    query = {**window, "symbols": list(run.parameters.symbols)}
    opens = {symbol: (opened, open_) for symbol, opened, open_ in conn.execute(_OPENS, query)}
    closes: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for symbol, closed, close in conn.execute(_CLOSES, query):
        closes[symbol].append((closed, close))
    return opens, dict(closes)


def _final(row: tuple[Any, ...]) -> FinalSnapshot:
    at, equity, cash, realized, unrealized, positions = row
    return FinalSnapshot(
        at, equity, cash, realized, unrealized, tuple(_position(p) for p in positions or ())
    )


def _position(data: dict[str, Any]) -> PositionRow:
    def amount(name: str) -> Decimal:
        return Decimal(str(data.get(name) or 0))

    market = data.get("market_price")
    return PositionRow(
        symbol=str(data["symbol"]),
        quantity=amount("quantity"),
        average_price=amount("average_price"),
        market_price=None if market in (None, "") else Decimal(str(market)),
        realized_pnl=amount("realized_pnl"),
        unrealized_pnl=amount("unrealized_pnl"),
    )


def dict_rows(
    conn: psycopg.Connection[Any], query: str, params: dict[str, Any]
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


def children_of(source: str) -> str:
    """The LIKE pattern of a source's own sub-sources (`<source>.history`, a warm-up)."""
    return like_literal(source) + ".%"
