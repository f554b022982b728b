"""The default strategy: momentum entries with take-profit, stop-loss, trailing-stop and
reversal exits.

It keeps, per symbol, the latest price and the traded quote volume of each minute of the
look-back (`PriceWindow`), so its memory does not grow with the length of a run.

- Entry (buy), when flat and not cooling down: the change over the look-back is at least
  `entry_threshold` and the quote volume traded over it at least `min_quote_volume`.
  Confidence = min(1, change / (4 x entry_threshold)): 0.25 at the threshold, 1 at 4x it.
- Exits (sell), while holding, first rule that holds: stop-loss, take-profit, trailing stop,
  momentum reversal (a rule set to 0 is off). Exits ignore the cooldown. One exit signal is
  sent per position; it is repeated only if the position is still held max(cooldown, 1m)
  later (a partial close does not repeat it sooner; a new entry resets it).
- Input: 1-minute candles (close and quote volume) are the primary input; trade ticks
  (price, price x quantity) drive a symbol until its first 1-minute candle and are ignored
  for it afterwards, so volume is never counted twice. Quote ticks and other candle
  intervals are ignored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from engine.events import Candle, SignalGenerated, TradeTick
from engine.events.fields import decimal_text
from engine.events.orders import OrderSide
from engine.money import quantize
from engine.settings import StrategySettings
from engine.strategy.base import (
    BaseStrategy,
    MarketEvent,
    StrategyContext,
    make_signal,
    register_strategy,
)

_ONE_MINUTE: Final = timedelta(minutes=1)
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_CONFIDENCE_PLACES: Final = 4
_PRICE_PLACES: Final = 8


@dataclass(frozen=True, slots=True)
class _Point:
    #: The end of the minute this point covers (a 1-minute candle's close time).
    minute: datetime
    price: Decimal
    quote_volume: Decimal


class PriceWindow:
    """The latest price and quote volume of each minute over a look-back, by event time.

    It holds at most `lookback_minutes + 1` points: the minutes after the look-back start,
    and the last point at or before it (the price the change is measured from).
    """

    def __init__(self, lookback: timedelta) -> None:
        self._lookback = lookback
        self._points: deque[_Point] = deque()

    def __len__(self) -> int:
        return len(self._points)

    def add(self, ts: datetime, price: Decimal, quote_volume: Decimal, *, whole: bool) -> bool:
        """Record `price` at `ts`; return False for an event older than the newest minute.

        `whole` says `quote_volume` is the minute's total (a candle), which replaces what
        ticks added for that minute; otherwise it adds to the minute (a trade).
        """
        minute = _minute_end(ts)
        newest = self._points[-1] if self._points else None
        if newest is not None and minute < newest.minute:
            return False
        if newest is not None and minute == newest.minute:
            self._points.pop()
            if not whole:
                quote_volume += newest.quote_volume
        self._points.append(_Point(minute, price, quote_volume))
        self._trim(minute - self._lookback)
        return True

    def _trim(self, start: datetime) -> None:
        points = self._points
        while len(points) > 1 and points[1].minute <= start:
            points.popleft()

    @property
    def price(self) -> Decimal:
        """Return the latest price."""
        return self._points[-1].price

    def change(self) -> Decimal | None:
        """Return the fractional change over the look-back; None until it spans the look-back.

        The change is measured from the last price at or before the look-back start, which
        must be no older than two look-backs (after a data gap the window starts afresh).
        """
        if not self._points:
            return None
        start = self._points[-1].minute - self._lookback
        anchor = self._points[0]
        if anchor.minute > start or anchor.minute <= start - self._lookback:
            return None
        return self.price / anchor.price - _ONE

    def quote_volume(self) -> Decimal:
        """Return the quote volume traded over the look-back."""
        start = self._points[-1].minute - self._lookback
        return sum((p.quote_volume for p in self._points if p.minute > start), _ZERO)


def _minute_end(ts: datetime) -> datetime:
    floor = ts.replace(second=0, microsecond=0)
    return floor if floor == ts else floor + _ONE_MINUTE


@dataclass(slots=True)
class _SymbolState:
    window: PriceWindow
    candles_seen: bool = False
    last_signal_at: datetime | None = None
    held: Decimal = _ZERO
    high_since_entry: Decimal | None = None
    exit_signalled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Position:
    quantity: Decimal
    entry_price: Decimal
    high: Decimal


@register_strategy("momentum")
class MomentumStrategy(BaseStrategy):
    """Enter on a % rise with volume over a look-back; exit on TP, SL, trailing stop or reversal."""

    name = "momentum"
    #: Its parameters: the CLAIRE_STRATEGY_* settings, each also given by `--param`.
    Params = StrategySettings

    def __init__(self, settings: StrategySettings | None = None) -> None:
        self.settings = settings or StrategySettings()
        self._lookback = timedelta(minutes=self.settings.lookback_minutes)
        self._cooldown = timedelta(minutes=self.settings.cooldown_minutes)
        self._exit_retry = max(self._cooldown, _ONE_MINUTE)
        self._states: dict[str, _SymbolState] = {}

    def window_length(self, symbol: str) -> int:
        """Return how many points the look-back window of `symbol` holds."""
        state = self._states.get(symbol)
        return 0 if state is None else len(state.window)

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        """Return the entry or exit signal `event` causes, if any."""
        state = self._observe(event)
        if state is None:
            return []
        position = self._track_position(state, context.position(event.symbol))
        if position is None:
            signal = self._entry_signal(event, state, context)
        else:
            signal = self._exit_signal(event, state, context, position)
        if signal is None:
            return []
        state.last_signal_at = event.ts_event
        return [signal]

    def on_fill(
        self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal, ts: datetime
    ) -> None:
        """Start tracking the highest price since entry from a buy's fill price."""
        state = self._states.get(symbol)
        if state is None or side is not OrderSide.BUY:
            return
        state.high_since_entry = max(state.high_since_entry or price, price)
        state.exit_signalled_at = None

    def _observe(self, event: MarketEvent) -> _SymbolState | None:
        """Add `event` to its symbol's window; return the state, or None to ignore it."""
        if isinstance(event, Candle) and event.interval == "1m":
            state = self._state(event.symbol)
            state.candles_seen = True
            added = state.window.add(event.ts_event, event.close, event.quote_volume, whole=True)
        elif isinstance(event, TradeTick):
            state = self._state(event.symbol)
            if state.candles_seen:
                return None
            notional = event.price * event.quantity
            added = state.window.add(event.ts_event, event.price, notional, whole=False)
        else:
            return None
        return state if added else None

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            state = self._states[symbol] = _SymbolState(PriceWindow(self._lookback))
        return state

    def _track_position(
        self, state: _SymbolState, held: tuple[Decimal, Decimal]
    ) -> _Position | None:
        """Follow the position the engine holds; return it, or None when flat."""
        quantity, entry_price = held
        price = state.window.price
        if quantity <= 0:
            state.held, state.high_since_entry, state.exit_signalled_at = _ZERO, None, None
            return None
        if quantity > state.held:  # opened or added to: a new position to exit once
            state.exit_signalled_at = None
        high = max(state.high_since_entry or entry_price, entry_price, price)
        state.held, state.high_since_entry = quantity, high
        return _Position(quantity, entry_price, high)

    def _entry_signal(
        self, event: MarketEvent, state: _SymbolState, context: StrategyContext
    ) -> SignalGenerated | None:
        settings = self.settings
        if state.last_signal_at is not None and (
            event.ts_event - state.last_signal_at < self._cooldown
        ):
            return None
        change = state.window.change()
        if change is None or change < settings.entry_threshold:
            return None
        volume = state.window.quote_volume()
        if volume < settings.min_quote_volume:
            return None
        confidence = min(_ONE, change / (4 * settings.entry_threshold))
        reason = (
            f"momentum {change:+.2%} over {settings.lookback_minutes}m "
            f"(threshold {settings.entry_threshold:.2%}), quote volume {volume:,.2f} "
            f"(min {settings.min_quote_volume:,.2f}) at price {_price(state.window.price)}"
        )
        return make_signal(
            self.name,
            event,
            context,
            side=OrderSide.BUY,
            confidence=quantize(confidence, _CONFIDENCE_PLACES),
            reference_price=state.window.price,
            reason=reason,
        )

    def _exit_signal(
        self,
        event: MarketEvent,
        state: _SymbolState,
        context: StrategyContext,
        position: _Position,
    ) -> SignalGenerated | None:
        if state.exit_signalled_at is not None and (
            event.ts_event - state.exit_signalled_at < self._exit_retry
        ):
            return None
        reason = self._exit_reason(state, position)
        if reason is None:
            return None
        state.exit_signalled_at = event.ts_event
        return make_signal(
            self.name,
            event,
            context,
            side=OrderSide.SELL,
            confidence=_ONE,
            reference_price=state.window.price,
            reason=reason,
        )

    def _exit_reason(self, state: _SymbolState, position: _Position) -> str | None:
        price = state.window.price
        return (
            self._stop_loss(price, position)
            or self._take_profit(price, position)
            or self._trailing_stop(price, position)
            or self._reversal(state.window)
        )

    def _stop_loss(self, price: Decimal, position: _Position) -> str | None:
        stop_loss = self.settings.stop_loss
        if stop_loss == 0 or position.entry_price <= 0:
            return None
        level = position.entry_price * (_ONE - stop_loss)
        if price > level:
            return None
        return (
            f"stop-loss: price {_price(price)} <= {_price(level)} "
            f"(entry {_price(position.entry_price)} -{stop_loss:.2%})"
        )

    def _take_profit(self, price: Decimal, position: _Position) -> str | None:
        take_profit = self.settings.take_profit
        if take_profit == 0 or position.entry_price <= 0:
            return None
        level = position.entry_price * (_ONE + take_profit)
        if price < level:
            return None
        return (
            f"take-profit: price {_price(price)} >= {_price(level)} "
            f"(entry {_price(position.entry_price)} +{take_profit:.2%})"
        )

    def _trailing_stop(self, price: Decimal, position: _Position) -> str | None:
        trailing = self.settings.trailing_stop
        if trailing == 0:
            return None
        level = position.high * (_ONE - trailing)
        if price > level:
            return None
        return (
            f"trailing stop: price {_price(price)} <= {_price(level)} "
            f"({trailing:.2%} below the high {_price(position.high)} since entry)"
        )

    def _reversal(self, window: PriceWindow) -> str | None:
        threshold = self.settings.reversal_threshold
        change = window.change()
        if threshold == 0 or change is None or change > -threshold:
            return None
        return (
            f"momentum reversal: {change:+.2%} over {self.settings.lookback_minutes}m "
            f"(exit at -{threshold:.2%})"
        )


def _price(value: Decimal) -> str:
    """Write a price briefly for a reason text: at most 8 decimals, no trailing zeros."""
    rounded = quantize(value, _PRICE_PLACES).normalize()
    return decimal_text(rounded)
