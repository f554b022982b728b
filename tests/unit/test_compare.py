"""Runs side by side, the pure part: round trips matched by symbol and time, and when a
difference is called better, worse or noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.reports.compare import Draws, match_trips, paired_difference, unpaired_difference
from engine.reports.metrics import RoundTrip
from engine.reports.returns import compounded, mean_of

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def trip(symbol: str, opened_min: int, closed_min: int, pnl: str = "1") -> RoundTrip:
    return RoundTrip(
        symbol,
        T0 + timedelta(minutes=opened_min),
        T0 + timedelta(minutes=closed_min),
        Decimal(pnl),
        Decimal(0),
    )


def test_trips_match_by_symbol_and_overlap_nearest_entry_first() -> None:
    a = [trip("BTCUSDT", 0, 30), trip("BTCUSDT", 40, 60), trip("ETHUSDT", 0, 30)]
    b = [trip("BTCUSDT", 42, 70, "3"), trip("ETHUSDT", 100, 120), trip("BTCUSDT", 5, 35, "2")]

    matches = match_trips(a, b)

    pairs = [(m.symbol, m.a and m.a.opened, m.b and m.b.opened) for m in matches]
    assert pairs == [
        ("BTCUSDT", a[0].opened, b[2].opened),
        ("ETHUSDT", a[2].opened, None),  # B's ETH trip starts after A's ended: no overlap
        ("BTCUSDT", a[1].opened, b[0].opened),
        ("ETHUSDT", None, b[1].opened),
    ]
    assert matches[0].entry_shift == timedelta(minutes=5)
    assert matches[0].pnl_difference == Decimal(1)
    assert matches[2].pnl_difference == Decimal(2)


def test_trips_of_another_symbol_never_match() -> None:
    matches = match_trips([trip("BTCUSDT", 0, 30)], [trip("ETHUSDT", 0, 30)])
    assert [(m.symbol, m.a is None, m.b is None) for m in matches] == [
        ("BTCUSDT", False, True),
        ("ETHUSDT", True, False),
    ]


def test_a_steady_edge_on_every_day_is_called_better_and_a_coin_flip_noise() -> None:
    setup = Draws(resamples=2000, short=False, min_days=7)
    steady = [(0.000, 0.002 + 0.0001 * (i % 3)) for i in range(30)]
    better = paired_difference(
        "total return", Decimal(0), Decimal("0.06"), steady, compounded,
        seed=1, basis="days", setup=setup,
    )  # fmt: skip
    assert better.low is not None
    assert better.low > 0
    assert better.conclusion == "B better"

    flips = [(0.0, 0.01 if i % 2 else -0.01) for i in range(30)]
    noise = paired_difference(
        "total return", Decimal(0), Decimal(0), flips, compounded,
        seed=1, basis="days", setup=setup,
    )  # fmt: skip
    assert noise.low is not None
    assert noise.high is not None
    assert noise.low < 0 < noise.high
    assert noise.conclusion.startswith("noise")


def test_on_fewer_days_than_the_verdict_asks_nothing_is_called_better() -> None:
    short = Draws(resamples=500, short=True, min_days=7)
    days = [(0.0, 0.01), (0.0, 0.012), (0.0, 0.011)]
    found = paired_difference(
        "total return", Decimal(0), Decimal("0.03"), days, compounded,
        seed=3, basis="days", setup=short,
    )  # fmt: skip
    assert found.conclusion == "too short to tell (B better on fewer than 7 days)"


def test_round_trip_means_differ_by_the_exact_difference_of_means() -> None:
    setup = Draws(resamples=500, short=False, min_days=7)
    a = [Decimal("1.5"), Decimal("-0.5"), Decimal("2")]
    b = [Decimal("4"), Decimal("5"), Decimal("3.5"), Decimal("4.5")]
    found = unpaired_difference("mean round-trip PnL", a, b, mean_of, key="x", basis="trips",
                                setup=setup)  # fmt: skip
    assert found.a == Decimal(1)
    assert found.b == Decimal("4.25")
    assert found.difference == Decimal("3.25")
    assert found.conclusion == "B better"


def test_one_day_or_one_trip_has_no_interval() -> None:
    setup = Draws(resamples=100, short=True, min_days=7)
    one_day = paired_difference(
        "total return", Decimal(0), Decimal("0.01"), [(0.0, 0.01)], compounded,
        seed=1, basis="days", setup=setup,
    )  # fmt: skip
    assert (one_day.low, one_day.conclusion) == (None, "n/a")
    one_trip = unpaired_difference(
        "win rate", [Decimal(1)], [Decimal(0), Decimal(1)], mean_of, key="k", basis="t",
        setup=setup,
    )  # fmt: skip
    assert (one_trip.difference, one_trip.conclusion) == (Decimal("-0.5"), "n/a")
