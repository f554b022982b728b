"""Position sizing in base-asset units, and how risk writes amounts in its texts."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Final

#: Default lot step of an order quantity, in base units.
DEFAULT_QUANTITY_STEP: Final = Decimal("0.00000001")
#: Enough digits that products of two storable amounts (38 digits each) are exact.
PRECISION: Final = 80


def size_quantity(
    notional: Decimal, price: Decimal, step: Decimal = DEFAULT_QUANTITY_STEP
) -> Decimal:
    """Return the base units worth at most `notional` at `price`, rounded down to `step`.

    Example: `size_quantity(Decimal(5000), Decimal(95000))` is `Decimal("0.05263157")` (BTC).
    """
    if price <= 0 or step <= 0:
        raise ValueError("price and step must be positive")
    if notional <= 0:
        return Decimal(0)
    with localcontext(prec=PRECISION):
        quantity = (notional / price / step).to_integral_value(rounding=ROUND_FLOOR) * step
        while quantity > 0 and quantity * price > notional:  # division rounded up: step back
            quantity -= step
    return quantity


def amount(value: Decimal) -> str:
    """Show an amount to at most 8 decimal places, without trailing zeros."""
    with localcontext(prec=PRECISION):
        text = f"{value.quantize(DEFAULT_QUANTITY_STEP):f}" if value.is_finite() else str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(fraction: Decimal) -> str:
    return f"{amount(fraction * 100)}%"
