"""Closed bars of any interval from 1-minute candles, recomputed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import get_args

from engine.events import Candle, CandleInterval, SignalGenerated, TradeTick
from engine.events.market_data import INTERVAL_LENGTHS
from engine.marketdata.synthetic import synthetic_candles
from engine.strategy import PositionsContext, StrategyContext
from engine.strategy.bar_strategy import BarStrategy
from engine.strategy.bars import BarBuilder, TradeMinutes, window_of

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


def tick(at: datetime, price: str, quantity: str, symbol: str = "BTCUSDT") -> TradeTick:
    return TradeTick(
        event_id=f"t-{at:%H%M%S%f}", ts_event=at, ts_init=at, source="replay-x", symbol=symbol,
        price=Decimal(price), quantity=Decimal(quantity), side="buy",
    )  # fmt: skip


def test_trades_make_a_minute_that_closes_with_the_next_minutes_first_trade_by_hand() -> None:
    minutes_of = TradeMinutes("BTCUSDT")
    second = timedelta(seconds=1)
    first = [
        tick(START + 5 * second, "100", "1"),
        tick(START + 20 * second, "103", "0.5"),
        tick(START + 40 * second, "99", "2"),
        tick(START + 59 * second, "101", "1"),
    ]

    assert [minutes_of.add(t) for t in first] == [[], [], [], []]
    (candle,) = minutes_of.add(tick(START + 75 * second, "102", "1"))

    assert (candle.open_time, candle.close_time) == (START, START + timedelta(minutes=1))
    assert (candle.open, candle.high, candle.low, candle.close) == (
        Decimal(100), Decimal(103), Decimal(99), Decimal(101),
    )  # fmt: skip
    assert candle.volume == Decimal("4.5")
    assert candle.quote_volume == Decimal(100 + 103 * Decimal("0.5") + 99 * 2 + 101)
    assert candle.ts_event == START + timedelta(minutes=1)


def test_a_bar_strategy_on_trades_alone_gets_the_bars_its_candles_would_give() -> None:
    class Closes(BarStrategy):
        name = "closes"
        intervals = ("5m",)

        def __init__(self) -> None:
            self.bars: list[Candle] = []

        def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
            self.bars.append(bar)
            return []

    # Two trades a minute: at :10 the candle's open, at :50 its close (high/low between).
    candles = minutes(16)
    trades = [
        t
        for c in candles
        for t in (
            tick(c.open_time + timedelta(seconds=10), str(c.open), "1"),
            tick(c.open_time + timedelta(seconds=50), str(c.close), "1"),
        )
    ]
    strategy = Closes()
    for trade in trades:
        strategy.on_market_data(trade, PositionsContext())

    assert [(b.open_time, b.open, b.close) for b in strategy.bars] == [
        (START, candles[0].open, candles[4].close),
        (START + timedelta(minutes=5), candles[5].open, candles[9].close),
        (START + timedelta(minutes=10), candles[10].open, candles[14].close),
    ]  # the third closes with minute 15's first trade
    with_candles = Closes()
    for candle, pair in zip(candles, zip(trades[::2], trades[1::2], strict=True), strict=True):
        for event in (*pair, candle):
            with_candles.on_market_data(event, PositionsContext())
    assert [b.close for b in with_candles.bars] == [c.close for c in candles[4:15:5]]
