"""A seeded synthetic market of trade ticks: one trade per symbol per second.

claire's synthetic source (engine/marketdata/synthetic.py) makes 1-minute candles only; the
tick replay figure needs ticks, so the bench makes its own. Prices are whole ticks of 1 bp of
the starting price (no float touches a price), walking with a drift that changes every
`regime_seconds`; quantities are 0.001 to 0.5 of the base asset. Events are interleaved in
time order, generated lazily: memory does not grow with the length of the stream.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from engine.events import TradeTick
from engine.marketdata.synthetic import START_PRICES, TICK_FRACTION

SECOND = timedelta(seconds=1)
_QUANTITY_STEP = Decimal("0.001")


def synthetic_ticks(
    symbols: Sequence[str],
    start: datetime,
    seconds: int,
    *,
    seed: int = 42,
    regime_seconds: int = 600,
    source: str = "synthetic-ticks",
) -> Iterator[TradeTick]:
    """Yield `seconds` trade ticks per symbol, interleaved in time order."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not cryptography
    tick_size = {s: START_PRICES.get(s, Decimal(100)) * TICK_FRACTION for s in symbols}
    ticks = dict.fromkeys(symbols, 10_000)
    drift = dict.fromkeys(symbols, 0.0)
    for second in range(seconds):
        at = start + second * SECOND
        for symbol in symbols:
            if second % regime_seconds == 0:
                drift[symbol] = rng.choice((-0.3, -0.1, 0.0, 0.0, 0.1, 0.3))
            step = round(drift[symbol] + rng.gauss(0, 2))
            ticks[symbol] = max(100, ticks[symbol] + step)
            yield TradeTick(
                event_id=f"trade-{source}-{symbol}-{second}",
                ts_event=at,
                ts_init=at,
                source=source,
                symbol=symbol,
                price=tick_size[symbol] * ticks[symbol],
                quantity=rng.randint(1, 500) * _QUANTITY_STEP,
                side="buy" if rng.random() < 0.5 else "sell",
            )
