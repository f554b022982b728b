"""The verdict: GO, NO-GO or INCONCLUSIVE, from criteria that are settings.

Evidence criteria (enough round trips, enough days of data) decide whether the figures can
be judged at all: failing one makes the verdict INCONCLUSIVE. A drawdown above the limit is
NO-GO even on thin evidence (more data cannot undo a drawdown). With enough evidence any
failed figure criterion (PSR, return) is NO-GO; otherwise GO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import IntEnum
from typing import Literal

from engine.durations import format_duration, plural
from engine.reports.metrics import decimal_seconds
from engine.reports.returns import Performance
from engine.reports.trading import TradeStats
from engine.settings import VerdictSettings

Kind = Literal["evidence", "figure"]


class Outcome(IntEnum):
    """A verdict; its value is the exit code of `claire papertest report --check`."""

    GO = 0
    NO_GO = 1
    INCONCLUSIVE = 2

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")


@dataclass(frozen=True)
class Criterion:
    """One criterion, the run's value and whether it passed; `reason` says why not."""

    name: str
    kind: Kind
    rule: str
    value: str
    passed: bool
    reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome and the reasons for it, with every criterion."""

    outcome: Outcome
    reasons: list[str]
    criteria: list[Criterion] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.outcome.label

    @property
    def go(self) -> bool:
        return self.outcome is Outcome.GO


def _pct(value: Decimal) -> str:
    return f"{value * 100:.2f} %"


def _days(value: int) -> str:
    return plural(value, "day")


def evidence(trades: TradeStats, covered: timedelta, rules: VerdictSettings) -> list[Criterion]:
    """Are there enough round trips and days of data to judge the figures?"""
    enough_trips = trades.round_trips >= rules.min_round_trips
    enough_days = decimal_seconds(covered) >= rules.min_days * 86_400
    return [
        Criterion(
            "round trips",
            "evidence",
            f">= {rules.min_round_trips}",
            str(trades.round_trips),
            enough_trips,
            None
            if enough_trips
            else f"{trades.round_trips} round trips of the {rules.min_round_trips} needed",
        ),
        Criterion(
            "days of data",
            "evidence",
            f">= {_days(rules.min_days)}",
            format_duration(covered),
            enough_days,
            None
            if enough_days
            else f"{format_duration(covered)} of data of the {_days(rules.min_days)} needed",
        ),
    ]


def figures(perf: Performance, rules: VerdictSettings) -> list[Criterion]:
    """Are the figures good enough? Max drawdown first: it decides even on thin evidence."""
    drawdown_ok = perf.max_drawdown <= rules.max_drawdown
    psr_ok = perf.psr is not None and perf.psr >= rules.min_psr
    return_ok = perf.total_return >= rules.min_return
    psr = "n/a" if perf.psr is None else f"{perf.psr:.4f}"
    criteria = [
        Criterion(
            "max drawdown",
            "figure",
            f"<= {_pct(rules.max_drawdown)} (decides even on thin evidence)",
            _pct(perf.max_drawdown),
            drawdown_ok,
            None
            if drawdown_ok
            else f"max drawdown {_pct(perf.max_drawdown)} above the"
            f" {_pct(rules.max_drawdown)} limit",
        ),
        Criterion(
            "probabilistic Sharpe ratio",
            "figure",
            f">= {rules.min_psr} (P[true Sharpe > 0], daily returns)",
            psr,
            psr_ok,
            None if psr_ok else f"PSR {psr} below {rules.min_psr}",
        ),
        Criterion(
            "total return",
            "figure",
            f">= {_pct(rules.min_return)}",
            _pct(perf.total_return),
            return_ok,
            None
            if return_ok
            else f"total return {_pct(perf.total_return)} below {_pct(rules.min_return)}",
        ),
    ]
    return criteria


def judge(perf: Performance, trades: TradeStats, rules: VerdictSettings) -> Verdict:
    """Mark each criterion and decide GO, NO-GO or INCONCLUSIVE."""
    proof = evidence(trades, perf.elapsed, rules)
    marks = figures(perf, rules)
    criteria = proof + marks
    drawdown = marks[0]
    if not drawdown.passed:
        missing = [c.reason for c in proof if c.reason]
        also = [f"(thin evidence as well: {'; '.join(missing)})"] if missing else []
        return Verdict(Outcome.NO_GO, [drawdown.reason or drawdown.name, *also], criteria)
    missing = [c.reason or c.name for c in proof if not c.passed]
    if missing:
        return Verdict(Outcome.INCONCLUSIVE, missing, criteria)
    failed = [c.reason or c.name for c in marks if not c.passed]
    if failed:
        return Verdict(Outcome.NO_GO, failed, criteria)
    return Verdict(Outcome.GO, [f"all {len(criteria)} criteria pass"], criteria)
