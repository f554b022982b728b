"""A fill: one trade of an order, the unit positions and the portfolio are built from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from engine.domain.errors import InvalidFillError
from engine.events.orders import OrderSide
from engine.money import quantize

if TYPE_CHECKING:  # the events package is only an annotation here (the report reads fills)
    from engine.events import OrderResultReported

#: The currency cash, prices and fees are kept in unless told otherwise (MEXC spot: USDT).
DEFAULT_QUOTE_CURRENCY = "USDT"


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade: `quantity` base units at `price`, paying `fee` in `fee_currency`.

    Amounts are `Decimal`: quantity and price > 0, fee >= 0. `ts` is the trade's
    event time, timezone-aware.
    """

    trade_id: str
    order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts: datetime

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise InvalidFillError(f"invalid fill {self.trade_id!r}: " + "; ".join(problems))
        object.__setattr__(self, "ts", self.ts.astimezone(UTC))  # frozen: set once, here

    @property
    def notional(self) -> Decimal:
        """Return quantity * price in the quote currency (fees excluded)."""
        return self.quantity * self.price

    @classmethod
    def from_result(
        cls, result: OrderResultReported, *, quote_currency: str = DEFAULT_QUOTE_CURRENCY
    ) -> Fill:
        """Build the fill an order result reports; raise `InvalidFillError` when it has none.

        Amounts are quantised to the places the database keeps (`engine.money.quantize`), so
        a portfolio fed live equals one replayed from the `trades` table. Fees must be in
        `quote_currency`: a fee in another currency is refused, not converted.
        """
        if not result.is_fill or result.execution_price is None or result.trade_id is None:
            raise InvalidFillError(
                f"order result {result.event_id!r} reports no fill (status {result.status})"
            )
        if result.fee_currency != quote_currency:
            raise InvalidFillError(
                f"fill {result.trade_id!r} pays its fee in {result.fee_currency}; "
                f"only fees in the quote currency {quote_currency} are supported"
            )
        return cls(
            trade_id=result.trade_id,
            order_id=result.order_id,
            symbol=result.symbol,
            side=result.side,
            quantity=quantize(result.filled_quantity),
            price=quantize(result.execution_price),
            fee=quantize(result.fee),
            fee_currency=result.fee_currency,
            ts=result.ts_event,
        )


def _problems(fill: Fill) -> list[str]:
    """List what is wrong with `fill`'s fields (empty when it is valid)."""
    problems = [
        f"{name} must be a finite Decimal"
        for name in ("quantity", "price", "fee")
        if not (isinstance(getattr(fill, name), Decimal) and getattr(fill, name).is_finite())
    ]
    if problems:
        return problems
    if fill.quantity <= 0:
        problems.append(f"quantity must be greater than 0 (got {fill.quantity})")
    if fill.price <= 0:
        problems.append(f"price must be greater than 0 (got {fill.price})")
    if fill.fee < 0:
        problems.append(f"fee must not be negative (got {fill.fee})")
    if not isinstance(fill.side, OrderSide):
        problems.append(f"side must be an OrderSide (got {fill.side!r})")
    if not fill.trade_id or not fill.symbol:
        problems.append("trade_id and symbol must not be empty")
    if not isinstance(fill.ts, datetime) or fill.ts.utcoffset() is None:
        problems.append("ts must be a timezone-aware datetime")
    return problems
