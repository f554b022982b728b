"""EMA crossover with an ATR stop, on 15-minute bars.

What it demonstrates: a strategy of closed bars (`BarStrategy`), its own parameters
(`Params`, given with `--param fast=8`), streaming indicators (`IndicatorSet`) per symbol,
and a warm-up as long as its indicators need. It buys when the fast EMA crosses above the
slow one, and sells when it crosses back below, or when the close falls more than
`atr_stop` ATRs under the entry.

    claire papertest start --strategy examples.strategies.ema_cross:EmaCross \\
        --source synthetic --speed max --duration 7d --param fast=8 --param slow=21
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Candle, CandleInterval, SignalGenerated
from engine.events.market_data import INTERVAL_LENGTHS
from engine.events.orders import OrderSide
from engine.strategy import StrategyContext
from engine.strategy.bar_strategy import BarStrategy
from engine.strategy.base import MAX_WARMUP
from engine.strategy.indicators import ATR, EMA, IndicatorSet


class EmaCrossParams(BaseModel):
    """The parameters of `EmaCross`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: CandleInterval = Field("15m", description="The bars it trades on")
    fast: int = Field(12, ge=2, le=500, description="Bars of the fast EMA")
    slow: int = Field(26, ge=3, le=1000, description="Bars of the slow EMA")
    atr_period: int = Field(14, ge=2, le=500, description="Bars of the ATR")
    atr_stop: Decimal = Field(
        Decimal(2), gt=0, le=20, description="Exit when the close is this many ATRs under entry"
    )


class EmaCross(BarStrategy):
    """Fast EMA over slow: in; back under, or an ATR stop: out."""

    name = "ema-cross"
    Params = EmaCrossParams

    def __init__(self, params: EmaCrossParams | None = None) -> None:
        self.params = params or EmaCrossParams()
        if self.params.fast >= self.params.slow:
            raise ValueError(f"fast ({self.params.fast}) must be shorter than slow")
        self.intervals = (self.params.interval,)
        # Enough bars before the first traded one that both EMAs and the ATR have values.
        longest = max(self.params.slow, self.params.atr_period + 1)
        self.warmup = min(
            INTERVAL_LENGTHS[self.params.interval] * longest, MAX_WARMUP
        )  # the longest the engine feeds
        self._indicators: dict[str, IndicatorSet] = {}
        self._above: dict[str, bool] = {}
        self._entry: dict[str, Decimal] = {}

    def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
        values = self._indicators.setdefault(
            bar.symbol,
            IndicatorSet(
                fast=EMA(self.params.fast),
                slow=EMA(self.params.slow),
                atr=ATR(self.params.atr_period),
            ),
        )
        values.update(bar)
        if not values.ready:
            return []
        above = values["fast"] > values["slow"]
        was_above = self._above.get(bar.symbol)
        self._above[bar.symbol] = above
        held, _ = context.position(bar.symbol)
        if held == 0:
            if above and was_above is False:
                return [
                    self.buy(
                        bar, context, f"EMA {self.params.fast} crossed above EMA {self.params.slow}"
                    )
                ]
            return []
        entry = self._entry.get(bar.symbol)
        stop = entry - self.params.atr_stop * Decimal(str(values["atr"])) if entry else None
        if not above:
            return [
                self.sell(
                    bar, context, f"EMA {self.params.fast} crossed below EMA {self.params.slow}"
                )
            ]
        if stop is not None and bar.close < stop:
            return [self.sell(bar, context, f"ATR stop: close {bar.close} < {stop:.2f}")]
        return []

    def on_fill(
        self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal, ts: object
    ) -> None:
        if side is OrderSide.BUY:
            self._entry[symbol] = price
        else:
            self._entry.pop(symbol, None)
