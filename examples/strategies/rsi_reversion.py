"""RSI mean reversion with limit entries, on 5-minute bars.

What it demonstrates: limit orders from a strategy (a buy resting below the close, good till
a time: `time_in_force="gtd"` with `expires_at`), a size asked as a share of equity (risk
still caps it), a partial exit (`fraction`) resting as a limit at the take-profit, and a
warm-up (`warmup`: the RSI is ready at the first bar the run trades). When the RSI falls
under `oversold` it bids `entry_discount` under the close; once filled it offers half at
`take_profit` over the entry, and sells the rest at market when the RSI is back over
`overbought`.

    claire papertest start --strategy examples.strategies.rsi_reversion:RsiReversion \\
        --source synthetic --speed max --duration 2d --param oversold=25
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Candle, CandleInterval, SignalGenerated
from engine.events.market_data import INTERVAL_LENGTHS
from engine.events.orders import OrderSide
from engine.strategy import StrategyContext
from engine.strategy.bar_strategy import BarStrategy
from engine.strategy.base import MAX_WARMUP
from engine.strategy.indicators import RSI, IndicatorSet


class RsiReversionParams(BaseModel):
    """The parameters of `RsiReversion`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: CandleInterval = Field("5m", description="The bars it trades on")
    rsi_period: int = Field(14, ge=2, le=200, description="Bars of the RSI")
    oversold: float = Field(30, gt=0, lt=50, description="Bid when the RSI falls under this")
    overbought: float = Field(60, gt=50, lt=100, description="Sell the rest over this")
    entry_discount: Decimal = Field(
        Decimal("0.002"), ge=0, le=Decimal("0.1"), description="Bid this far under the close"
    )
    entry_minutes: int = Field(30, ge=1, le=1440, description="An unfilled bid expires after")
    equity_fraction: Decimal = Field(
        Decimal("0.04"), gt=0, le=1, description="Each entry's share of equity"
    )
    take_profit: Decimal = Field(
        Decimal("0.006"), gt=0, le=1, description="Offer half this far over the entry"
    )


class RsiReversion(BarStrategy):
    """RSI under `oversold`: bid under the close; filled: offer half at the take-profit."""

    name = "rsi-reversion"
    Params = RsiReversionParams

    def __init__(self, params: RsiReversionParams | None = None) -> None:
        self.params = params or RsiReversionParams()
        self.intervals = (self.params.interval,)
        # The RSI needs period + 1 closes: that much history before the first traded bar.
        self.warmup = min(
            INTERVAL_LENGTHS[self.params.interval] * (self.params.rsi_period + 1), MAX_WARMUP
        )  # the longest the engine feeds
        self._rsi: dict[str, IndicatorSet] = {}
        self._bid_until: dict[str, datetime] = {}
        self._offered: set[str] = set()  # take-profit offered for the holding
        self._leaving: set[str] = set()  # the rest sold at market

    def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
        values = self._rsi.setdefault(bar.symbol, IndicatorSet(rsi=RSI(self.params.rsi_period)))
        values.update(bar)
        if not values.ready:
            return []
        rsi = float(values["rsi"])
        held, entry = context.position(bar.symbol)
        p = self.params
        if held == 0:
            self._offered.discard(bar.symbol)
            self._leaving.discard(bar.symbol)
            waiting = self._bid_until.get(bar.symbol)
            if rsi < p.oversold and (waiting is None or bar.close_time >= waiting):
                expires = bar.close_time + timedelta(minutes=p.entry_minutes)
                self._bid_until[bar.symbol] = expires
                return [
                    self.buy(
                        bar,
                        context,
                        f"RSI {rsi:.1f} < {p.oversold}: bid {p.entry_discount:%} under",
                        limit=_price(bar.close * (1 - p.entry_discount)),
                        time_in_force="gtd",
                        expires_at=expires,
                        equity_fraction=p.equity_fraction,
                    )
                ]
            return []
        if bar.symbol not in self._offered:
            self._offered.add(bar.symbol)
            return [
                self.sell(
                    bar,
                    context,
                    f"take profit on half at {p.take_profit:%} over the entry",
                    limit=_price(entry * (1 + p.take_profit)),
                    time_in_force="gtc",
                    fraction=Decimal("0.5"),
                )
            ]
        if rsi > p.overbought and bar.symbol not in self._leaving:
            self._leaving.add(bar.symbol)  # risk sells what the resting offer leaves
            return [self.sell(bar, context, f"RSI {rsi:.1f} > {p.overbought}: out")]
        return []

    def on_fill(
        self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal, ts: object
    ) -> None:
        if side is OrderSide.BUY:
            self._bid_until.pop(symbol, None)  # the bid filled: the next may come at once


def _price(value: Decimal) -> Decimal:
    """A limit price with 8 decimal places (exchanges refuse a price of 40 digits)."""
    return value.quantize(Decimal("0.00000001"))
