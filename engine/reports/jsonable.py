"""How papertest figures become JSON: decimals as exact strings, times as ISO 8601 UTC,
durations as seconds."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any


def jsonable(value: Any) -> Any:
    """Return `value` with every Decimal, datetime and timedelta made JSON-friendly."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
