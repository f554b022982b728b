"""The verdict: GO, NO-GO or INCONCLUSIVE from the settings' criteria.

Performance and TradeStats come from the real figure functions on a small run; each case
then changes the one figure it is about (`dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.reports.metrics import EquityPoint, FillRow
from engine.reports.returns import Performance, performance
from engine.reports.trading import TradeStats, trade_stats
from engine.reports.verdict import Outcome, judge
from engine.settings import VerdictSettings

T0 = datetime(2026, 1, 5, tzinfo=UTC)
D = Decimal
RULES = VerdictSettings()  # 30 round trips, 7 days, PSR 0.95, drawdown 15 %, return 0
#: Daily returns of a steady run: 10 days, one small losing day.
RETURNS = ["0.01", "0.02", "-0.005", "0.01", "0.015", "0.01", "0.02", "0.005", "0.01", "0.01"]


def good_run() -> Performance:
    """Ten days, one snapshot at noon each, equity compounding RETURNS from 1000."""
    equity, points = D(1000), []
    for day, r in enumerate(RETURNS):
        equity *= 1 + D(r)
        points.append(EquityPoint(T0 + timedelta(days=day, hours=12), equity, equity, D(0)))
    return performance(points, D(1000), event_start=T0, event_end=T0 + timedelta(days=9, hours=23))


def trips(count: int) -> TradeStats:
    """`count` winning round trips: buy 1 at 100, sell at 101, no fee."""
    fills = []
    for i in range(count):
        opened = T0 + timedelta(hours=i)
        fills.append(FillRow(opened, "BTCUSDT", "buy", D(1), D(100), D(0), None, f"b{i}"))
        fills.append(
            FillRow(
                opened + timedelta(minutes=30), "BTCUSDT", "sell", D(1), D(101), D(0), None, f"s{i}"
            )
        )
    return trade_stats(fills, timedelta(days=10))


def test_outcome_values_are_the_exit_codes() -> None:
    assert (Outcome.GO, Outcome.NO_GO, Outcome.INCONCLUSIVE) == (0, 1, 2)
    assert [o.label for o in Outcome] == ["GO", "NO-GO", "INCONCLUSIVE"]


def test_the_defaults_of_the_verdict_settings() -> None:
    assert RULES.min_round_trips == 30
    assert RULES.min_days == 7
    assert RULES.min_psr == D("0.95")
    assert RULES.max_drawdown == D("0.15")
    assert RULES.min_return == 0


def test_the_good_run_is_what_the_cases_start_from() -> None:
    perf = good_run()
    assert perf.elapsed == timedelta(days=9, hours=23)
    assert perf.psr is not None
    assert perf.psr > D("0.99")
    assert D("0.109") < perf.total_return < D("0.11")  # compounded: 1.1098...
    assert perf.max_drawdown == D("0.005")  # the one losing day
    assert trips(30).round_trips == 30


def test_enough_evidence_and_every_figure_passes_then_go() -> None:
    verdict = judge(good_run(), trips(30), RULES)
    assert verdict.outcome is Outcome.GO
    assert verdict.go
    assert verdict.label == "GO"
    assert verdict.reasons == ["all 5 criteria pass"]
    assert [c.name for c in verdict.criteria] == [
        "round trips",
        "days of data",
        "max drawdown",
        "probabilistic Sharpe ratio",
        "total return",
    ]
    assert all(c.passed and c.reason is None for c in verdict.criteria)
    assert [c.kind for c in verdict.criteria] == ["evidence"] * 2 + ["figure"] * 3


def test_too_few_round_trips_then_inconclusive() -> None:
    verdict = judge(good_run(), trips(12), RULES)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert int(verdict.outcome) == 2  # the exit code
    assert not verdict.go
    assert verdict.reasons == ["12 round trips of the 30 needed"]


def test_too_few_days_then_inconclusive() -> None:
    short = replace(good_run(), elapsed=timedelta(days=3))
    verdict = judge(short, trips(30), RULES)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.reasons == ["3d 00h of data of the 7 days needed"]


def test_exactly_the_evidence_needed_is_enough() -> None:
    exact = replace(good_run(), elapsed=timedelta(days=7))
    assert judge(exact, trips(30), RULES).outcome is Outcome.GO


def test_thin_evidence_and_a_failed_figure_then_still_inconclusive() -> None:
    # Only the drawdown decides on thin evidence: a low PSR does not.
    weak = replace(good_run(), psr=D("0.5"), elapsed=timedelta(days=3))
    verdict = judge(weak, trips(12), RULES)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.reasons == [
        "12 round trips of the 30 needed",
        "3d 00h of data of the 7 days needed",
    ]


def test_drawdown_above_the_limit_then_no_go_even_on_thin_evidence() -> None:
    deep = replace(good_run(), max_drawdown=D("0.2"))
    verdict = judge(deep, trips(12), RULES)
    assert verdict.outcome is Outcome.NO_GO
    assert int(verdict.outcome) == 1  # the exit code
    assert verdict.label == "NO-GO"
    assert verdict.reasons == [
        "max drawdown 20.00 % above the 15.00 % limit",
        "(thin evidence as well: 12 round trips of the 30 needed)",
    ]


def test_drawdown_above_the_limit_with_enough_evidence() -> None:
    deep = replace(good_run(), max_drawdown=D("0.2"))
    verdict = judge(deep, trips(30), RULES)
    assert verdict.outcome is Outcome.NO_GO
    assert verdict.reasons == ["max drawdown 20.00 % above the 15.00 % limit"]


def test_drawdown_at_the_limit_passes() -> None:
    edge = replace(good_run(), max_drawdown=D("0.15"))
    assert judge(edge, trips(30), RULES).outcome is Outcome.GO


@pytest.mark.parametrize(
    ("psr", "reason"),
    [(D("0.9"), "PSR 0.9000 below 0.95"), (None, "PSR n/a below 0.95")],
)
def test_enough_evidence_and_psr_below_the_minimum_then_no_go(
    psr: Decimal | None, reason: str
) -> None:
    verdict = judge(replace(good_run(), psr=psr), trips(30), RULES)
    assert verdict.outcome is Outcome.NO_GO
    assert verdict.reasons == [reason]


def test_enough_evidence_and_a_loss_then_no_go() -> None:
    losing = replace(good_run(), total_return=D("-0.01"))
    verdict = judge(losing, trips(30), RULES)
    assert verdict.outcome is Outcome.NO_GO
    assert verdict.reasons == ["total return -1.00 % below 0.00 %"]


def test_every_failed_figure_is_a_reason() -> None:
    bad = replace(good_run(), psr=D("0.9"), total_return=D("-0.01"))
    verdict = judge(bad, trips(30), RULES)
    assert verdict.outcome is Outcome.NO_GO
    assert verdict.reasons == ["PSR 0.9000 below 0.95", "total return -1.00 % below 0.00 %"]
