"""Data quality from the candles: every minute without one, whatever lost it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.reports.quality import (
    Hole,
    StaleEpisode,
    candle_holes,
    expected_minutes,
    stale_episodes,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)
M = timedelta(minutes=1)


def closes(minutes: list[int], *, mexc: bool = False) -> list[tuple[datetime, Decimal]]:
    """Candles opened at these minutes, closed as synthetic (open + 1 min) or MEXC (- 1 ms)."""
    shift = timedelta(milliseconds=1) if mexc else timedelta()
    return [(T0 + (m + 1) * M - shift, Decimal(1)) for m in minutes]


def test_a_six_minute_hole_in_one_symbol_is_six_missing_minutes_of_that_symbol() -> None:
    held = {"BTCUSDT": closes(list(range(30))), "ETHUSDT": closes([*range(10), *range(16, 30)])}

    holes = candle_holes(held, ["BTCUSDT", "ETHUSDT"], T0, T0 + 30 * M)

    assert holes == [Hole("ETHUSDT", T0 + 10 * M, T0 + 16 * M, "no candle")]
    assert holes[0].minutes == 6


def test_holes_at_the_start_and_end_and_a_symbol_with_none_count_every_minute() -> None:
    held = {"BTCUSDT": closes(list(range(3, 8)), mexc=True)}

    holes = candle_holes(held, ["BTCUSDT", "ETHUSDT"], T0, T0 + 10 * M - timedelta(milliseconds=1))

    assert holes is not None
    assert [(h.symbol, h.start, h.minutes) for h in holes] == [
        ("BTCUSDT", T0, 3),
        ("ETHUSDT", T0, 10),
        ("BTCUSDT", T0 + 8 * M, 2),
    ]


def test_a_recorded_gap_names_the_cause_of_the_hole_it_covers() -> None:
    held = {"BTCUSDT": closes([0, 1, 5, 6])}
    recorded = [
        {"symbol": "BTCUSDT", "cause": "disconnect", "gap_start": T0 + M, "gap_end": T0 + 5 * M}
    ]

    holes = candle_holes(held, ["BTCUSDT"], T0, T0 + 7 * M, recorded)

    assert holes == [Hole("BTCUSDT", T0 + 2 * M, T0 + 5 * M, "disconnect")]


def test_no_candle_at_all_is_not_measured() -> None:
    assert candle_holes({}, ["BTCUSDT"], T0, T0 + 60 * M) is None


def test_a_minute_not_closed_by_the_end_is_not_expected_yet() -> None:
    assert expected_minutes(T0 + timedelta(seconds=20), T0 + 5 * M + timedelta(seconds=30)) == (
        T0 + M,
        T0 + 4 * M,
    )


def alert(minute: int, symbol: str, *, cleared: bool, code: str = "market_data_stale") -> dict:
    return {"ts_event": T0 + minute * M, "code": code, "cleared": cleared, "symbol": symbol}


def test_stale_raised_by_feed_and_risk_is_one_episode_until_both_clear() -> None:
    alerts = [
        alert(1, "ETHUSDT", cleared=False),
        alert(2, "ETHUSDT", cleared=False),  # risk too
        alert(6, "ETHUSDT", cleared=True),
        alert(7, "ETHUSDT", cleared=True),
        alert(8, "BTCUSDT", cleared=False, code="drawdown"),
        alert(20, "BTCUSDT", cleared=False),
    ]

    assert stale_episodes(alerts) == [
        StaleEpisode("ETHUSDT", T0 + M, T0 + 7 * M),
        StaleEpisode("BTCUSDT", T0 + 20 * M, None),
    ]


def test_holes_are_the_minutes_a_hand_count_finds_without_a_candle() -> None:
    rng = random.Random(5)
    start = T0 + timedelta(seconds=17)  # mid-minute: the first whole minute is expected
    end = T0 + 600 * M + timedelta(seconds=30)
    kept = sorted(rng.sample(range(-3, 605), 450))
    held = {"BTCUSDT": closes(kept, mexc=True)}

    holes = candle_holes(held, ["BTCUSDT"], start, end)

    first, last = T0 + M, T0 + 599 * M  # the minute 599 closes by `end`, 600 does not
    present = {T0 + m * M for m in kept}
    by_hand = {first + i * M for i in range((last - first) // M + 1)} - present
    counted = {h.start + i * M for h in holes or [] for i in range(h.minutes)}
    assert counted == by_hand
    assert sum(h.minutes for h in holes or []) == len(by_hand)
