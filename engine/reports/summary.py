"""A running (or ended) papertest at a glance: progress, equity, PnL, risk, positions, alerts.

Read from the database only, so it works from any terminal while the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from engine.durations import in_real_time, parse_duration
from engine.reports.data import children_of, dict_rows
from engine.reports.jsonable import jsonable
from engine.reports.metrics import FillRow, round_trips
from engine.reports.quality import MINUTE, expected_minutes, stale_episodes
from engine.runs.control import RunControl
from engine.runs.registry import Run, utc_now
from engine.settings import Settings
from engine.storage.outages import OutageLog

ZERO = Decimal(0)


@dataclass
class RunSummary:
    """The figures `claire papertest status` shows."""

    run: Run
    engine: str  # running | crashed | completed | stopped | aborted | failed
    elapsed: timedelta
    planned: timedelta
    progress: Decimal
    equity: Decimal
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_return: Decimal
    daily_drawdown: Decimal
    max_drawdown: Decimal
    exposure_pct: Decimal
    limits: dict[str, Decimal]
    positions: list[dict[str, Any]]
    fills: int
    round_trips: int
    win_rate: Decimal | None
    last_event_time: datetime | None
    market_data_age: timedelta | None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    #: The stall alert's words while the run makes no progress, else None.
    stalled: str | None = None
    #: Outages the supervisor recorded during the run, and how many are still going on.
    outages: int = 0
    outages_ongoing: int = 0
    #: symbol -> minutes without a candle so far (whatever the cause); empty: not counted
    #: (no event time yet, or a feed of trades or quotes only).
    missing_minutes: dict[str, int] = field(default_factory=dict)
    stale_episodes: int = 0
    resumes: int = 0
    #: The engine process that holds the run (host and pid), and how long ago it last beat
    #: its heartbeat (wall clock; None for an ended run).
    held_by: str | None = None
    heartbeat_age: timedelta | None = None

    @property
    def remaining(self) -> timedelta:
        return max(timedelta(), self.planned - self.elapsed)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable({k: v for k, v in vars(self).items() if k != "run"})
        data["run_id"] = self.run.run_id
        data["name"] = self.run.name
        data["status"] = self.run.status
        data["end_reason"] = self.run.end_reason
        data["group_id"] = self.run.group_id
        data["strategy"] = self.run.parameters.strategy
        data["strategy_params"] = dict(self.run.parameters.strategy_params)
        data["remaining"] = self.remaining.total_seconds()
        return data


_LATEST = """
SELECT "timestamp", equity, cash, realized_pnl, unrealized_pnl, exposure_pct,
       daily_drawdown_pct, max_drawdown_pct, positions
  FROM portfolio_snapshots WHERE run_id = %s ORDER BY "timestamp" DESC, sequence DESC LIMIT 1
"""
_FIRST = 'SELECT MIN("timestamp") FROM portfolio_snapshots WHERE run_id = %s'
_FILLS = """
SELECT "timestamp", symbol, side, quantity, execution_price, fees, slippage_bps, order_id
  FROM trades WHERE run_id = %s ORDER BY "timestamp", trade_id
"""
_ALERTS = """
SELECT ts_event, level, code, message, cleared, symbol FROM alerts
 WHERE run_id = %s ORDER BY ts_event DESC, event_id DESC LIMIT 20
"""
_ERRORS = """
SELECT (SELECT COUNT(*) FROM alerts WHERE run_id = %s AND level = 'critical')
     + (SELECT COUNT(*) FROM dead_letters WHERE created_at >= %s)
"""
_HELD = """
SELECT symbol, COUNT(DISTINCT date_trunc('minute', close_time - interval '1 millisecond'))
  FROM candles
 WHERE (source = %(source)s OR source LIKE %(like)s) AND symbol = ANY(%(symbols)s)
   AND interval = '1m' AND close_time > %(first)s AND close_time <= %(last)s
 GROUP BY symbol
"""
_STALE = """
SELECT ts_event, code, cleared, symbol FROM alerts
 WHERE run_id = %(run)s AND code = 'market_data_stale' ORDER BY ts_event
