"""Streaming indicators for strategies, updated once per closed bar.

They come from talipp, a maintained library of incremental indicators (each new value costs
one update, not a pass over the history). `IndicatorSet` feeds each of its indicators the bar
the way it takes it: a close for SMA, EMA, RSI, MACD and Bollinger bands, the whole bar for
ATR, VWAP and the rolling high/low (Donchian channels). Indicators work in floats; prices,
quantities and money in signals stay `Decimal`.

    from engine.strategy.indicators import ATR, EMA, IndicatorSet
    indicators = IndicatorSet(fast=EMA(12), slow=EMA(26), atr=ATR(14))
    indicators.update(bar)              # a closed bar (a `Candle`)
    if indicators.ready and indicators["fast"] > indicators["slow"]: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from talipp.indicators import ATR, BB, EMA, MACD, RSI, SMA, VWAP, DonchianChannels
from talipp.indicators.Indicator import Indicator
from talipp.ohlcv import OHLCV

from engine.events import Candle

__all__ = [
    "ATR",
    "BB",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "VWAP",
    "DonchianChannels",
    "IndicatorSet",
    "ohlcv",
]

#: The indicators that take a whole bar; every other takes its close.
_TAKE_BARS = (ATR, VWAP, DonchianChannels)


def ohlcv(bar: Candle) -> OHLCV:
    """A bar as talipp's OHLCV, in floats."""
    return OHLCV(
        float(bar.open), float(bar.high), float(bar.low), float(bar.close), float(bar.volume)
    )


class IndicatorSet:
    """Named indicators of one symbol and interval, each updated by every closed bar."""

    def __init__(self, **indicators: Indicator) -> None:
        self._indicators = dict(indicators)

    def update(self, bar: Candle) -> None:
        """Add a closed bar to every indicator."""
        close = float(bar.close)
        whole = ohlcv(bar)
        for indicator in self._indicators.values():
            indicator.add(whole if isinstance(indicator, _TAKE_BARS) else close)

    def __getitem__(self, name: str) -> Any:
        """The latest value of indicator `name` (None until it has enough bars)."""
        indicator = self._indicators[name]
        return indicator[-1] if len(indicator) else None

    def __iter__(self) -> Iterator[str]:
        return iter(self._indicators)

    @property
    def ready(self) -> bool:
        """Whether every indicator has a whole value (its warm-up is over): a composite one
        (MACD's macd, signal and histogram) only once none of its parts is None."""
        return all(_whole(self[name]) for name in self._indicators)


def _whole(value: Any) -> bool:
    if value is None:
        return False
    if dataclasses.is_dataclass(value):
        return all(getattr(value, f.name) is not None for f in dataclasses.fields(value))
    return True
