"""The pure trading domain: no Redis, PostgreSQL, network or clock in here."""

from engine.events.orders import (
    FILL_STATUSES,
    TERMINAL_STATUSES,
    OrderSide,
    OrderStatus,
    OrderType,
    UnknownStatusError,
    UnknownVocabularyError,
    normalize_order_type,
    normalize_side,
    normalize_status,
)

__all__ = [
    "FILL_STATUSES",
    "TERMINAL_STATUSES",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "UnknownStatusError",
    "UnknownVocabularyError",
    "normalize_order_type",
    "normalize_side",
    "normalize_status",
]
