"""A strategy of closed bars: declare the intervals, implement `on_bar`.

The engine hands a strategy every market event in event time; `BarStrategy` turns the
1-minute candles among them into closed bars of the intervals the strategy declares (see
`engine.strategy.bars`) and calls `on_bar` once per closed bar, in order. What `on_bar`
returns are signals made with `buy`/`sell`: stamped with the market event that closed the
bar, priced at its close. Like every strategy it is pure: the same candles give the same
bars and the same signals, in a replay, live, and after a resume (which plays the run's
market data before its cut again as history: the bars and indicators are rebuilt, and only
what follows the cut trades).

    class Breakout(BarStrategy):
        name = "breakout"
        intervals = ("15m",)

        def on_bar(self, bar, context):
            ...
            return [self.buy(bar, context, "broke the 20-bar high")]
"""

from __future__ import annotations

from decimal import Decimal

from engine.events import Candle, CandleInterval, SignalGenerated
from engine.events.orders import OrderSide
from engine.strategy.bars import BarBuilder
from engine.strategy.base import BaseStrategy, MarketEvent, StrategyContext, make_signal


class BarStrategy(BaseStrategy):
    """Closed bars of `intervals` in, signals out; implement `on_bar`."""

    #: The bar intervals the strategy wants, e.g. ("15m", "1h").
    intervals: tuple[CandleInterval, ...] = ("1m",)

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        """Build the bars `event` closes and ask `on_bar` about each, in interval order."""
        if not isinstance(event, Candle):
            return []
        builders = self._builders_of(event.symbol)
        self._event = event
        signals: list[SignalGenerated] = []
        for builder in builders:
            for bar in builder.add(event):
                signals += self.on_bar(bar, context) or []
        return signals

    def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
        """Return the signals a closed `bar` causes (its `interval` says which it is)."""
        return []

    def buy(
        self, bar: Candle, context: StrategyContext, reason: str, confidence: Decimal = Decimal(1)
    ) -> SignalGenerated:
        """A buy signal at `bar`'s close, stamped with the market event that closed it."""
        return self._signal(OrderSide.BUY, bar, context, reason, confidence)

    def sell(
        self, bar: Candle, context: StrategyContext, reason: str, confidence: Decimal = Decimal(1)
    ) -> SignalGenerated:
        """A sell signal at `bar`'s close (exit what is held), stamped as `buy` is."""
        return self._signal(OrderSide.SELL, bar, context, reason, confidence)

    def _signal(
        self,
        side: OrderSide,
        bar: Candle,
        context: StrategyContext,
        reason: str,
        confidence: Decimal,
    ) -> SignalGenerated:
        return make_signal(
            self.name,
            self._event,
            context,
            side=side,
            confidence=confidence,
            reference_price=bar.close,
            reason=reason,
        )

    def _builders_of(self, symbol: str) -> list[BarBuilder]:
        if not hasattr(self, "_builders"):
            self._builders: dict[str, list[BarBuilder]] = {}
        found = self._builders.get(symbol)
        if found is None:
            found = self._builders[symbol] = [BarBuilder(symbol, i) for i in self.intervals]
        return found