"""
_MARKET = """
SELECT MAX(ts_init), MAX(ts_event) FROM candles WHERE source = %s OR source LIKE %s
"""


def summarize(
    conn: psycopg.Connection[Any], run: Run, settings: Settings, engine: str
) -> RunSummary:
    """Read the run's newest snapshot, fills and alerts into a summary."""
    latest = conn.execute(_LATEST, (run.run_id,)).fetchone()
    first_row = conn.execute(_FIRST, (run.run_id,)).fetchone()
    first = first_row[0] if first_row and first_row[0] else None
    capital = run.initial_capital
    if latest is None:
        latest = (None, capital, capital, ZERO, ZERO, ZERO, ZERO, ZERO, [])
    at, equity, cash, realized, unrealized, exposure, daily, worst, positions = latest
    fills = [FillRow(*row) for row in conn.execute(_FILLS, (run.run_id,)).fetchall()]
    trips, _ = round_trips(fills)
    planned = parse_duration(run.parameters.duration)
    elapsed = (at - first) if at is not None and first is not None else timedelta()
    if run.running and in_real_time(run.parameters.source, run.parameters.speed):
        elapsed = utc_now() - run.started_at  # real time: the wall clock decides
    if run.end_reason == "planned end reached":
        elapsed = planned
    source = run.data_source or ""
    market_row = conn.execute(_MARKET, (source, children_of(source))).fetchone() or (None, None)
    errors_row = conn.execute(_ERRORS, (run.run_id, run.started_at)).fetchone()
    outage_log = OutageLog(conn)
    outages = outage_log.of_run(run.run_id)
    control = RunControl(conn).get(run.run_id)
    return RunSummary(
        run=run,
        engine=engine,
        elapsed=elapsed,
        planned=planned,
        progress=min(
            Decimal(1), Decimal(elapsed.total_seconds()) / Decimal(planned.total_seconds())
        ),
        equity=equity,
        cash=cash,
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        total_return=equity / capital - 1,
        daily_drawdown=daily,
        max_drawdown=worst,
        exposure_pct=exposure,
        limits={
            "max_daily_drawdown": settings.risk.max_daily_drawdown,
            "abort_drawdown": settings.risk.abort_drawdown,
            "max_exposure": settings.risk.max_exposure,
        },
        positions=list(positions or []),
        fills=len(fills),
        round_trips=len(trips),
        win_rate=Decimal(sum(1 for t in trips if t.pnl > 0)) / len(trips) if trips else None,
        last_event_time=at,
        market_data_age=_market_data_age(run, at, *market_row) if run.running else None,
        alerts=_alerts(conn, run),
        errors=int(errors_row[0]) if errors_row else 0,
        stalled=outage_log.stall_of(run.run_id) if run.running else None,
        outages=len(outages),
        outages_ongoing=sum(1 for o in outages if o.ended_at is None),
        missing_minutes=_missing_minutes(conn, run, at),
        stale_episodes=len(stale_episodes(dict_rows(conn, _STALE, {"run": run.run_id}))),
        resumes=len(control.resumes),
        held_by=control.engine,
        heartbeat_age=utc_now() - control.heartbeat_at
        if run.running and control.heartbeat_at is not None
        else None,
    )


def _alerts(conn: psycopg.Connection[Any], run: Run) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(_ALERTS.encode(), (run.run_id,))
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _market_data_age(
    run: Run, at: datetime | None, stored: datetime | None, newest: datetime | None
) -> timedelta | None:
    """How old the run's newest market data is, on the run's own clock: the wall clock for
    a live run (when it was stored), event time for a paced or full-speed one (how far the
    run's newest instant is past the newest candle's time). Never negative."""
    if in_real_time(run.parameters.source, run.parameters.speed):
        age = None if stored is None else utc_now() - stored
    else:
        age = None if at is None or newest is None else at - newest
    return None if age is None else max(age, timedelta())


def _missing_minutes(
    conn: psycopg.Connection[Any], run: Run, at: datetime | None
) -> dict[str, int]:
    """Per symbol, the minutes from the run's first market data to its newest instant that
    hold no candle (as the report counts them)."""
    if run.event_start is None or at is None:
        return {}
    first, last = expected_minutes(run.event_start, at)
    if last < first:
        return dict.fromkeys(run.parameters.symbols, 0)
    source = run.data_source or ""
    held = dict(
        conn.execute(
            _HELD,
            {
                "source": source,
                "like": children_of(source),
                "symbols": list(run.parameters.symbols),
                "first": first,
                "last": last + MINUTE + timedelta(milliseconds=1),
            },
        ).fetchall()
    )
    if not held:
        return {}  # no candle at all: a feed of trades or quotes
    expected = int((last - first) / MINUTE) + 1
    return {symbol: expected - int(held.get(symbol, 0)) for symbol in run.parameters.symbols}
