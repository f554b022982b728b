"""Field types shared by the event models: amounts, timestamps, names and vocabulary.

Amounts are `Decimal`: accepted as a decimal string, an int or a Decimal, never a float
(a float has already lost the digits the user wrote), and written to JSON as a plain
fixed-point string. Timestamps are timezone-aware and converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, PlainSerializer
from pydantic_core import PydanticCustomError

from engine.events.orders import (
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    UnknownVocabularyError,
    normalize_order_type,
    normalize_side,
    normalize_status,
    normalize_time_in_force,
)
from engine.money import STORAGE_PLACES

#: Error type of a rule broken in an event; the translator shows the offending input.
RULE_ERROR = "event_rule"
#: Error type of a rule whose message already names the offending input.
NAMED_RULE_ERROR = "event_rule_named"

#: NUMERIC(38, 18) keeps 20 digits before the point.
MAX_MAGNITUDE = Decimal(1).scaleb(38 - STORAGE_PLACES)
#: The smallest positive amount storage keeps; anything smaller would be stored as 0.
SMALLEST_AMOUNT = Decimal(1).scaleb(-STORAGE_PLACES)

_MAX_FIXED_POINT_EXPONENT = 60
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE_TEXT = frozenset({"nan", "snan", "inf", "infinity"})
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9._/-]{0,39}")
_IDENTIFIER = re.compile(r"[^\s]{1,128}")
_CODE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_CURRENCY = re.compile(r"[A-Z0-9]{1,16}")

E = TypeVar("E", bound=StrEnum)


def rule_error(detail: str, *, names_input: bool = False) -> PydanticCustomError:
    """Build the validation error for a broken event rule; `detail` says what must hold."""
    kind = NAMED_RULE_ERROR if names_input else RULE_ERROR
    return PydanticCustomError(kind, "{detail}", {"detail": detail})


def _decimal_input(value: object) -> object:
    """Turn str/int input into a finite Decimal; refuse floats, booleans and NaN/infinity."""
    if isinstance(value, bool | float):
        raise rule_error(f"must be a decimal string or an integer, not a {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL_TEXT.fullmatch(text):
            return Decimal(text)
        if text.lower().lstrip("+-") in _NOT_FINITE_TEXT:
            raise rule_error("must be a finite number")
        raise rule_error("must be a decimal number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and not value.is_finite():
        raise rule_error("must be a finite number")
    return value


def _storable(value: Decimal) -> Decimal:
    if value.copy_abs() >= MAX_MAGNITUDE:  # copy_abs: no context, so no Overflow
        raise rule_error(f"must be less than {MAX_MAGNITUDE} in magnitude")
    return value


def _storable_positive(value: Decimal) -> Decimal:
    if value < SMALLEST_AMOUNT:
        raise rule_error(f"must be at least {SMALLEST_AMOUNT} (smaller amounts store as 0)")
    return value


def decimal_text(value: Decimal) -> str:
    """Write a Decimal as fixed-point text (`1E-7` -> `"0.0000001"`), sign and digits kept.

    An absurd exponent keeps scientific notation, so the text stays short.
    """
    exponent = value.as_tuple().exponent
    if (
        isinstance(exponent, int)
        and -_MAX_FIXED_POINT_EXPONENT <= exponent <= _MAX_FIXED_POINT_EXPONENT
    ):
        return format(value, "f")
    return str(value)


_DECIMAL_JSON = PlainSerializer(decimal_text, return_type=str, when_used="json")

#: A price or quantity: finite and > 0.
PositiveDecimal = Annotated[
    Decimal,
    BeforeValidator(_decimal_input),
    Field(gt=0),
    AfterValidator(_storable),
    AfterValidator(_storable_positive),
    _DECIMAL_JSON,
]
#: A fee, a filled quantity, a volume, an exposure or a drawdown: finite and >= 0.
NonNegativeDecimal = Annotated[
    Decimal, BeforeValidator(_decimal_input), Field(ge=0), AfterValidator(_storable), _DECIMAL_JSON
]
#: Cash, equity, PnL or slippage: finite, any sign.
SignedDecimal = Annotated[
    Decimal, BeforeValidator(_decimal_input), AfterValidator(_storable), _DECIMAL_JSON
]
#: A confidence between 0 and 1 inclusive.
UnitFraction = Annotated[Decimal, BeforeValidator(_decimal_input), Field(ge=0, le=1), _DECIMAL_JSON]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise rule_error("is out of range once converted to UTC") from None


#: A timezone-aware timestamp, converted to UTC; naive timestamps are refused.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _pattern_check(
    pattern: re.Pattern[str], fold: Callable[[str], str], what: str
) -> Callable[[str], str]:
    def check(value: str) -> str:
        folded = fold(value.strip())
        if not pattern.fullmatch(folded):
            raise rule_error(f"must be {what}")
        return folded

    return check


def is_plain_symbol(value: str) -> bool:
    """Tell whether `value` is an exchange symbol exactly as validation would keep it."""
    return _SYMBOL.fullmatch(value) is not None


def is_plain_identifier(value: str) -> bool:
    """Tell whether `value` is an id exactly as validation would keep it."""
    return _IDENTIFIER.fullmatch(value) is not None


def is_plain_code(value: str) -> bool:
    """Tell whether `value` is a code exactly as validation would keep it."""
    return _CODE.fullmatch(value) is not None


#: An exchange symbol, upper-cased: `BTCUSDT`.
Symbol = Annotated[
    str, AfterValidator(_pattern_check(_SYMBOL, str.upper, "an exchange symbol such as BTCUSDT"))
]
#: An id (event, order, signal, trade, run): 1 to 128 characters, no whitespace.
Identifier = Annotated[
    str, AfterValidator(_pattern_check(_IDENTIFIER, str, "1 to 128 characters without spaces"))
]
#: A machine-readable code (reason code, alert code, strategy, source), lower-cased.
Code = Annotated[
    str,
    AfterValidator(_pattern_check(_CODE, str.lower, "a short code of letters, digits and _ . : -")),
]
#: A currency code, upper-cased: `USDT`.
Currency = Annotated[
    str, AfterValidator(_pattern_check(_CURRENCY, str.upper, "a currency code such as USDT"))
]
#: Free text for a person to read.
Text = Annotated[str, Field(max_length=2000)]


def vocabulary(parse: Callable[[str], E]) -> BeforeValidator:
    """Validate a vocabulary field with `parse`, reporting an unknown word by name."""

    def check(value: object) -> object:
        if isinstance(value, StrEnum):
            value = value.value
        try:
            return parse(value)  # type: ignore[arg-type]  # parse refuses non-str itself
        except UnknownVocabularyError as exc:
            raise rule_error(exc.problems[0], names_input=True) from None

    return BeforeValidator(check)


SideField = Annotated[OrderSide, vocabulary(normalize_side)]
OrderTypeField = Annotated[OrderType, vocabulary(normalize_order_type)]
StatusField = Annotated[OrderStatus, vocabulary(normalize_status)]
TimeInForceField = Annotated[TimeInForce, vocabulary(normalize_time_in_force)]
