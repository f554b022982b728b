"""A seeded synthetic market: 1-minute candles from a random walk with trending regimes.

For demos and tests: the same seed always gives the same candles. Prices move in whole
ticks (integers), so no float ever touches a price. Optionally the walk switches between
calm and volatile regimes, jumps now and then (a few percent in one minute, as on news),
and has gaps (minutes with no candle, as when an exchange stalls): the multiplicative steps
make it a discrete geometric Brownian motion with regime switches.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from engine.events import Candle
from engine.events.envelope import stamped
from engine.events.market_data import candle_id

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
    volatility_regimes: bool = False,
    jump_probability: float = 0.0,
    gap_probability: float = 0.0,
) -> Iterator[Candle]:
    """Yield `minutes` candles per symbol, interleaved in time order.

    With the options at their defaults the walk is the plain trending one (and the same seed
    gives the same candles as it always did); the options draw from the same seeded generator.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not cryptography
    walkers = [_Walker(symbol, rng, regime_minutes) for symbol in symbols]
    for walker in walkers:
        walker.volatility_regimes = volatility_regimes
        walker.jump_probability = jump_probability
    silent: dict[str, int] = {}
    for minute in range(minutes):
        opened = start + minute * MINUTE
        for walker in walkers:
            if gap_probability and _in_gap(walker.symbol, silent, rng, gap_probability):
                continue
            yield walker.candle(opened, source)


def _in_gap(symbol: str, silent: dict[str, int], rng: random.Random, probability: float) -> bool:
    """Tell whether `symbol` has no candle this minute (a gap lasts 2 to 10 minutes)."""
    left = silent.get(symbol, 0)
    if left:
        silent[symbol] = left - 1
        return True
    if rng.random() < probability:
        silent[symbol] = rng.randint(1, 9)
        return True
    return False


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
        self._spread = 12  # the largest random step this minute, in ticks
        self.volatility_regimes = False
        self.jump_probability = 0.0

    def candle(self, opened: datetime, source: str) -> Candle:
        if self._age % self._regime_minutes == 0:
            self._drift = self._rng.choice((-4, -2, 0, 0, 2, 4, 6))
            if self.volatility_regimes:  # realistic: trends of a few bp a minute at most
                self._drift = self._rng.choice((-1, 0, 0, 1))
                self._spread = self._rng.choice((6, 12, 12, 24, 48))
        self._age += 1
        path = [self._ticks]
        for _ in range(4):
            step = self._drift + self._rng.randint(-self._spread, self._spread)
            if self.volatility_regimes:  # steps proportional to the price: geometric
                step = _scaled(step, path[-1])
            path.append(max(100, path[-1] + step))
        if self.jump_probability and self._rng.random() < self.jump_probability:
            jump = self._rng.choice((-300, -200, -100, 100, 200, 300))  # +-1 to 3 %
            path[-1] = max(100, path[-1] + _scaled(jump, path[-1]))
        self._ticks = path[-1]
        prices = [self._tick * p for p in path]
        volume = Decimal(self._rng.randint(50, 400)) / 10
        close = prices[-1]
        return Candle(
            **stamped(candle_id(source, self.symbol, opened), opened + MINUTE, source, None),
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


def _scaled(step: int, ticks: int) -> int:
    """Return `step` basis points of `ticks`, rounded toward zero (no drift from rounding)."""
    scaled = abs(step) * ticks // 10_000
    return scaled if step >= 0 else -scaled
