"""A seeded synthetic market: 1-minute candles from a random walk with trending regimes.

For demos and tests: the same seed always gives the same candles. Prices move in whole
ticks (integers), so no float ever touches a price.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from engine.events import Candle

#: Starting prices (USDT) of well-known symbols; others start at 100.
START_PRICES = {"BTCUSDT": Decimal(95_000), "ETHUSDT": Decimal(3_500), "SOLUSDT": Decimal(180)}
TICK_FRACTION = Decimal("0.0001")  # one tick is 1 bp of the starting price
MINUTE = timedelta(minutes=1)


def synthetic_candles(
    symbols: Sequence[str],
    start: datetime,
    minutes: int,
    *,
    seed: int = 42,
    source: str = "synthetic",
    regime_minutes: int = 30,
) -> Iterator[Candle]:
    """Yield `minutes` candles per symbol, interleaved in time order."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not cryptography
    walkers = [_Walker(symbol, rng, regime_minutes) for symbol in symbols]
    for minute in range(minutes):
        opened = start + minute * MINUTE
        for walker in walkers:
            yield walker.candle(opened, source)


class _Walker:
    def __init__(self, symbol: str, rng: random.Random, regime_minutes: int) -> None:
        self.symbol = symbol
        self._rng = rng
        start = START_PRICES.get(symbol, Decimal(100))
        self._tick = start * TICK_FRACTION
        self._ticks = 10_000  # price = ticks x tick size
        self._regime_minutes = regime_minutes
        self._drift = 0
        self._age = 0

    def candle(self, opened: datetime, source: str) -> Candle:
        if self._age % self._regime_minutes == 0:
            self._drift = self._rng.choice((-4, -2, 0, 0, 2, 4, 6))
        self._age += 1
        path = [self._ticks]
        for _ in range(4):
            path.append(max(100, path[-1] + self._drift + self._rng.randint(-12, 12)))
        self._ticks = path[-1]
        prices = [self._tick * p for p in path]
        volume = Decimal(self._rng.randint(50, 400)) / 10
        close = prices[-1]
        return Candle(
            event_id=f"candle-{source}-{self.symbol}-{opened:%Y%m%dT%H%M}",
            ts_event=opened + MINUTE,
            ts_init=opened + MINUTE,
            source=source,
            symbol=self.symbol,
            open_time=opened,
            close_time=opened + MINUTE,
            open=prices[0],
            high=max(prices),
            low=min(prices),
            close=close,
            volume=volume,
            quote_volume=volume * close,
        )
