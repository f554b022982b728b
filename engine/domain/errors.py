"""Errors of the pure trading domain: a fill or an update that breaks the book's rules."""

from __future__ import annotations

from engine.errors import PermanentError


class DomainError(PermanentError):
    """An update breaks a rule of the trading domain."""


class InvalidFillError(DomainError, ValueError):
    """A fill cannot be applied: it is not a trade, or one of its fields is out of range."""


class OversellError(DomainError):
    """A sell is larger than the position it sells (spot positions cannot go short)."""


class InvalidMarkError(DomainError, ValueError):
    """A mark price is not a finite positive Decimal, or its time is not timezone-aware."""
