"""A spot position in one symbol: long or flat, built fill by fill.

Arithmetic runs in `EXACT_CONTEXT`, wide enough that sums and products of stored amounts
never round, so the portfolio identity `equity - capital == realized + unrealized` holds
exactly. The one rounding is the average price (to `STORAGE_PLACES` places) when a buy
is averaged in; the few units that rounding leaves over are booked as realized PnL, so
no cash goes missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from decimal import getcontext as _getcontext
from decimal import setcontext as _setcontext
from functools import wraps
from typing import ParamSpec, TypeVar

from engine.domain.errors import InvalidFillError, OversellError
from engine.domain.fills import Fill
from engine.events.orders import OrderSide
from engine.money import STORAGE_PLACES, quantize

#: Enough digits that adding and multiplying amounts of NUMERIC(38, 18) size never rounds.
EXACT_CONTEXT = Context(
    prec=200,
    rounding=ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

P = ParamSpec("P")
R = TypeVar("R")
ZERO = Decimal(0)
_STORED = Decimal(1).scaleb(-STORAGE_PLACES)


def exact(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` in `EXACT_CONTEXT`, whatever decimal context the caller has.

    The thread's context is `EXACT_CONTEXT` itself while it runs (nothing in the engine
    changes a context in place), so a call from exact code is not switched again."""

    @wraps(function)
    def run_exactly(*args: P.args, **kwargs: P.kwargs) -> R:
        caller = _getcontext()
        if caller is EXACT_CONTEXT:
            return function(*args, **kwargs)
        _setcontext(EXACT_CONTEXT)
        try:
            return function(*args, **kwargs)
        finally:
            _setcontext(caller)

    return run_exactly


def fraction(numerator: Decimal, denominator: Decimal) -> Decimal:
    """Return numerator / denominator rounded to storage places (0 when the denominator is 0)."""
    if denominator == 0:
        return ZERO
    return EXACT_CONTEXT.divide(numerator, denominator).quantize(_STORED, context=EXACT_CONTEXT)


@dataclass
class Position:
    """What is held of one symbol, at what average entry, and what it has realized.

    `average_price` is the volume-weighted entry price of the open quantity, fees excluded
    (0 when flat). `realized_pnl` includes every fee paid on the symbol: a buy's fee
    lowers it at once; a sell realizes (price - average_price) * quantity - fee.
    Change it only through `apply`.
    """

    symbol: str
    quantity: Decimal = ZERO
    average_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    trade_ids: set[str] = field(default_factory=set, repr=False)

    @property
    def is_open(self) -> bool:
        """Tell whether anything is held."""
        return self.quantity > 0

    @property
    @exact
    def cost_basis(self) -> Decimal:
        """Return what the open quantity cost at its average price, fees excluded."""
        return self.average_price * self.quantity

    def has_applied(self, trade_id: str) -> bool:
        """Tell whether the trade `trade_id` is already in this position."""
        return trade_id in self.trade_ids

    @exact
    def apply(self, fill: Fill) -> bool:
        """Apply one fill; return False, changing nothing, when its trade id was applied.

        Raise `OversellError` when a sell is larger than the quantity held, and
        `InvalidFillError` when the fill is for another symbol.
        """
        if fill.symbol != self.symbol:
            raise InvalidFillError(
                f"fill {fill.trade_id!r} is for {fill.symbol}, not for the {self.symbol} position"
            )
        if fill.trade_id in self.trade_ids:
            return False
        if fill.side is OrderSide.BUY:
            self._buy(fill)
        else:
            self._sell(fill)
        self.fees_paid += fill.fee
        self.trade_ids.add(fill.trade_id)
        return True

    @exact
    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """Return (mark - average_price) * quantity."""
        return (mark - self.average_price) * self.quantity

    @exact
    def market_value(self, mark: Decimal) -> Decimal:
        """Return quantity * mark."""
        return self.quantity * mark

    def _buy(self, fill: Fill) -> None:
        quantity = self.quantity + fill.quantity
        cost = self.average_price * self.quantity + fill.notional
        average = quantize(cost / quantity)
        # Rounding the average moves a sliver of cost out of the position: realize it.
        self.realized_pnl -= fill.fee + (cost - average * quantity)
        self.quantity, self.average_price = quantity, average

    def _sell(self, fill: Fill) -> None:
        if fill.quantity > self.quantity:
            raise OversellError(
                f"cannot sell {fill.quantity} {self.symbol} (trade {fill.trade_id!r}): "
                f"only {self.quantity} held, and spot positions cannot go short"
            )
        self.realized_pnl += (fill.price - self.average_price) * fill.quantity - fill.fee
        self.quantity -= fill.quantity
        if self.quantity == 0:
            self.quantity, self.average_price = ZERO, ZERO
