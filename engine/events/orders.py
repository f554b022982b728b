"""The order vocabulary: sides, types and result statuses, defined once for every service.

The first version of this system spelled statuses three ways; everything that reads a
status from outside (an exchange, a file, the database, an injected event) goes through
`normalize_status`, so `REJECTED`, `rejected` and `Rejected` are one status.
"""

from __future__ import annotations

import re
from enum import StrEnum

from engine.errors import EventDecodeError

#: How a result says the limits at the fill price cut or refused a buy (the report reads
#: it back from the stored orders, so it lives here, beside the other order words).
LIMITS_AT_FILL = "limits at the fill"


def _brief(value: object, limit: int = 60) -> str:
    """Return a short repr of arbitrary input for an error message; never raise."""
    if isinstance(value, int) and value.bit_length() > 1024:
        return f"an integer of {value.bit_length()} bits"  # repr() would refuse it
    try:
        text = repr(value[: limit + 1] if isinstance(value, str) else value)
    except Exception:
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UnknownVocabularyError(EventDecodeError, ValueError):
    """A word is not in the order vocabulary."""

    def __init__(self, kind: str, value: object, expected: tuple[str, ...]) -> None:
        self.kind = kind
        self.value = value
        self.expected = expected
        shown = _brief(value)
        super().__init__([f"unknown {kind} {shown} (expected one of: {', '.join(expected)})"])


class UnknownStatusError(UnknownVocabularyError):
    """An order status is not one claire knows."""

    def __init__(self, value: object) -> None:
        super().__init__("order status", value, tuple(OrderStatus))


class OrderSide(StrEnum):
    """Which way an order trades the base asset."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> OrderSide:
        """Return the other side (the side that closes a position opened on this one)."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    """How an order is priced: at the market, or at a limit price."""

    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    """How long a limit order rests: until filled or the run ends, until a time, or not at all.

    A limit order without one rests for `CLAIRE_EXECUTION_LIMIT_ORDER_TTL_SECONDS`.
    """

    #: Good till cancelled: rests until it fills, or the run's market data ends.
    GTC = "gtc"
    #: Good till date: rests until its `expires_at`.
    GTD = "gtd"
    #: Immediate or cancel: fills what the market allows at once; the rest expires.
    IOC = "ioc"


class OrderStatus(StrEnum):
    """What an order result reports about its order."""

    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_fill(self) -> bool:
        """Return True for the statuses that carry a trade (`filled`, `partially_filled`)."""
        return self in FILL_STATUSES

    @property
    def is_terminal(self) -> bool:
        """Return True when the order can change no more after this status."""
        return self in TERMINAL_STATUSES


FILL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED}
)
TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

#: Spellings seen in exchanges, logs and old services, after `_canonical_word` folding.
STATUS_ALIASES: dict[str, OrderStatus] = {
    **{status.value: status for status in OrderStatus},
    "new": OrderStatus.ACCEPTED,
    "open": OrderStatus.ACCEPTED,
    "acknowledged": OrderStatus.ACCEPTED,
    "partial": OrderStatus.PARTIALLY_FILLED,
    "partial_fill": OrderStatus.PARTIALLY_FILLED,
    "partial_filled": OrderStatus.PARTIALLY_FILLED,
    "partially_fill": OrderStatus.PARTIALLY_FILLED,
    "fill": OrderStatus.FILLED,
    "fully_filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancel": OrderStatus.CANCELLED,
    # MEXC reports a partly filled order that was then cancelled this way; the order is over.
    "partially_canceled": OrderStatus.CANCELLED,
    "partially_cancelled": OrderStatus.CANCELLED,
    "reject": OrderStatus.REJECTED,
    "expire": OrderStatus.EXPIRED,
}

_SIDES = frozenset(side.value for side in OrderSide)
_ORDER_TYPES = frozenset(order_type.value for order_type in OrderType)
_TIMES_IN_FORCE = frozenset(tif.value for tif in TimeInForce)
_SEPARATORS = re.compile(r"[\s\-/]+|_+")


def _canonical_word(value: str) -> str:
    """Fold case, trim, and turn runs of spaces, hyphens or slashes into one underscore."""
    return _SEPARATORS.sub("_", value.strip().lower()).strip("_")


def normalize_status(value: str) -> OrderStatus:
    """Return the `OrderStatus` that `value` spells; raise `UnknownStatusError` otherwise.

    Example: `normalize_status(" Partially-Filled ")` is `OrderStatus.PARTIALLY_FILLED`.
    """
    if isinstance(value, OrderStatus):
        return value
    if isinstance(value, str):
        status = STATUS_ALIASES.get(_canonical_word(value))
        if status is not None:
            return status
    raise UnknownStatusError(value)


def normalize_side(value: str) -> OrderSide:
    """Return the `OrderSide` that `value` spells (any case); raise `UnknownVocabularyError`."""
    if isinstance(value, str) and _canonical_word(value) in _SIDES:
        return OrderSide(_canonical_word(value))
    raise UnknownVocabularyError("order side", value, tuple(OrderSide))


def normalize_order_type(value: str) -> OrderType:
    """Return the `OrderType` that `value` spells (any case); raise `UnknownVocabularyError`."""
    if isinstance(value, str) and _canonical_word(value) in _ORDER_TYPES:
        return OrderType(_canonical_word(value))
    raise UnknownVocabularyError("order type", value, tuple(OrderType))


def normalize_time_in_force(value: str) -> TimeInForce:
    """Return the `TimeInForce` that `value` spells (any case); raise `UnknownVocabularyError`."""
    if isinstance(value, str) and _canonical_word(value) in _TIMES_IN_FORCE:
        return TimeInForce(_canonical_word(value))
    raise UnknownVocabularyError("time in force", value, tuple(TimeInForce))
