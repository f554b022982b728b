"""Assemble a run's report from the database: figures, verdict, assumptions, charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from engine.durations import parse_duration
from engine.reports import charts
from engine.reports.assumptions import (
    Assumptions,
    CaveatFacts,
    RunSettings,
    assumptions,
    caveats,
    run_settings,
)
from engine.reports.costs import ExecutionStats, execution_stats
from engine.reports.data import RunData, load_run_data
from engine.reports.exposure import ExposureStats, exposure_stats
from engine.reports.metrics import BuyAndHold, EquityPoint, buy_and_hold
from engine.reports.quality import Hole, candle_holes, explains, stale_episodes
from engine.reports.returns import Performance, bootstrap, performance
from engine.reports.trading import TradeStats, trade_stats
from engine.reports.verdict import Criterion, Verdict, judge
from engine.runs.registry import Run
from engine.settings import ReportSettings, Settings, VerdictSettings

__all__ = ["Criterion", "Provenance", "Report", "build_report"]


@dataclass(frozen=True)
class Provenance:
    """When the run ran, in both clocks."""

    started_at: datetime  # wall clock
    ended_at: datetime | None  # wall clock
    event_start: datetime | None  # first market data (a candle's open time, or a tick)
    event_end: datetime | None  # last market event
    planned_event_end: datetime | None  # event_start + duration
    covered: timedelta


@dataclass
class Report:
    """Everything a report shows; rendered to HTML, Markdown and JSON."""

    run: Run
    performance: Performance
    trades: TradeStats
    execution: ExecutionStats
    exposure: ExposureStats
    system: dict[str, Any]
    verdict: Verdict
    alerts: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    benchmark: BuyAndHold
    provenance: Provenance
    settings: RunSettings
    assumptions: Assumptions
    caveats: list[str]
    charts: dict[str, bytes] = field(default_factory=dict)
    #: The equity curve the figures were computed from (every snapshot).
    curve: list[EquityPoint] = field(default_factory=list)

    @property
    def go(self) -> bool:
        return self.verdict.go

    @property
    def benchmark_return(self) -> Decimal | None:
        return self.benchmark.total_return


def build_report(
    conn: psycopg.Connection[Any],
    run: Run,
    verdict: VerdictSettings,
    until: datetime | None = None,
    *,
    report_settings: ReportSettings | None = None,
    current: Settings | None = None,
    draw: bool = True,
) -> Report:
    """Compute every figure of `run` from the database (up to event time `until`, when given)
    and draw its charts (unless not `draw`). `current` stands in for settings the run did not
    record."""
    rules = report_settings or ReportSettings()
    data = load_run_data(conn, run, until)
    recorded = run_settings(run, current or Settings())
    event_end = (
        run.event_end if until is None or run.event_end is None else min(run.event_end, until)
    )
    perf = performance(
        data.curve,
        run.initial_capital,
        event_start=run.event_start,
        event_end=event_end,
        annualise_min_days=rules.annualise_min_days,
    )
    trades = trade_stats(data.fills, perf.elapsed, data.final, run.initial_capital)
    perf.bootstrap = bootstrap(
        run.run_id,
        [t.pnl for t in trades.trips],
        perf.daily,
        perf.total_return,
        rules.bootstrap_resamples,
    )
    execution = execution_stats(data.fills, data.orders, data.rejections)
    exposure = exposure_stats(
        data.curve,
        recorded.fraction("risk", "max_exposure"),
        recorded.fraction("risk", "max_position"),
    )
    benchmark = buy_and_hold(
        data.opens, data.closes, run.initial_capital, [p.ts for p in data.curve]
    )
    holes = candle_holes(
        data.closes,
        run.parameters.symbols,
        run.event_start or (data.curve[0].ts if data.curve else run.started_at),
        event_end or (data.curve[-1].ts if data.curve else run.started_at),
        data.gaps,
    )
    system = _system(data, holes)
    report = Report(
        run=run,
        performance=perf,
        trades=trades,
        execution=execution,
        exposure=exposure,
        system=system,
        verdict=judge(perf, trades, verdict),
        alerts=data.alerts,
        gaps=_gaps(data.gaps, holes),
        benchmark=benchmark,
        provenance=_provenance(run, perf.elapsed, event_end),
        settings=recorded,
        assumptions=assumptions(run, recorded),
        caveats=caveats(run, _facts(perf, trades, execution, system, recorded), verdict),
        curve=list(data.curve),
    )
    if data.curve and draw:
        report.charts = {
            "equity": charts.equity_chart(data.curve, benchmark, data.fills, run.initial_capital),
            "drawdown": charts.drawdown_chart(data.curve, run.initial_capital),
            "exposure": charts.exposure_chart(
                data.curve, exposure.max_exposure_limit, exposure.max_position_limit
            ),
        }
    return report


def _provenance(run: Run, covered: timedelta, event_end: datetime | None) -> Provenance:
    planned = (
        run.event_start + parse_duration(run.parameters.duration)
        if run.event_start is not None
        else None
    )
    return Provenance(run.started_at, run.ended_at, run.event_start, event_end, planned, covered)


def _facts(
    perf: Performance,
    trades: TradeStats,
    execution: ExecutionStats,
    system: dict[str, Any],
    recorded: RunSettings,
) -> CaveatFacts:
    return CaveatFacts(
        round_trips=trades.round_trips,
        covered=perf.elapsed,
        partial_days=[d.isoformat() for d in perf.partial_days],
        gaps=int(system["data_gaps"]),
        missing_minutes=int(system["missing_minutes"]),
        restarts=int(system["restarts"]),
        resumes=int(system["resumes"]),
        stale_episodes=int(system["stale_episodes"]),
        downtime_seconds=float(system["downtime_seconds"]),
        epochs=int(system["epochs"]),
        outages=len(system["outages"]),
        outage_restarts=sum(o["restarts"] for o in system["outages"]),
        without_decision_price=execution.costs.without_decision_price if execution.costs else 0,
        reconciled=None if trades.reconciliation is None else trades.reconciliation.reconciled,
        settings_recorded=recorded.recorded,
    )


def _gaps(recorded: list[dict[str, Any]], holes: list[Hole] | None) -> list[dict[str, Any]]:
    """The Data gaps table: each hole in the candles, with the cause a recorded gap gives
    it, and the recorded gaps no hole is left of (back-filled whole). Without candles (a
    tick feed): the recorded gaps."""
    if holes is None:
        return recorded
    shown = [
        {
            "symbol": h.symbol,
            "cause": h.cause,
            "gap_start": h.start,
            "gap_end": h.end,
            "missing": h.minutes,
            "backfilled": 0,
            "detail": None,
        }
        for h in holes
    ]
    shown += [g for g in recorded if not any(explains(g, h.symbol, h.start) for h in holes)]
    return sorted(shown, key=lambda g: (g["gap_start"], g["symbol"]))


def _system(data: RunData, holes: list[Hole] | None) -> dict[str, Any]:
    downtime = sum(
        (
            (g["gap_end"] - g["gap_start"]).total_seconds()
            for g in data.gaps
            if g["cause"] == "downtime"
        ),
        0.0,
    )
    return {
        **data.counts,
        "dead_letters": data.dead_letters,
        **_missing(data, holes),
        "recorded_gaps": len(data.gaps),
        "stale_episodes": len(stale_episodes(data.alerts)),
        "resumes": len(data.control.resumes),
        "downtime_seconds": downtime,
        "errors": sum(1 for a in data.alerts if a["level"] == "critical"),
        "stages": data.control.stage_stats,
        "restarts": data.control.restarts,
        "epochs": max(data.control.epoch, 1),
        "outages": [_outage(o, data.run.ended_at) for o in data.outages],
    }


def _missing(data: RunData, holes: list[Hole] | None) -> dict[str, Any]:
    """Missing minutes from the candles (per symbol), or from the recorded gaps when the run
    had no candle to count by."""
    if holes is None:
        return {
            "data_gaps": len(data.gaps),
            "missing_minutes": sum(int(g["missing"]) for g in data.gaps),
            "missing_minutes_by_symbol": {},
        }
    by_symbol = dict.fromkeys(data.run.parameters.symbols, 0)
    for hole in holes:
        by_symbol[hole.symbol] += hole.minutes
    return {
        "data_gaps": len(holes),
        "missing_minutes": sum(by_symbol.values()),
        "missing_minutes_by_symbol": by_symbol,
    }


def _outage(row: dict[str, Any], run_ended: datetime | None) -> dict[str, Any]:
    """One outage as the report shows it: what, when (wall clock), how long, restarts."""
    ended = row["ended_at"]
    until = ended or run_ended
    return {
        "component": row["component"],
        "began_at": row["began_at"],
        "ended_at": ended,
        "downtime_seconds": None if until is None else (until - row["began_at"]).total_seconds(),
        "restarts": int(row["restarts"]),
        "detail": row["detail"],
    }
