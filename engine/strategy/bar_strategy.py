"""A strategy of closed bars: declare the intervals, implement `on_bar`.

The engine hands a strategy every market event in event time; `BarStrategy` turns the
1-minute candles among them (or, for a symbol without candles, its trades) into closed bars
of the intervals the strategy declares (see `engine.strategy.bars`) and calls `on_bar` once
per closed bar, in order. What `on_bar` returns are signals made with `buy`/`sell`: stamped
with the market event that closed the bar, priced at its close. Like every strategy it is
pure: the same candles give the same bars and the same signals, in a replay, live, and after
a resume (which plays the run's market data before its cut again as history: the bars and
indicators are rebuilt, and only what follows the cut trades).

    class Breakout(BarStrategy):
        name = "breakout"
        intervals = ("15m",)

        def on_bar(self, bar, context):
            ...
            return [self.buy(bar, context, "broke the 20-bar high")]
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from engine.events import Candle, CandleInterval, SignalGenerated, TradeTick
from engine.events.orders import OrderSide, TimeInForce
from engine.strategy.bars import BarBuilder, TradeMinutes
from engine.strategy.base import BaseStrategy, MarketEvent, StrategyContext, make_signal


class BarStrategy(BaseStrategy):
    """Closed bars of `intervals` in, signals out; implement `on_bar`."""

    #: The bar intervals the strategy wants, e.g. ("15m", "1h").
    intervals: tuple[CandleInterval, ...] = ("1m",)

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        """Build the bars `event` closes and ask `on_bar` about each, in interval order.

        Bars come from a symbol's 1-minute candles; from its trades (made into 1-minute
        candles) while it has no candles, as in a tick recording."""
        if isinstance(event, Candle):
            minutes = [event]
            self._from_trades().pop(event.symbol, None)  # candles: trades build nothing more
            self._with_candles().add(event.symbol)
        elif isinstance(event, TradeTick) and event.symbol not in self._with_candles():
            trades = self._from_trades().get(event.symbol)
            if trades is None:
                trades = self._from_trades()[event.symbol] = TradeMinutes(event.symbol)
            minutes = trades.add(event)
        else:
            return []
        if not minutes:
            return []
        builders = self._builders_of(event.symbol)
        self._event = event
        signals: list[SignalGenerated] = []
        for minute in minutes:
            for builder in builders:
                for bar in builder.add(minute):
                    signals += self.on_bar(bar, context) or []
        return signals

    def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
        """Return the signals a closed `bar` causes (its `interval` says which it is)."""
        return []

    def buy(
        self,
        bar: Candle,
        context: StrategyContext,
        reason: str,
        confidence: Decimal = Decimal(1),
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce | str | None = None,
        expires_at: datetime | None = None,
        equity_fraction: Decimal | None = None,
        quote_amount: Decimal | None = None,
    ) -> SignalGenerated:
        """A buy at `bar`'s close, stamped with the market event that closed it: at market,
        or at `limit` (`time_in_force` gtc, gtd with `expires_at`, ioc; none: the engine's
        limit order TTL); sized by risk to its limits, or as `equity_fraction` of equity or
        a `quote_amount` (risk still caps it)."""
        return make_signal(
            self.name,
            self._event,
            context,
            side=OrderSide.BUY,
            confidence=confidence,
            reference_price=bar.close,
            reason=reason,
            limit=limit,
            time_in_force=time_in_force,
            expires_at=expires_at,
            equity_fraction=equity_fraction,
            quote_amount=quote_amount,
        )

    def sell(
        self,
        bar: Candle,
        context: StrategyContext,
        reason: str,
        confidence: Decimal = Decimal(1),
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce | str | None = None,
        expires_at: datetime | None = None,
        fraction: Decimal | None = None,
    ) -> SignalGenerated:
        """A sell at `bar`'s close, stamped as `buy` is: all that is held, or `fraction` of
        it; at market or at `limit`."""
        return make_signal(
            self.name,
            self._event,
            context,
            side=OrderSide.SELL,
            confidence=confidence,
            reference_price=bar.close,
            reason=reason,
            limit=limit,
            time_in_force=time_in_force,
            expires_at=expires_at,
            close_fraction=fraction,
        )

    def _with_candles(self) -> set[str]:
        if not hasattr(self, "_candle_symbols"):
            self._candle_symbols: set[str] = set()
        return self._candle_symbols

    def _from_trades(self) -> dict[str, TradeMinutes]:
        if not hasattr(self, "_trade_minutes"):
            self._trade_minutes: dict[str, TradeMinutes] = {}
        return self._trade_minutes

    def _builders_of(self, symbol: str) -> list[BarBuilder]:
        if not hasattr(self, "_builders"):
            self._builders: dict[str, list[BarBuilder]] = {}
        found = self._builders.get(symbol)
        if found is None:
            found = self._builders[symbol] = [BarBuilder(symbol, i) for i in self.intervals]
        return found
