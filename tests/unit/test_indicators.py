"""The streaming indicators (talipp) against reference implementations written from their
textbook definitions, over a synthetic market's closes."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, datetime

import pytest

from engine.events import Candle
from engine.marketdata.synthetic import synthetic_candles
from engine.strategy.indicators import (
    ATR,
    BB,
    EMA,
    MACD,
    RSI,
    SMA,
    VWAP,
    DonchianChannels,
    IndicatorSet,
)

BARS: list[Candle] = list(
    synthetic_candles(("BTCUSDT",), datetime(2026, 1, 5, tzinfo=UTC), 300, seed=11)
)
CLOSES = [float(b.close) for b in BARS]


def sma(values: list[float], n: int) -> float:
    return sum(values[-n:]) / n


def ema(values: list[float], n: int) -> list[float]:
    """Seeded with the first n values' mean, then alpha = 2 / (n + 1)."""
    alpha = 2 / (n + 1)
    out = [sum(values[:n]) / n]
    for value in values[n:]:
        out.append(alpha * value + (1 - alpha) * out[-1])
    return out


def wilder(values: list[float], n: int) -> list[float]:
    """Wilder's smoothing: the first n values' mean, then (previous * (n - 1) + value) / n."""
    out = [sum(values[:n]) / n]
    for value in values[n:]:
        out.append((out[-1] * (n - 1) + value) / n)
    return out


def rsi(values: list[float], n: int) -> float:
    changes = [b - a for a, b in itertools.pairwise(values)]
    gain = wilder([max(c, 0.0) for c in changes], n)[-1]
    loss = wilder([max(-c, 0.0) for c in changes], n)[-1]
    return 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)


def true_ranges(bars: list[Candle]) -> list[float]:
    ranges = [float(bars[0].high - bars[0].low)]
    for before, bar in itertools.pairwise(bars):
        high, low, close = float(bar.high), float(bar.low), float(before.close)
        ranges.append(max(high - low, abs(high - close), abs(low - close)))
    return ranges


def fed(**indicators: object) -> IndicatorSet:
    values = IndicatorSet(**indicators)  # type: ignore[arg-type]
    for bar in BARS:
        values.update(bar)
    return values


def test_sma_ema_and_rsi_match_their_definitions() -> None:
    got = fed(sma=SMA(20), ema=EMA(20), rsi=RSI(14))
    assert got["sma"] == pytest.approx(sma(CLOSES, 20), rel=1e-12)
    assert got["ema"] == pytest.approx(ema(CLOSES, 20)[-1], rel=1e-12)
    assert got["rsi"] == pytest.approx(rsi(CLOSES, 14), rel=1e-9)


def test_macd_is_the_fast_minus_slow_ema_and_its_signal_an_ema_of_that() -> None:
    got = fed(macd=MACD(12, 26, 9))["macd"]
    fast, slow = ema(CLOSES, 12), ema(CLOSES, 26)
    line = [f - s for f, s in zip(fast[26 - 12 :], slow, strict=True)]
    assert got.macd == pytest.approx(line[-1], rel=1e-9)
    assert got.signal == pytest.approx(ema(line, 9)[-1], rel=1e-9)
    assert got.histogram == pytest.approx(line[-1] - ema(line, 9)[-1], rel=1e-6)


def test_bollinger_bands_are_the_sma_and_two_population_deviations() -> None:
    got = fed(bb=BB(20, 2.0))["bb"]
    middle, spread = sma(CLOSES, 20), statistics.pstdev(CLOSES[-20:])
    assert got.cb == pytest.approx(middle, rel=1e-12)
    assert got.ub == pytest.approx(middle + 2 * spread, rel=1e-9)
    assert got.lb == pytest.approx(middle - 2 * spread, rel=1e-9)


def test_atr_is_wilders_average_true_range() -> None:
    got = fed(atr=ATR(14))["atr"]
    assert got == pytest.approx(wilder(true_ranges(BARS), 14)[-1], rel=1e-9)


def test_vwap_and_the_rolling_high_and_low() -> None:
    got = fed(vwap=VWAP(), channel=DonchianChannels(20))
    typical = [(float(b.high) + float(b.low) + float(b.close)) / 3 for b in BARS]
    volumes = [float(b.volume) for b in BARS]
    vwap = sum(t * v for t, v in zip(typical, volumes, strict=True)) / sum(volumes)
    assert got["vwap"] == pytest.approx(vwap, rel=1e-9)
    assert got["channel"].ub == max(float(b.high) for b in BARS[-20:])
    assert got["channel"].lb == min(float(b.low) for b in BARS[-20:])


def test_a_set_is_ready_once_every_indicator_has_a_value() -> None:
    values = IndicatorSet(fast=EMA(3), slow=SMA(5))
    ready = []
    for bar in BARS[:6]:
        values.update(bar)
        ready.append(values.ready)
    assert ready == [False, False, False, False, True, True]
    assert list(values) == ["fast", "slow"]
    assert not math.isnan(values["fast"])


def test_a_set_with_macd_is_ready_only_once_its_signal_line_has_a_value() -> None:
    values = IndicatorSet(macd=MACD(3, 6, 4))
    ready = []
    for bar in BARS[:10]:
        values.update(bar)
        ready.append(values.ready)
    # macd from the 6th close, its signal (an EMA of 4 macd values) from the 9th.
    assert ready == [False] * 8 + [True, True]
    assert values["macd"].signal is not None
