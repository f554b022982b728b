"""A Bollinger band breakout on 15-minute bars.

What it demonstrates: a size asked as a quote amount (`quote_amount`: risk caps it at its
limits and its decision says so), an entry that is a marketable limit order filled at once
or not at all (`time_in_force="ioc"`: no chasing a breakout that ran away), a warm-up as long
as the bands need, and reading the context's equity. It buys when a bar closes over the upper
band with the band wider than `min_width` of the price, and sells when a bar closes back under
the middle band.

    claire papertest start --strategy examples.strategies.bollinger_breakout:BollingerBreakout \\
        --source synthetic --speed max --duration 7d --param quote_amount=2500
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Candle, CandleInterval, SignalGenerated
from engine.events.market_data import INTERVAL_LENGTHS
from engine.strategy import StrategyContext
from engine.strategy.bar_strategy import BarStrategy
from engine.strategy.base import MAX_WARMUP
from engine.strategy.indicators import BB, IndicatorSet


class BollingerBreakoutParams(BaseModel):
    """The parameters of `BollingerBreakout`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: CandleInterval = Field("15m", description="The bars it trades on")
    period: int = Field(20, ge=2, le=500, description="Bars of the bands' moving average")
    width: float = Field(2.0, gt=0, le=5, description="Band width in standard deviations")
    min_width: float = Field(
        0.002, ge=0, le=0.5, description="Trade only when the bands are this wide (of price)"
    )
    quote_amount: Decimal = Field(
        Decimal(2000), gt=0, description="Each entry's size in the quote currency"
    )
    max_chase: Decimal = Field(
        Decimal("0.001"), ge=0, le=Decimal("0.05"), description="Pay at most this over the close"
    )


class BollingerBreakout(BarStrategy):
    """Close over the upper band: buy (ioc); close under the middle band: sell."""

    name = "bollinger-breakout"
    Params = BollingerBreakoutParams

    def __init__(self, params: BollingerBreakoutParams | None = None) -> None:
        self.params = params or BollingerBreakoutParams()
        self.intervals = (self.params.interval,)
        self.warmup = min(
            INTERVAL_LENGTHS[self.params.interval] * self.params.period, MAX_WARMUP
        )  # the longest the engine feeds
        self._bands: dict[str, IndicatorSet] = {}

    def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
        values = self._bands.setdefault(
            bar.symbol, IndicatorSet(bb=BB(self.params.period, self.params.width))
        )
        values.update(bar)
        if not values.ready:
            return []
        band = values["bb"]
        close = float(bar.close)
        held, _ = context.position(bar.symbol)
        if held == 0:
            wide = (band.ub - band.lb) / band.cb >= self.params.min_width
            if close > band.ub and wide and context.equity > self.params.quote_amount:
                ceiling = (bar.close * (1 + self.params.max_chase)).quantize(Decimal("0.00000001"))
                return [
                    self.buy(
                        bar,
                        context,
                        f"close {bar.close} over the upper band {band.ub:.2f}",
                        limit=ceiling,
                        time_in_force="ioc",
                        quote_amount=self.params.quote_amount,
                    )
                ]
            return []
        if close < band.cb:
            return [self.sell(bar, context, f"close {bar.close} under the middle {band.cb:.2f}")]
        return []
