"""Claire's momentum rules (engine/strategy/momentum.py) and its risk sizing, written again
without the engine: the peer implementation the nautilus_trader strategy runs.

Plain Python and `Decimal` only, so the peer process imports nothing of claire. The rules,
per symbol, on each 1-minute close (event time in integer nanoseconds):

- entry (buy) when flat, at least `cooldown` after the symbol's last signal, when the change
  over the look-back is >= `entry_threshold` and its quote volume >= `min_quote_volume`;
- exit (sell everything) while holding, first that holds: stop-loss, take-profit, trailing
  stop (below the highest price since entry), momentum reversal; one exit signal per
  position, repeated only after max(cooldown, 1 minute);
- size: min(equity x max_position - held value, equity x max_exposure - exposure) / price,
  rounded down to the quantity step; nothing below `min_notional`.

The look-back window is claire's `PriceWindow`: the change is measured from the last close at
or before the look-back start, which must be no older than two look-backs (after a gap the
window starts afresh).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Literal

MINUTE_NS = 60_000_000_000
_ZERO = Decimal(0)
_ONE = Decimal(1)

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Rules:
    """The strategy and risk parameters (claire's `StrategySettings` and `RiskSettings`)."""

    lookback_minutes: int
    entry_threshold: Decimal
    min_quote_volume: Decimal
    take_profit: Decimal
    stop_loss: Decimal
    trailing_stop: Decimal
    reversal_threshold: Decimal
    cooldown_minutes: int
    max_position: Decimal
    max_exposure: Decimal
    min_notional: Decimal
    quantity_step: Decimal = Decimal("0.00000001")

    @classmethod
    def from_json(cls, data: dict[str, str | int]) -> Rules:
        """Build the rules from text values (how the parent process passes them)."""
        ints = {"lookback_minutes", "cooldown_minutes"}
        values = {k: int(v) if k in ints else Decimal(str(v)) for k, v in data.items()}
        return cls(**values)  # type: ignore[arg-type]


class Window:
    """The latest close and quote volume of each minute over the look-back."""

    def __init__(self, lookback_ns: int) -> None:
        self._lookback = lookback_ns
        self._points: deque[tuple[int, Decimal, Decimal]] = deque()

    def add(self, ts_ns: int, price: Decimal, quote_volume: Decimal) -> bool:
        """Record a minute's close; False for one older than the newest minute."""
        minute = -(-ts_ns // MINUTE_NS) * MINUTE_NS
        points = self._points
        if points and minute < points[-1][0]:
            return False
        if points and minute == points[-1][0]:
            points.pop()
        points.append((minute, price, quote_volume))
        start = minute - self._lookback
        while len(points) > 1 and points[1][0] <= start:
            points.popleft()
        return True

    @property
    def price(self) -> Decimal:
        return self._points[-1][1]

    def change(self) -> Decimal | None:
        """The change over the look-back; None until the window spans it."""
        start = self._points[-1][0] - self._lookback
        anchor = self._points[0]
        if anchor[0] > start or anchor[0] <= start - self._lookback:
            return None
        return self.price / anchor[1] - _ONE

    def quote_volume(self) -> Decimal:
        start = self._points[-1][0] - self._lookback
        return sum((p[2] for p in self._points if p[0] > start), _ZERO)


@dataclass
class _Symbol:
    window: Window
    quantity: Decimal = _ZERO
    entry_price: Decimal = _ZERO
    mark: Decimal = _ZERO
    last_signal_ns: int | None = None
    held: Decimal = _ZERO
    high: Decimal | None = None
    exit_signalled_ns: int | None = None


@dataclass
class MomentumBook:
    """The rules' state over every symbol, and the cash and positions its fills made."""

    rules: Rules
    cash: Decimal
    symbols: dict[str, _Symbol] = field(default_factory=dict)

    def on_close(
        self, symbol: str, ts_ns: int, close: Decimal, volume: Decimal
    ) -> tuple[Side, Decimal] | None:
        """Return the order (side, base quantity) a close causes, if any."""
        state = self._state(symbol)
        state.mark = close
        if not state.window.add(ts_ns, close, volume * close):
            return None
        if state.quantity <= 0:
            state.held, state.high, state.exit_signalled_ns = _ZERO, None, None
            side: Side | None = self._entry(state, ts_ns)
        else:
            if state.quantity > state.held:
                state.exit_signalled_ns = None
            high = state.high if state.high is not None else state.entry_price
            state.high = max(high, state.entry_price, close)
            state.held = state.quantity
            side = self._exit(state, ts_ns)
        if side is None:
            return None
        state.last_signal_ns = ts_ns
        quantity = self._size(state) if side == "buy" else state.quantity
        return (side, quantity) if quantity > 0 else None

    def on_fill(
        self, symbol: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        """Apply a fill to cash and the position."""
        state = self._state(symbol)
        if side == "buy":
            self.cash -= quantity * price + fee
            cost = state.quantity * state.entry_price + quantity * price
            state.quantity += quantity
            state.entry_price = cost / state.quantity  # a split fill: its average price
            state.high = max(state.high if state.high is not None else price, price)
            state.exit_signalled_ns = None
        else:
            self.cash += quantity * price - fee
            state.quantity -= quantity

    def _state(self, symbol: str) -> _Symbol:
        state = self.symbols.get(symbol)
        if state is None:
            lookback = self.rules.lookback_minutes * MINUTE_NS
            state = self.symbols[symbol] = _Symbol(Window(lookback))
        return state

    def _entry(self, state: _Symbol, ts_ns: int) -> Side | None:
        rules = self.rules
        cooldown = rules.cooldown_minutes * MINUTE_NS
        if state.last_signal_ns is not None and ts_ns - state.last_signal_ns < cooldown:
            return None
        change = state.window.change()
        if change is None or change < rules.entry_threshold:
            return None
        if state.window.quote_volume() < rules.min_quote_volume:
            return None
        return "buy"

    def _exit(self, state: _Symbol, ts_ns: int) -> Side | None:
        rules = self.rules
        retry = max(rules.cooldown_minutes * MINUTE_NS, MINUTE_NS)
        if state.exit_signalled_ns is not None and ts_ns - state.exit_signalled_ns < retry:
            return None
        price, entry, high = state.window.price, state.entry_price, state.high or _ZERO
        change, reversal = state.window.change(), rules.reversal_threshold
        exits = (  # stop-loss, take-profit, trailing stop, reversal; a rule at 0 is off
            rules.stop_loss > 0 and entry > 0 and price <= entry * (_ONE - rules.stop_loss),
            rules.take_profit > 0 and entry > 0 and price >= entry * (_ONE + rules.take_profit),
            rules.trailing_stop > 0 and price <= high * (_ONE - rules.trailing_stop),
            reversal > 0 and change is not None and change <= -reversal,
        )
        if not any(exits):
            return None
        state.exit_signalled_ns = ts_ns
        return "sell"

    def _size(self, state: _Symbol) -> Decimal:
        with localcontext(prec=80):  # as claire's risk engine: exact products of amounts
            return self._sized(state)

    def _sized(self, state: _Symbol) -> Decimal:
        rules = self.rules
        exposure = sum((abs(s.quantity * s.mark) for s in self.symbols.values()), _ZERO)
        equity = self.cash + sum((s.quantity * s.mark for s in self.symbols.values()), _ZERO)
        if equity <= 0:
            return _ZERO
        position_room = equity * rules.max_position - state.quantity * state.mark
        exposure_room = equity * rules.max_exposure - exposure
        if exposure_room < position_room and (
            exposure_room <= 0 or exposure_room < rules.min_notional
        ):
            return _ZERO
        cap, price, step = min(position_room, exposure_room), state.mark, rules.quantity_step
        quantity = (cap / price / step).to_integral_value(rounding=ROUND_FLOOR) * step
        while quantity > 0 and quantity * price > cap:
            quantity -= step
        return quantity if quantity * price >= rules.min_notional else _ZERO
