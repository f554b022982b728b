"""Money and quantities: `Decimal` end to end, quantised in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

#: Places kept for prices, quantities, cash and PnL in storage (matches NUMERIC(38, 18)).
STORAGE_PLACES = 18
_WIDE = Context(prec=60, rounding=ROUND_HALF_EVEN)
#: Places shown to a user for amounts in the quote currency.
DISPLAY_PLACES = 2


def to_decimal(value: object) -> Decimal:
    """Convert an int, str or Decimal to a finite Decimal; refuse floats, NaN and infinity."""
    if isinstance(value, bool | float):
        kind = type(value).__name__
        raise ValueError(f"{value!r} is a {kind}; give money as a string or Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    else:
        raise ValueError(f"{value!r} is not a number")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


#: The quantum of each number of places up to storage's (1e-18 for 18), made once.
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(STORAGE_PLACES + 1)}


def quantize(value: Decimal, places: int = STORAGE_PLACES) -> Decimal:
    """Round half-even to `places` decimal places (exact for any NUMERIC(38, 18) value)."""
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    # The default context keeps 28 digits: too few for 18 places on 11+ integer digits.
    return value.quantize(quantum, context=_WIDE)


def parse_fraction(value: object) -> Decimal:
    """Read a fraction given as `0.05`, `"0.05"` or `"5%"`; return `Decimal("0.05")`."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return to_decimal(value.strip()[:-1]) / 100
    if isinstance(value, float):
        # Settings and YAML hand floats over; repr keeps what the user typed (0.05 -> "0.05").
        value = repr(value)
    return to_decimal(value)
