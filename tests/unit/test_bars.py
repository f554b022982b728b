"""Closed bars of any interval from 1-minute candles, recomputed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import get_args

from engine.events import Candle, CandleInterval
from engine.events.market_data import INTERVAL_LENGTHS
from engine.marketdata.synthetic import synthetic_candles
from engine.strategy.bars import BarBuilder, window_of

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def minutes(count: int, start: datetime = START) -> list[Candle]:
    return list(synthetic_candles(("BTCUSDT",), start, count, seed=7))


def test_every_candle_interval_has_a_length() -> None:
    assert set(INTERVAL_LENGTHS) == set(get_args(CandleInterval))


def test_windows_are_aligned_to_the_epoch_in_utc() -> None:
    at = datetime(2026, 1, 5, 13, 47, 30, tzinfo=UTC)
    assert window_of(at, "15m") == (
        at.replace(minute=45, second=0),
        at.replace(hour=14, minute=0, second=0),
    )
    assert window_of(at, "4h")[0] == datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert window_of(at, "1d") == (
        datetime(2026, 1, 5, tzinfo=UTC),
        datetime(2026, 1, 6, tzinfo=UTC),
    )


def test_a_five_minute_bar_closes_with_its_last_minute_and_adds_up_by_hand() -> None:
    builder = BarBuilder("BTCUSDT", "5m")
    candles = minutes(12)
    closed_after = [len(builder.add(c)) for c in candles]
    assert closed_after == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]  # at 00:05 and 00:10

    builder = BarBuilder("BTCUSDT", "5m")
    bars = [bar for c in candles for bar in builder.add(c)]
    first = candles[:5]
    assert bars[0].open_time == START
    assert bars[0].close_time == bars[0].ts_event == START + timedelta(minutes=5)
    assert bars[0].interval == "5m"
    assert bars[0].open == first[0].open
    assert bars[0].close == first[-1].close
    assert bars[0].high == max(c.high for c in first)
    assert bars[0].low == min(c.low for c in first)
    assert bars[0].volume == sum((c.volume for c in first), Decimal(0))
    assert bars[0].quote_volume == sum((c.quote_volume for c in first), Decimal(0))
    assert bars[0].event_id == "candle-" + first[0].source + "-BTCUSDT-5m-20260105T0000"


def test_a_window_whose_last_minute_never_comes_closes_when_a_later_one_begins() -> None:
    builder = BarBuilder("BTCUSDT", "5m")
    candles = minutes(12)
    kept = candles[:3] + candles[6:]  # 00:03 and 00:04 missing, 00:05 missing too
    bars = [bar for c in kept for bar in builder.add(c)]
    assert [b.open_time.minute for b in bars] == [0, 5]
    assert bars[0].close == candles[2].close  # its last candle's
    assert bars[0].close_time == START + timedelta(minutes=5)
    assert bars[1].open == candles[6].open  # the 00:05 window began at 00:06


def test_one_minute_bars_are_the_candles_and_other_symbols_are_ignored() -> None:
    candle = minutes(1)[0]
    assert BarBuilder("BTCUSDT", "1m").add(candle) == [candle]
    assert BarBuilder("ETHUSDT", "5m").add(candle) == []


def test_a_replay_builds_the_same_bars() -> None:
    def build() -> list[Candle]:
        builder = BarBuilder("BTCUSDT", "1h")
        return [bar for c in minutes(600) for bar in builder.add(c)]

    assert build() == build()
    assert len(build()) == 10
