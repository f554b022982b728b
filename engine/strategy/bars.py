"""Closed bars of any interval, built from 1-minute candles (or trades) in event time.

A bar of `5m`, `15m`, `30m`, `1h`, `4h` or `1d` covers a window aligned to the epoch in UTC
(a `1h` bar opens on the hour, a `1d` bar at midnight UTC). It closes the moment the candle
that ends its window arrives, or, when that minute never comes (a gap), when the first candle
of a later window arrives. Its open is its first candle's, its close its last one's, its high
and low the extremes, its volumes the sums; it is stamped with its window's close, so a
replay builds the same bars with the same ids.

Where a market has trades but no candles (a tick recording), `TradeMinutes` makes the
1-minute candles from the trades first: a minute closes when the first trade of a later
minute arrives (nothing after it can change it), its open, high, low and close the trades'
prices, its volume their quantities; a minute without a trade has no candle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from engine.events import Candle, CandleInterval, TradeTick
from engine.events.envelope import stamped
from engine.events.market_data import INTERVAL_LENGTHS

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def window_of(at: datetime, interval: CandleInterval) -> tuple[datetime, datetime]:
    """The window of `interval` that holds the instant `at`: (open, close)."""
    length = INTERVAL_LENGTHS[interval]
    opened = _EPOCH + ((at - _EPOCH) // length) * length
    return opened, opened + length


@dataclass
class _Open:
    """The bar being built."""

    opened: datetime
    closes: datetime
    first: Candle
    high: Decimal
    low: Decimal
    last: Candle
    volume: Decimal
    quote_volume: Decimal


class BarBuilder:
    """One symbol's closed bars of one interval, from its 1-minute candles in order."""

    def __init__(self, symbol: str, interval: CandleInterval) -> None:
        self.symbol = symbol
        self.interval = interval
        self._open: _Open | None = None

    def add(self, candle: Candle) -> list[Candle]:
        """Take the next 1-minute candle of the symbol; return the bars it closes (none, or
        the earlier window's bar when the candle begins a later one, and its own when it
        ends its window)."""
        if candle.interval != "1m" or candle.symbol != self.symbol:
            return []
        if self.interval == "1m":
            return [candle]
        closed: list[Candle] = []
        opened, closes = window_of(candle.open_time, self.interval)
        current = self._open
        if current is not None and current.opened != opened:
            closed.append(self._bar(current))
            current = None
        if current is None:
            current = _Open(
                opened, closes, candle, candle.high, candle.low, candle, Decimal(0), Decimal(0)
            )
        current.high = max(current.high, candle.high)
        current.low = min(current.low, candle.low)
        current.last = candle
        current.volume += candle.volume
        current.quote_volume += candle.quote_volume
        self._open = current
        if candle.close_time >= current.closes:
            closed.append(self._bar(current))
            self._open = None
        return closed

    def _bar(self, bar: _Open) -> Candle:
        source = bar.first.source
        minute = f"{bar.opened:%Y%m%dT%H%M}"
        return Candle(
            **stamped(
                f"candle-{source}-{self.symbol}-{self.interval}-{minute}",
                bar.closes,
                source,
                bar.first.run_id,
            ),
            symbol=self.symbol,
            interval=self.interval,
            open_time=bar.opened,
            close_time=bar.closes,
            open=bar.first.open,
            high=bar.high,
            low=bar.low,
            close=bar.last.close,
            volume=bar.volume,
            quote_volume=bar.quote_volume,
        )


class TradeMinutes:
    """One symbol's 1-minute candles, made of its trades in order."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._minute: datetime | None = None
        self._trades: list[TradeTick] = []

    def add(self, trade: TradeTick) -> list[Candle]:
        """Take the next trade of the symbol; return the minute it closes (when it is the
        first trade of a later minute)."""
        if trade.symbol != self.symbol:
            return []
        minute, _ = window_of(trade.ts_event, "1m")
        closed: list[Candle] = []
        if self._minute is not None and minute > self._minute:
            closed.append(self._candle())
            self._trades = []
        if self._minute is None or minute >= self._minute:
            self._minute = minute
            self._trades.append(trade)
        return closed  # a trade from an earlier minute (out of order) is not counted

    def _candle(self) -> Candle:
        trades, opened = self._trades, self._minute
        assert opened is not None
        first = trades[0]
        prices = [t.price for t in trades]
        return Candle(
            **stamped(
                f"candle-{first.source}-{self.symbol}-1m-{opened:%Y%m%dT%H%M}",
                opened + INTERVAL_LENGTHS["1m"],
                first.source,
                first.run_id,
            ),
            symbol=self.symbol,
            interval="1m",
            open_time=opened,
            close_time=opened + INTERVAL_LENGTHS["1m"],
            open=prices[0],
            high=max(prices),
            low=min(prices),
            close=prices[-1],
            volume=sum((t.quantity for t in trades), Decimal(0)),
            quote_volume=sum((t.price * t.quantity for t in trades), Decimal(0)),
        )
