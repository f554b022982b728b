"""Assemble a run's report from the database: figures, verdict, charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from engine.papertest.report import charts
from engine.papertest.report.data import RunData, load_run_data
from engine.papertest.report.metrics import (
    ExecutionStats,
    Performance,
    TradeStats,
    buy_and_hold,
    execution_stats,
    performance,
    trade_stats,
)
from engine.papertest.runs import Run
from engine.settings import VerdictSettings


@dataclass(frozen=True)
class Criterion:
    """One go/no-go criterion and whether the run met it."""

    name: str
    rule: str
    value: str
    passed: bool


@dataclass
class Report:
    """Everything a report shows; rendered to HTML, Markdown and JSON."""

    run: Run
    performance: Performance
    trades: TradeStats
    execution: ExecutionStats
    system: dict[str, Any]
    verdict: list[Criterion]
    alerts: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    benchmark_return: Decimal | None
    charts: dict[str, bytes] = field(default_factory=dict)

    @property
    def go(self) -> bool:
        return all(c.passed for c in self.verdict)


def build_report(
    conn: psycopg.Connection[Any],
    run: Run,
    verdict: VerdictSettings,
    until: datetime | None = None,
) -> Report:
    """Compute every figure of `run` from the database (up to event time `until`, when given)
    and draw its charts."""
    data = load_run_data(conn, run, until)
    perf = performance(data.curve, run.initial_capital)
    trades = trade_stats(data.fills, perf.elapsed)
    benchmark = buy_and_hold(data.closes, run.initial_capital, [p.ts for p in data.curve])
    held = [v for v in benchmark if v is not None]
    report = Report(
        run=run,
        performance=perf,
        trades=trades,
        execution=execution_stats(data.fills, data.order_statuses, data.rejections),
        system=_system(data),
        verdict=judge(perf, trades, verdict),
        alerts=data.alerts,
        gaps=data.gaps,
        benchmark_return=(held[-1] / run.initial_capital - 1) if held else None,
    )
    if data.curve:
        report.charts = {
            "equity": charts.equity_chart(data.curve, benchmark, data.fills),
            "drawdown": charts.drawdown_chart(data.curve, run.initial_capital),
            "exposure": charts.exposure_chart(data.curve),
        }
    return report


def judge(perf: Performance, trades: TradeStats, rules: VerdictSettings) -> list[Criterion]:
    """Mark each configured go/no-go criterion pass or fail."""
    sharpe = perf.sharpe
    return [
        Criterion(
            "max drawdown",
            f"<= {rules.max_drawdown * 100:.2f} %",
            f"{perf.max_drawdown * 100:.2f} %",
            perf.max_drawdown <= rules.max_drawdown,
        ),
        Criterion(
            "round trips",
            f">= {rules.min_round_trips}",
            str(trades.round_trips),
            trades.round_trips >= rules.min_round_trips,
        ),
        Criterion(
            "Sharpe",
            f">= {rules.min_sharpe}",
            f"{sharpe:.2f}" if sharpe is not None else "n/a",
            sharpe is not None and sharpe >= rules.min_sharpe,
        ),
        Criterion(
            "total return",
            f">= {rules.min_return * 100:.2f} %",
            f"{perf.total_return * 100:.2f} %",
            perf.total_return >= rules.min_return,
        ),
    ]


def _system(data: RunData) -> dict[str, Any]:
    stats = dict(data.run.extra.get("engine_stats") or {})
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
        "data_gaps": len(data.gaps),
        "missing_minutes": sum(int(g["missing"]) for g in data.gaps),
        "downtime_seconds": downtime,
        "errors": sum(1 for a in data.alerts if a["level"] == "critical"),
        "stages": stats.get("stages", {}),
        "restarts": stats.get("restarts", 0),
    }
