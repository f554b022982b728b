"""What the engine knows about the market: latest prices, best bid/ask, recent volume, age.

Pure and event-driven: it changes only through `apply(event)`, and every question about
time takes the current event time as an argument (no clock in here).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.events import Candle, QuoteTick, TradeTick
from engine.events.orders import OrderSide

MarketData = TradeTick | QuoteTick | Candle

#: How far back `recent_volume` looks by default, and how much price history is kept.
DEFAULT_VOLUME_WINDOW = timedelta(minutes=5)
DEFAULT_HISTORY = timedelta(minutes=5)


@dataclass
class SymbolMarket:
    """The newest market facts for one symbol."""

    symbol: str
    last_price: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    updated_at: datetime | None = None
    #: (event time, base-asset volume) of trades and closed candles, oldest first.
    volume: deque[tuple[datetime, Decimal]] = field(default_factory=deque)
    #: (event time, price) of trades, quotes (mid) and candle closes, oldest first.
    prices: deque[tuple[datetime, Decimal]] = field(default_factory=deque)


class MarketState:
    """Latest prices, quotes and recent volume per symbol, fed by market data events."""

    def __init__(
        self,
        volume_window: timedelta = DEFAULT_VOLUME_WINDOW,
        history: timedelta = DEFAULT_HISTORY,
    ) -> None:
        self._volume_window = volume_window
        self._history = max(history, volume_window)
        self._symbols: dict[str, SymbolMarket] = {}

    def apply(self, event: MarketData) -> None:
        """Update the symbol's facts from one market data event (older events are ignored)."""
        market = self._symbols.get(event.symbol)
        if market is None:
            market = self._symbols[event.symbol] = SymbolMarket(event.symbol)
        ts = event.ts_event
        if market.updated_at is not None and ts < market.updated_at:
            return  # late event: the state already reflects newer data
        if isinstance(event, TradeTick):
            market.last_price = event.price
            market.volume.append((ts, event.quantity))
            market.prices.append((ts, event.price))
        elif isinstance(event, QuoteTick):
            market.bid, market.ask = event.bid_price, event.ask_price
            market.prices.append((ts, (event.bid_price + event.ask_price) / 2))
        else:
            market.last_price = event.close
            market.volume.append((ts, event.volume))
            market.prices.append((ts, event.close))
        market.updated_at = ts
        self._forget_before(market, ts - self._history)

    def symbols(self) -> list[str]:
        return sorted(self._symbols)

    def get(self, symbol: str) -> SymbolMarket | None:
        return self._symbols.get(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        market = self._symbols.get(symbol)
        return market.last_price if market else None

    def mark_price(self, symbol: str) -> Decimal | None:
        """Return the price a position is valued at: the mid when a quote is known, else last."""
        market = self._symbols.get(symbol)
        if market is None:
            return None
        if market.bid is not None and market.ask is not None:
            return (market.bid + market.ask) / 2
        return market.last_price

    def reference_price(self, symbol: str, side: OrderSide) -> Decimal | None:
        """Return what a market order would pay: the ask to buy, the bid to sell, else last."""
        market = self._symbols.get(symbol)
        if market is None:
            return None
        quoted = market.ask if side is OrderSide.BUY else market.bid
        return quoted if quoted is not None else market.last_price

    def price_at_or_after(self, symbol: str, ts: datetime) -> Decimal | None:
        """Return the first known price at or after `ts` (None when none has arrived yet)."""
        market = self._symbols.get(symbol)
        if market is None:
            return None
        for seen, price in market.prices:
            if seen >= ts:
                return price
        return None

    def recent_volume(self, symbol: str, now: datetime) -> Decimal:
        """Return base-asset volume traded in the window before `now`."""
        market = self._symbols.get(symbol)
        if market is None:
            return Decimal(0)
        start = now - self._volume_window
        return sum((qty for ts, qty in market.volume if start < ts <= now), Decimal(0))

    def age(self, symbol: str, now: datetime) -> timedelta | None:
        """Return how old the newest data for `symbol` is at `now` (None: never seen)."""
        market = self._symbols.get(symbol)
        if market is None or market.updated_at is None:
            return None
        return now - market.updated_at

    def is_stale(self, symbol: str, now: datetime, max_age: timedelta) -> bool:
        """Tell whether `symbol` has no data, or none newer than `max_age`."""
        age = self.age(symbol, now)
        return age is None or age > max_age

    @staticmethod
    def _forget_before(market: SymbolMarket, cutoff: datetime) -> None:
        while market.volume and market.volume[0][0] < cutoff:
            market.volume.popleft()
        # Keep one price older than the cutoff so price_at_or_after has a floor.
        while len(market.prices) > 1 and market.prices[1][0] < cutoff:
            market.prices.popleft()
