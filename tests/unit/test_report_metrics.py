"""Report figures on small cases checked by hand.

metrics (round trips, drawdown, time in market), returns (daily returns, Sharpe, Sortino, PSR,
bootstrap, annualised, performance), trading (round trips, open positions, reconciliation),
costs (implementation shortfall, execution stats) and exposure. Money is compared exactly;
a 28-digit ratio within `TOLERANCE`; the float estimates (PSR, bootstrap) with approx.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from statistics import NormalDist

import pytest

from engine.domain.portfolio import Portfolio
from engine.reports.costs import (
    OrderRow,
    execution_stats,
    implementation_shortfall,
    order_cost,
)
from engine.reports.exposure import exposure_stats, position_share
from engine.reports.metrics import (
    MATH,
    EquityPoint,
    FillRow,
    max_drawdown,
    percentile,
    round_trips,
    time_in_market,
)
from engine.reports.returns import (
    DailyReturn,
    annualised,
    bootstrap,
    bootstrap_interval,
    daily_returns,
    moments,
    percentile_ranks,
    performance,
    probabilistic_sharpe,
    resamples_of,
    run_coverage,
    seed_of,
    sharpe,
    sortino,
)
from engine.reports.trading import FinalSnapshot, PositionRow, trade_stats
from tests.unit.test_positions import buy

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00 UTC

D = Decimal
TOLERANCE = D("1e-20")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def near(value: Decimal | None, expected: Decimal, tolerance: Decimal = TOLERANCE) -> bool:
    """A 28-digit ratio against its value worked out another way."""
    return value is not None and abs(value - expected) < tolerance


# --- metrics: drawdown, time in market, round trips ------------------------------------------

CURVE = [
    EquityPoint(at(0), D(1000), D(1000), D(0)),
    EquityPoint(at(1), D(1010), D(900), D("0.5")),
    EquityPoint(at(2), D(990), D(900), D("0.5")),
    EquityPoint(at(3), D(1020), D(1020), D(0)),
    EquityPoint(at(4), D(1020), D(1020), D(0)),
]


#: 1010 -> 990, by hand: 20 / 1010 at 100 digits, rounded half-even to storage places.
_FALL_20_OF_1010 = Decimal("0.019801980198019802")


def test_drawdown_by_hand_is_20_of_1010_at_storage_places() -> None:
    with localcontext(prec=100):
        by_hand = D(20) / D(1010)
    assert by_hand.quantize(Decimal("1e-18")) == _FALL_20_OF_1010
    assert str(by_hand).startswith("0.01980198019801980198")  # ...0198 | 0198: rounds up


def test_drawdown_never_recovered_then_duration_to_the_end() -> None:
    worst, duration = max_drawdown(CURVE[:3], D(1000))
    assert worst == _FALL_20_OF_1010  # peak 1010 at minute 1, 990 at minute 2
    assert duration == timedelta(minutes=1)


def test_report_drawdown_equals_the_portfolios_on_the_same_equity() -> None:
    """The report's deepest fall of a curve is the portfolio's max drawdown over the same
    equity: one definition (`engine.domain.drawdown`)."""
    portfolio = Portfolio(D(1000))
    portfolio.apply_fill(buy("5", "100", at=at(0)))
    curve = []
    for minute, price in enumerate(("100", "101.3", "98.77", "99.9", "97.01")):
        portfolio.mark("BTCUSDT", D(price), at(minute))
        curve.append(EquityPoint(at(minute), portfolio.equity, D(0), D(0)))
    assert max_drawdown(curve, D(1000))[0] == portfolio.max_drawdown > 0


def test_drawdown_peak_starts_at_the_initial_capital() -> None:
    # The first snapshot is already under the capital: 950 of 1000 is 5 % down.
    points = [EquityPoint(at(0), D(950), D(950), D(0)), EquityPoint(at(5), D(1000), D(0), D(0))]
    assert max_drawdown(points, D(1000)) == (D("0.05"), timedelta(minutes=5))
    assert max_drawdown([], D(1000)) == (D(0), timedelta())


def test_time_in_market_is_time_weighted() -> None:
    # 0.3 holds 1 min, 0 holds 3 min, 0.2 holds 6 min; the last snapshot adds no time.
    points = [
        EquityPoint(at(0), D(1000), D(700), D("0.3")),
        EquityPoint(at(1), D(1000), D(1000), D(0)),
        EquityPoint(at(4), D(1000), D(800), D("0.2")),
        EquityPoint(at(10), D(1000), D(1000), D("0.9")),
    ]
    assert time_in_market(points) == D("0.7")  # (1 + 6) / 10
    assert time_in_market(points[:1]) == 0


def test_percentile_is_nearest_rank() -> None:
    ordered = [D(1), D(2), D(3), D(4)]
    assert percentile(ordered, 50) == 2  # rank ceil(0.5 x 4) = 2
    assert percentile(ordered, 90) == 4  # rank ceil(3.6) = 4
    assert percentile(ordered, 1) == 1  # rank ceil(0.04) = 1
    assert percentile([], 50) is None


def test_round_trip_of_several_buys_averages_its_entry() -> None:
    fills = [
        FillRow(at(0), "BTCUSDT", "buy", D(1), D(100), D("0.1"), None, "o1"),
        FillRow(at(1), "BTCUSDT", "buy", D(1), D(102), D("0.1"), None, "o2"),
        FillRow(at(2), "BTCUSDT", "sell", D(2), D(105), D("0.2"), None, "o3"),
    ]
    (trip,), still_open = round_trips(fills)
    assert still_open == 0
    assert trip.quantity == 2
    assert trip.entry_price == 101  # (100 + 102) / 2
    assert trip.exit_price == 105
    assert trip.pnl == D("7.6")  # 210 - 202 - 0.4
    assert trip.gross_pnl == 8
    assert trip.holding == timedelta(minutes=2)


def test_open_position_at_the_end_then_not_a_round_trip() -> None:
    fills = [
        FillRow(at(0), "BTCUSDT", "buy", D(1), D(100), D(0), None, "o1"),
        FillRow(at(1), "BTCUSDT", "sell", D(1), D(101), D(0), None, "o2"),
        FillRow(at(2), "ETHUSDT", "buy", D(1), D(50), D(0), None, "o3"),
    ]
    trips, still_open = round_trips(fills)
    assert [t.symbol for t in trips] == ["BTCUSDT"]
    assert still_open == 1


# --- returns: daily returns --------------------------------------------------------------------


def test_daily_returns_by_utc_day_last_snapshot_carry_and_partial_days() -> None:
    # The run: Jan 5 12:00 -> Jan 8 06:00 UTC, capital 1000.
    plus_two = timezone(timedelta(hours=2))
    points = [
        EquityPoint(T0 + timedelta(hours=12), D(1000), D(1000), D(0)),
        EquityPoint(T0 + timedelta(hours=18), D(1010), D(1000), D(0)),
        # Jan 6 00:30 at +02:00 is Jan 5 22:30 UTC: still Jan 5, and its last snapshot.
        EquityPoint(datetime(2026, 1, 6, 0, 30, tzinfo=plus_two), D(1020), D(1000), D(0)),
        # no snapshot on Jan 6
        EquityPoint(T0 + timedelta(days=2, hours=3), D(1000), D(1000), D(0)),
        EquityPoint(T0 + timedelta(days=2, hours=20), D(1071), D(1000), D(0)),
        EquityPoint(T0 + timedelta(days=3, hours=6), D(1050), D(1000), D(0)),
    ]
    days = daily_returns(points, D(1000), T0 + timedelta(hours=12), T0 + timedelta(days=3, hours=6))
    assert [d.day for d in days] == [date(2026, 1, d) for d in (5, 6, 7, 8)]
    assert [d.equity for d in days] == [D(1020), D(1020), D(1071), D(1050)]
    assert [d.snapshots for d in days] == [3, 0, 2, 1]
    assert days[0].value == D("0.02")  # 1020 / 1000 (the capital) - 1
    assert days[1].value == 0  # carried: 1020 / 1020 - 1
    assert days[2].value == D("0.05")  # 1071 / 1020 - 1
    assert near(days[3].value, D(-1) / D(51))  # 1050 / 1071 - 1 = -21 / 1071
    assert [d.covered for d in days] == [
        timedelta(hours=12),  # from 12:00
        timedelta(days=1),
        timedelta(days=1),
        timedelta(hours=6),  # to 06:00
    ]
    assert [d.partial for d in days] == [True, False, False, True]


def test_a_snapshot_at_midnight_closes_the_day_before() -> None:
    # The run: Jan 5 00:00 -> Jan 6 00:00, its last snapshot at Jan 6 00:00: one day, not two.
    points = [
        EquityPoint(T0 + timedelta(hours=12), D(1010), D(1010), D(0)),
        EquityPoint(T0 + timedelta(days=1), D(1020), D(1020), D(0)),
    ]
    (day,) = daily_returns(points, D(1000), T0, T0 + timedelta(days=1))
    assert day.day == date(2026, 1, 5)
    assert (day.equity, day.value, day.snapshots) == (D(1020), D("0.02"), 2)
    assert (day.covered, day.partial) == (timedelta(days=1), False)


def test_a_run_ending_at_midnight_has_no_empty_last_day() -> None:
    # Snapshots at noon on Jan 5, 6, 7; the run ends at Jan 8 00:00: three whole days.
    points = [
        EquityPoint(T0 + timedelta(days=i, hours=12), D(1000), D(1000), D(0)) for i in range(3)
    ]
    days = daily_returns(points, D(1000), T0, T0 + timedelta(days=3))
    assert [d.day for d in days] == [date(2026, 1, d) for d in (5, 6, 7)]
    assert not any(d.partial for d in days)


def test_daily_returns_without_event_times_span_the_snapshots() -> None:
    points = [
        EquityPoint(T0 + timedelta(hours=6), D(990), D(990), D(0)),
        EquityPoint(T0 + timedelta(days=1, hours=6), D(1000), D(1000), D(0)),
    ]
    days = daily_returns(points, D(1000))
    assert [d.value for d in days] == [D("-0.01"), D(1000) / D(990) - 1]
    assert [d.covered for d in days] == [timedelta(hours=18), timedelta(hours=6)]
    assert daily_returns([], D(1000)) == []


# --- returns: Sharpe, Sortino, PSR -----------------------------------------------------------


def test_sharpe_by_hand() -> None:
    returns = [D("0.01"), D("-0.01"), D("0.02"), D(0)]
    mean = D("0.005")
    # sample standard deviation: sqrt(((0.005)^2 + (0.015)^2 + (0.015)^2 + (0.005)^2) / 3)
    deviation = (D("0.0005") / 3).sqrt()
    expected = mean / deviation * D(365).sqrt()
    assert near(sharpe(returns), expected)


def test_sortino_by_hand() -> None:
    returns = [D("0.01"), D("-0.01"), D("0.02"), D(0)]
    # downside deviation: sqrt(((-0.01)^2 + 0 + 0 + 0) / 4) = sqrt(0.000025) = 0.005
    # mean 0.005 / 0.005 = 1, x sqrt(365)
    assert sortino(returns) == D(365).sqrt(MATH)


def test_sharpe_and_sortino_none_under_two_returns_or_without_variation() -> None:
    assert sharpe([]) is None
    assert sharpe([D("0.01")]) is None
    assert sharpe([D("0.01"), D("0.01"), D("0.01")]) is None  # stdev 0
    assert sortino([D("-0.01")]) is None
    assert sortino([D("0.01"), D("0.02")]) is None  # no losing day: no downside


def test_probabilistic_sharpe_symmetric_returns_by_hand() -> None:
    returns = [D("0.02"), D("-0.01"), D("0.03"), D("0.01"), D(0)]
    # mean 0.01; deviations 0.01, -0.02, 0.02, 0, -0.01; Σd² = 0.001
    # sample variance 0.001 / 4 = 0.00025: SR = 0.01 / sqrt(0.00025) = sqrt(0.4)
    # population: m2 = 0.001 / 5 = 2e-4; Σd³ = 0 so g3 = 0; Σd⁴ = 34e-8, m4 = 6.8e-8,
    # g4 = 6.8e-8 / (2e-4)² = 1.7
    # root's argument: 1 - 0 x SR + (1.7 - 1) / 4 x 0.4 = 1.07
    # z = sqrt(0.4) x sqrt(5 - 1) / sqrt(1.07) = 1.2228..., Φ(z) = 0.8893...
    shape = moments(returns)
    assert shape is not None
    assert shape[0] == pytest.approx(0, abs=1e-12)
    assert shape[1] == pytest.approx(1.7)
    expected = NormalDist().cdf(math.sqrt(0.4) * 2 / math.sqrt(1.07))
    assert probabilistic_sharpe(returns) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.8893, abs=1e-4)


def test_probabilistic_sharpe_skewed_returns_by_hand() -> None:
    returns = [D("0.04"), D(0), D(0), D(0)]
    # mean 0.01; deviations 0.03, -0.01 x 3; Σd² = 0.0012
    # sample variance 0.0012 / 3 = 0.0004: SR = 0.01 / 0.02 = 0.5
    # population: m2 = 3e-4, m3 = (27e-6 - 3e-6) / 4 = 6e-6, m4 = (81e-8 + 3e-8) / 4 = 21e-8
    # g3 = 6e-6 / (3e-4)^1.5 = 2 / sqrt(3); g4 = 21e-8 / 9e-8 = 7 / 3
    # argument: 1 - (2 / sqrt(3)) x 0.5 + (7/3 - 1) / 4 x 0.25 = 0.50598...
    # z = 0.5 x sqrt(3) / sqrt(0.50598) = 1.2175..., Φ(z) = 0.8883...
    shape = moments(returns)
    assert shape is not None
    assert shape[0] == pytest.approx(2 / math.sqrt(3))
    assert shape[1] == pytest.approx(7 / 3)
    argument = 1 - 2 / math.sqrt(3) * 0.5 + (7 / 3 - 1) / 4 * 0.25
    expected = NormalDist().cdf(0.5 * math.sqrt(3) / math.sqrt(argument))
    assert probabilistic_sharpe(returns) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.8883, abs=1e-4)


def test_probabilistic_sharpe_none_under_three_returns_or_without_variation() -> None:
    assert probabilistic_sharpe([D("0.01"), D("0.02")]) is None
    assert probabilistic_sharpe([D("0.01")] * 5) is None
    assert moments([D("0.01")] * 5) is None


def test_run_coverage_of_a_run_still_going_ends_at_its_last_snapshot() -> None:
    at = datetime(2026, 1, 5, 0, 1, tzinfo=UTC)
    points = [EquityPoint(at + timedelta(minutes=m), D(100), D(100), D(0)) for m in range(3)]
    start = at - timedelta(minutes=1)  # the first candle's open
    assert run_coverage(points, start, None) == timedelta(minutes=3)
    assert run_coverage(points, start, at + timedelta(minutes=5)) == timedelta(minutes=6)
    assert run_coverage(points, None, None) == timedelta(minutes=2)
    assert run_coverage([], None, None) == timedelta()


# --- returns: bootstrap ------------------------------------------------------------------------

DAYS = [
    DailyReturn(date(2026, 1, 5 + i), D(1000), D(v), 1, timedelta(days=1), False)
    for i, v in enumerate(["0.01", "-0.005", "0.02", "0", "0.01"])
]
PNLS = [D(v) for v in range(1, 11)]  # 1 .. 10, mean 5.5


def test_percentile_ranks_are_exact_nearest_ranks() -> None:
    # 2.5 % and 97.5 % of 2000 sorted draws are the 50th and the 1950th, not 51 (float 0.95)
    assert percentile_ranks(2000, 0.95) == (50, 1950)
    assert percentile_ranks(500, 0.95) == (13, 488)  # ceil(12.5), ceil(487.5)
    assert percentile_ranks(1, 0.95) == (1, 1)


def test_bootstrap_interval_picks_the_nearest_rank_draws() -> None:
    draws = iter(range(1, 2001))  # the statistic returns 1 .. 2000 in turn
    interval = bootstrap_interval([1.0, 2.0], lambda _sample: next(draws), 2000, seed=1)
    assert interval == (50, 1950)


def test_bootstrap_is_seeded_by_the_run_id() -> None:
    first = bootstrap("run-1", PNLS, DAYS, D("0.035"), resamples=500)
    again = bootstrap("run-1", PNLS, DAYS, D("0.035"), resamples=500)
    other = bootstrap("run-2", PNLS, DAYS, D("0.035"), resamples=500)
    assert first == again
    digest = hashlib.sha256(b"run-1:round_trips").digest()
    assert first.seeds["mean_round_trip_pnl"] == int.from_bytes(digest[:8], "big")
    assert first.seeds["total_return"] == seed_of("run-1", "daily_returns")
    assert other.seeds != first.seeds


def test_bootstrap_intervals_bracket_the_estimate() -> None:
    result = bootstrap("run-1", PNLS, DAYS, D("0.035"), resamples=500)
    assert result.resamples == 500
    assert result.confidence == pytest.approx(0.95)
    trips = result.mean_round_trip_pnl
    assert trips is not None
    assert trips.estimate == D("5.5")
    assert trips.samples == 10
    assert 1 <= trips.low <= trips.estimate <= trips.high <= 10  # a mean stays in 1 .. 10
    total = result.total_return
    assert total is not None
    assert total.estimate == D("0.035")  # as given
    assert total.samples == 5
    # compounding 5 draws of -0.5 % .. 2 %: between 0.995^5 - 1 and 1.02^5 - 1
    assert D("-0.025") < total.low <= total.estimate <= total.high < D("0.105")
    assert total.low == total.low.quantize(D("0.000001"))  # shown to 6 places


def test_bootstrap_none_under_two_values() -> None:
    result = bootstrap("run-1", PNLS[:1], DAYS[:1], D("0.01"), resamples=500)
    assert result.mean_round_trip_pnl is None
    assert result.total_return is None
    assert bootstrap_interval([1.0], math.fsum, 100, seed=1) is None


def test_bootstrap_interval_bounds_are_nearest_rank_draws() -> None:
    # A statistic that returns 1, 2, ..., 100 in turn: the sorted draws are 1 .. 100.
    # 95 %: ranks ceil(0.025 x 100) = 3 and ceil(0.975 x 100) = 98.
    counter = itertools.count(1)

    def counting(_: Sequence[float]) -> float:
        return float(next(counter))

    assert bootstrap_interval([0.0, 1.0], counting, 100, seed=7) == (3.0, 98.0)


@pytest.mark.parametrize("seed", [0, 1, 7, 2**32 - 1, 2**32, 2**63 + 12345, seed_of("run-1", "x")])
@pytest.mark.parametrize("n", [2, 3, 365, 1000])
def test_resamples_are_the_ones_random_choices_draws(seed: int, n: int) -> None:
    values = [random.Random(n).gauss(0, 1) for _ in range(n)]
    by_python = random.Random(seed)  # the definition the report documents

    expected = [by_python.choices(values, k=n) for _ in range(30)]

    assert list(resamples_of(values, 30, seed)) == expected


# --- returns: annualised, performance -------------------------------------------------------


def test_annualised_needs_30_days() -> None:
    value, note = annualised(D("0.1"), timedelta(days=29, hours=23), 30)
    assert value is None
    assert note == "n/a — needs 30 days (this run covers 29d 23h)"
    value, note = annualised(D("0.1"), timedelta(days=30), 30)  # 30 days is enough
    assert value is not None
    assert note is None


def test_annualised_by_hand() -> None:
    # 73 days: (1.1)^(365 / 73) - 1 = 1.1^5 - 1 = 0.61051, exactly
    assert annualised(D("0.1"), timedelta(days=73), 30) == (D("0.61051"), None)
    # 60 days: 1.1^(365 / 60) - 1 = 0.78568..., worked out in 50 digits
    with localcontext() as wide:
        wide.prec = 50
        expected = D("1.1") ** (D(365) / D(60)) - 1
    value, _ = annualised(D("0.1"), timedelta(days=60), 30)
    assert near(value, expected)


def test_annualised_none_when_the_capital_is_lost() -> None:
    assert annualised(D(-1), timedelta(days=60), 30) == (
        None,
        "n/a — the run lost all its capital",
    )


def test_performance_returns_drawdown_and_time_in_market_by_hand() -> None:
    result = performance(CURVE, D(1000))
    assert result.total_return == D("0.02")
    assert result.final_equity == D(1020)
    assert result.total_pnl == D(20)
    assert result.max_drawdown == _FALL_20_OF_1010  # 1010 -> 990
    assert result.max_drawdown_duration == timedelta(minutes=2)  # peak at 1, back at 3
    assert result.time_in_market == D("0.5")  # held from minute 1 to 3 of 4
    assert result.annualised_return is None  # 4 minutes: not annualised
    assert result.annualised_note == "n/a — needs 30 days (this run covers 4m 00s)"
    assert result.calmar is None  # no annualised return, no Calmar
    assert result.elapsed == timedelta(minutes=4)  # first to last snapshot


def test_performance_elapsed_from_event_start_and_end() -> None:
    result = performance(CURVE, D(1000), event_start=at(-1), event_end=at(6))
    assert result.elapsed == timedelta(minutes=7)


def test_performance_daily_figures_by_hand() -> None:
    # One snapshot at noon each day: returns 1010/1000 - 1, 999.9/1010 - 1, 1019.898/999.9 - 1
    points = [
        EquityPoint(T0 + timedelta(days=i, hours=12), D(e), D(e), D(0))
        for i, e in enumerate(["1010", "999.9", "1019.898"])
    ]
    result = performance(
        points, D(1000), event_start=T0, event_end=T0 + timedelta(days=2, hours=23)
    )
    assert [d.value for d in result.daily] == [D("0.01"), D("-0.01"), D("0.02")]
    assert result.partial_days == [date(2026, 1, 7)]  # 23 h of the last day
    # mean 0.02 / 3; Σd² = Σr² - n x mean² = 0.0006 - 0.0004 / 3 = 0.0014 / 3; / 2
    mean = D("0.02") / 3
    deviation = (D("0.0014") / 6).sqrt()
    assert near(result.daily_mean, mean)
    assert near(result.daily_stdev, deviation)
    assert near(result.sharpe, mean / deviation * D(365).sqrt())
    # downside sqrt(0.0001 / 3)
    assert near(result.sortino, mean / (D("0.0001") / 3).sqrt() * D(365).sqrt())
    psr = probabilistic_sharpe([D("0.01"), D("-0.01"), D("0.02")])
    assert psr is not None
    assert result.psr == D(repr(psr)).quantize(D("0.000001"))
    assert result.basis == "daily returns, UTC days, √365, 3 days"


def test_performance_over_60_days_then_annualised_and_calmar() -> None:
    points = [
        EquityPoint(T0, D(1000), D(1000), D(0)),
        EquityPoint(T0 + timedelta(days=10), D(900), D(400), D("0.5")),
        EquityPoint(T0 + timedelta(days=20), D(1000), D(500), D("0.5")),
        EquityPoint(T0 + timedelta(days=59), D(1100), D(1100), D(0)),
    ]
    result = performance(points, D(1000), event_start=T0, event_end=T0 + timedelta(days=60))
    assert result.elapsed == timedelta(days=60)
    assert len(result.daily) == 60  # Jan 5 .. Mar 5; the end, Mar 6 00:00, closes Mar 5
    assert result.total_return == D("0.1")
    assert result.max_drawdown == D("0.1")  # 1000 -> 900
    assert result.max_drawdown_duration == timedelta(days=20)  # day 0 (the peak) to day 20
    assert near(result.time_in_market, D(49) / D(59))  # held from day 10 to day 59 of 59
    with localcontext() as wide:
        wide.prec = 50
        expected = D("1.1") ** (D(365) / D(60)) - 1
    assert result.annualised_note is None
    assert near(result.annualised_return, expected)
    assert near(result.calmar, expected / D("0.1"), D("1e-19"))


# --- trading: round trips, open positions, reconciliation ------------------------------------

TRADES = [
    # BTC: a win. 110 - 100 - 0.21 = 9.79
    FillRow(at(0), "BTCUSDT", "buy", D(1), D(100), D("0.1"), None, "o1"),
    FillRow(at(10), "BTCUSDT", "sell", D(1), D(110), D("0.11"), None, "o2"),
    # ETH: a loss. 90 - 100 - 0.19 = -10.19
    FillRow(at(20), "ETHUSDT", "buy", D(2), D(50), D("0.1"), None, "o3"),
    FillRow(at(50), "ETHUSDT", "sell", D(2), D(45), D("0.09"), None, "o4"),
    # SOL: break-even. 100.1 - 100 - 0.1 = 0 (0.1 before fees)
    FillRow(at(60), "SOLUSDT", "buy", D(10), D(10), D("0.05"), None, "o5"),
    FillRow(at(80), "SOLUSDT", "sell", D(10), D("10.01"), D("0.05"), None, "o6"),
    # BTC again: still open at the end. Cost 60 + 0.06
    FillRow(at(90), "BTCUSDT", "buy", D("0.5"), D(120), D("0.06"), None, "o7"),
]
# Cash: 1000 - 100.1 + 109.89 - 100.1 + 89.91 - 100.05 + 100.05 - 60.06 = 939.54
# BTC 0.5 marked at 130: 65. Equity 939.54 + 65 = 1004.54
# Snapshot realized (a buy's fee at once): BTC -0.1 + 9.89 - 0.06 = 9.73, ETH -10.19, SOL 0
# Snapshot unrealized: (130 - 120) x 0.5 = 5; 9.73 - 10.19 + 5 = 4.54 = 1004.54 - 1000
BTC_HELD = PositionRow("BTCUSDT", D("0.5"), D(120), D(130), D("9.73"), D(5))
FINAL = FinalSnapshot(at(100), D("1004.54"), D("939.54"), D("-0.46"), D(5), (BTC_HELD,))


def test_trade_stats_wins_losses_break_even_by_hand() -> None:
    stats = trade_stats(TRADES, timedelta(days=1))
    assert stats.fills == 7
    assert stats.trades_per_day == 7
    assert stats.round_trips == 3
    assert [t.pnl for t in stats.trips] == [D("9.79"), D("-10.19"), D(0)]
    assert (stats.wins, stats.losses, stats.break_even) == (1, 1, 1)
    assert stats.win_rate == D(1) / D(3)  # the break-even trip counts in the round trips
    assert stats.profit_factor == D("9.79") / D("10.19")
    assert stats.expectancy == D("-0.4") / 3  # (9.79 - 10.19 + 0) / 3
    assert stats.average_win == D("9.79")
    assert stats.average_loss == D("-10.19")
    assert stats.average_holding == timedelta(minutes=20)  # (10 + 30 + 20) / 3
    assert stats.net_pnl == D("-0.4")
    assert stats.gross_pnl == D("0.1")  # 10 - 10 + 0.1


def test_trade_stats_fees_split_between_round_trips_and_open() -> None:
    stats = trade_stats(TRADES, timedelta(days=1))
    assert stats.round_trip_fees == D("0.5")  # 0.21 + 0.19 + 0.1
    assert stats.open_fees == D("0.06")
    assert stats.fees == D("0.56")  # every fill's fee
    assert stats.fee_share_of_gross == 5  # 0.5 / |0.1|: round trips' fees only


def test_trade_stats_without_a_final_snapshot() -> None:
    stats = trade_stats(TRADES, timedelta(days=1))
    assert stats.open_positions == 1  # the open BTC leg
    assert stats.open == []
    assert stats.reconciliation is None


def test_trade_stats_open_positions_by_symbol_and_reconciliation_by_hand() -> None:
    stats = trade_stats(TRADES, timedelta(days=1), FINAL, D(1000))
    assert stats.open_positions == 1
    (held,) = stats.open
    assert held.symbol == "BTCUSDT"
    assert held.opened == at(90)  # since BTC was last flat
    assert held.mark == 130
    assert held.value == 65  # 0.5 x 130
    assert held.cost == D("60.06")  # 60 + 0.06
    assert held.fees == D("0.06")
    assert held.pnl == D("4.94")  # 65 - 60.06
    assert (held.realized_pnl, held.unrealized_pnl) == (D("9.73"), D(5))

    by_symbol = {s.symbol: s for s in stats.by_symbol}
    assert list(by_symbol) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    btc = by_symbol["BTCUSDT"]
    assert (btc.round_trips, btc.round_trip_pnl, btc.open_pnl) == (1, D("9.79"), D("4.94"))
    assert btc.fees == D("0.27")  # 0.21 of the trip + 0.06 open
    assert btc.total == D("14.73")
    assert by_symbol["ETHUSDT"].total == D("-10.19")
    assert by_symbol["SOLUSDT"].total == 0

    check = stats.reconciliation
    assert check is not None
    assert check.round_trip_pnl == D("-0.4")
    assert check.open_pnl == D("4.94")
    assert check.accounted == D("4.54")
    assert check.total_pnl == D("4.54")  # 1004.54 - 1000
    assert check.difference == 0
    assert check.reconciled
    assert (check.snapshot_realized, check.snapshot_unrealized) == (D("-0.46"), D(5))
    assert check.snapshot_difference == 0  # 4.54 - (-0.46 + 5)


def test_reconciliation_fails_on_an_inconsistent_final_snapshot() -> None:
    wrong = FinalSnapshot(at(100), D(1005), D("939.54"), D("-0.46"), D(5), (BTC_HELD,))
    check = trade_stats(TRADES, timedelta(days=1), wrong, D(1000)).reconciliation
    assert check is not None
    assert check.total_pnl == 5
    assert check.difference == D("0.46")  # 5 - 4.54
    assert not check.reconciled
    assert check.snapshot_difference == D("0.46")  # 5 - 4.54


def test_open_position_marked_at_its_average_without_a_market_price() -> None:
    row = PositionRow("BTCUSDT", D("0.5"), D(120), None, D("9.73"), D(0))
    final = FinalSnapshot(at(100), D("999.54"), D("939.54"), D("-0.46"), D(0), (row,))
    stats = trade_stats(TRADES, timedelta(days=1), final, D(1000))
    (held,) = stats.open
    assert held.mark == 120
    assert held.value == 60
    assert held.pnl == D("-0.06")  # 60 - 60.06: the fee
    assert stats.reconciliation is not None
    assert stats.reconciliation.reconciled  # -0.4 - 0.06 = 999.54 - 1000


def test_trade_stats_without_losses_or_gross() -> None:
    fills = [
        FillRow(at(0), "BTCUSDT", "buy", D(1), D(10), D(0), None, "o1"),
        FillRow(at(1), "BTCUSDT", "sell", D(1), D(10), D(0), None, "o2"),
    ]
    stats = trade_stats(fills, timedelta(seconds=10))  # counted as a minute at least
    assert stats.break_even == 1
    assert stats.win_rate == 0
    assert stats.profit_factor is None  # no loss to divide by
    assert stats.fee_share_of_gross is None  # gross 0
    assert stats.trades_per_day == 2880  # 2 fills / (1 / 1440 day)
    empty = trade_stats([], timedelta(days=1))
    assert (empty.round_trips, empty.win_rate, empty.expectancy) == (0, None, None)
    assert empty.average_holding is None


# --- costs: implementation shortfall, execution stats ----------------------------------------


TWO = D(2)
HUNDRED = D(100)


def order(
    order_id: str,
    side: str = "buy",
    *,
    order_type: str = "market",
    quantity: Decimal = TWO,
    filled: Decimal = TWO,
    status: str = "filled",
    decision: Decimal | None = HUNDRED,
) -> OrderRow:
    return OrderRow(
        order_id, "BTCUSDT", side, order_type, quantity, filled, status, "entry", None, decision, T0
    )


def fill(
    order_id: str,
    side: str,
    price: str,
    reference: str | None,
    *,
    quantity: Decimal = TWO,
    fee: str = "0.2",
    slippage_bps: Decimal | None = None,
) -> FillRow:
    return FillRow(
        at(1),
        "BTCUSDT",
        side,
        quantity,
        D(price),
        D(fee),
        slippage_bps,
        order_id,
        None if reference is None else D(reference),
    )


def test_order_cost_of_a_buy_by_hand() -> None:
    # decided at 100, arrived at 100.5, executed at 100.6, quantity 2, fee 0.2
    cost = order_cost(order("b"), [fill("b", "buy", "100.6", "100.5")])
    assert cost.quantity == 2
    assert cost.notional == 200  # 2 x 100
    assert cost.delay == D("1.0")  # 2 x (100.5 - 100)
    assert cost.slippage == D("0.2")  # 2 x (100.6 - 100.5)
    assert cost.fees == D("0.2")
    assert cost.total == D("1.4")
    # bps: amount x 10,000 / 200
    assert cost.bps == {"delay": 50, "slippage": 10, "fees": 10, "total": 70}
    assert (cost.fills, cost.decision_price, cost.reason) == (1, D(100), "entry")


def test_order_cost_of_a_sell_flips_the_sign() -> None:
    # decided at 100, arrived at 99.5, executed at 99.4: both moves cost a seller
    cost = order_cost(order("s", "sell"), [fill("s", "sell", "99.4", "99.5")])
    assert cost.delay == D("1.0")  # -1 x 2 x (99.5 - 100)
    assert cost.slippage == D("0.2")  # -1 x 2 x (99.4 - 99.5)
    assert cost.total == D("1.4")
    # arrived at 100.5 (the market rose for the seller), executed at 100.4
    cost = order_cost(order("s", "sell"), [fill("s", "sell", "100.4", "100.5")])
    assert cost.delay == D("-1.0")  # -1 x 2 x (100.5 - 100): a gain
    assert cost.slippage == D("0.2")  # -1 x 2 x (100.4 - 100.5)
    assert cost.total == D("-0.6")  # -1.0 + 0.2 + 0.2
    assert cost.bps["total"] == -30  # -0.6 x 10,000 / 200


def test_order_cost_over_several_fills_and_without_an_arrival_price() -> None:
    fills = [
        fill("b", "buy", "100.6", "100.5", quantity=D(1), fee="0.1"),
        fill("b", "buy", "100.8", None, quantity=D(1), fee="0.1"),  # arrival: its own price
    ]
    cost = order_cost(order("b"), fills)
    assert cost.delay == D("1.3")  # 1 x 0.5 + 1 x 0.8
    assert cost.slippage == D("0.1")  # 1 x 0.1 + 1 x 0
    assert cost.fees == D("0.2")
    assert cost.total == D("1.6")
    with pytest.raises(ValueError, match="no decision price"):
        order_cost(order("b", decision=None), fills)


ORDERS = [
    order("b"),  # measured: total 1.4, 70 bps
    order("s", "sell"),  # measured: total -0.6, -30 bps
    order("n", quantity=D(1), filled=D(1), decision=None),  # filled, no decision price
    order("l", order_type="limit", quantity=D(3), filled=D(1), status="partially_filled"),
    order("r", quantity=D(1), filled=D(0), status="rejected"),
]
FILLS = [
    fill("b", "buy", "100.6", "100.5", slippage_bps=D(10)),
    fill("s", "sell", "100.4", "100.5", slippage_bps=D(5)),
    fill("n", "buy", "101", None, quantity=D(1), fee="0.1"),
    fill("l", "buy", "99", "99", quantity=D(1), fee="0.1", slippage_bps=D(2)),
]


def test_implementation_shortfall_counts_what_it_leaves_out() -> None:
    summary = implementation_shortfall(ORDERS, FILLS)
    assert summary.measured == 2
    assert [c.order_id for c in summary.orders] == ["b", "s"]
    assert summary.without_decision_price == 1  # "n"
    assert summary.limit_orders == 1  # "l"; "r" has no fill
    assert summary.notional == 400
    # delay 1.0 - 1.0, slippage 0.2 + 0.2, fees 0.2 + 0.2, total 1.4 - 0.6
    assert summary.totals == {"delay": 0, "slippage": D("0.4"), "fees": D("0.4"), "total": D("0.8")}
    assert summary.totals_bps == {"delay": 0, "slippage": 10, "fees": 10, "total": 20}
    total = summary.distribution_bps["total"]  # of -30 and 70
    assert (total["min"], total["p50"], total["p90"], total["max"]) == (
        D(-30),
        D(-30),
        D(70),
        D(70),
    )
    assert total["mean"] == 20


def test_execution_stats_fill_ratio_partial_fills_slippage_rejections() -> None:
    reasons = ["no market price", "max exposure", "no market price"]
    stats = execution_stats(FILLS, ORDERS, reasons)
    assert stats.orders == 5
    assert stats.filled_orders == 3
    assert stats.orders_with_fills == 4  # every order but "r"
    assert stats.partial_fills == 1  # "l": 1 of 3
    assert stats.fill_ratio == D("0.8")  # 4 / 5
    assert near(stats.quantity_fill_ratio, D(2) / D(3))  # (2 + 2 + 1 + 1) / (2 + 2 + 1 + 3 + 1)
    # slippage of the fills that have one: 2, 5, 10
    assert stats.slippage_bps == {
        "min": 2,
        "p50": 5,  # rank ceil(1.5) = 2
        "p90": 10,  # rank ceil(2.7) = 3
        "p99": 10,
        "max": 10,
        "mean": D(17) / D(3),
    }
    assert stats.rejections == {"max exposure": 1, "no market price": 2}
    assert list(stats.rejections) == ["max exposure", "no market price"]  # sorted
    assert stats.costs is not None
    assert stats.costs.measured == 2


def test_execution_stats_of_nothing() -> None:
    stats = execution_stats([], [], [])
    assert stats.orders == 0
    assert stats.fill_ratio is None
    assert stats.quantity_fill_ratio is None
    assert set(stats.slippage_bps.values()) == {None}
    assert stats.rejections == {}
    assert stats.costs is not None
    assert stats.costs.measured == 0
    assert set(stats.costs.totals_bps.values()) == {None}


# --- exposure --------------------------------------------------------------------------------


def test_position_share_over_equity() -> None:
    assert position_share(EquityPoint(T0, D(1200), D(0), D(1), D(72))) == D("0.06")
    assert position_share(EquityPoint(T0, D(1000), D(1000), D(0))) == 0  # flat
    assert position_share(EquityPoint(T0, D(0), D(0), D(1), D(50))) == 0  # no equity


def test_exposure_stats_time_above_the_limits_by_hand() -> None:
    points = [
        EquityPoint(at(0), D(1000), D(200), D("0.8"), D(0)),  # at the limit: not above
        EquityPoint(at(10), D(1000), D(100), D("0.9"), D(80)),  # share 0.08, holds 20 min
        EquityPoint(at(30), D(1200), D(360), D("0.7"), D(72)),  # share 0.06, holds 30 min
        EquityPoint(at(60), D(1000), D(50), D("0.95"), D(200)),  # the last: adds no time
    ]
    stats = exposure_stats(points, max_exposure=D("0.8"), max_position=D("0.05"))
    assert stats.max_exposure_limit == D("0.8")
    assert stats.max_exposure == D("0.95")
    assert stats.max_exposure_at == at(60)
    assert stats.time_above_exposure == timedelta(minutes=20)  # 0.9 from 10 to 30
    assert stats.observed == timedelta(hours=1)
    assert near(stats.share_above_exposure, D(1) / D(3))  # 20 / 60
    assert stats.max_position_limit == D("0.05")
    assert stats.max_position == D("0.2")  # 200 / 1000
    assert stats.max_position_at == at(60)
    assert stats.time_above_position == timedelta(minutes=50)  # 0.08 and 0.06: 20 + 30
    assert near(stats.share_above_position, D(5) / D(6))


def test_exposure_stats_of_no_snapshot() -> None:
    stats = exposure_stats([], D("0.8"), D("0.05"))
    assert (stats.max_exposure, stats.max_exposure_at) == (D(0), None)
    assert (stats.max_position, stats.max_position_at) == (D(0), None)
    assert stats.observed == timedelta()
    assert stats.share_above_exposure is None
    assert stats.share_above_position is None
