"""Durations as users write them: `90m`, `12h`, `7d` (also `30s`, `1d12h`)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from engine.errors import PermanentError

_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}

LONGEST_DURATION = timedelta(days=3650)
"""The longest duration claire takes: ten years, so a run's planned end is still a date."""
_LONGEST_SECONDS = LONGEST_DURATION // timedelta(seconds=1)


class DurationError(PermanentError):
    """A duration is not written as a number and a unit."""


class SpeedError(PermanentError):
    """A replay speed is not `realtime`, `max` or a positive number."""


def parse_duration(text: str) -> timedelta:
    """Return the timedelta of `text`, e.g. `90m`, `12h`, `7d`, `1d12h`: at most 3650d."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise DurationError(
            f"duration {text!r} is not understood: write a number and a unit, e.g. 90m, 12h, 7d"
        )
    seconds = sum(_seconds(number, unit) for number, unit in parts)
    if seconds <= 0:
        raise DurationError(f"duration {text!r} must be longer than zero")
    if seconds > _LONGEST_SECONDS:
        raise DurationError(
            f"duration {text!r} is longer than {format_duration(LONGEST_DURATION)}, "
            "the longest claire takes"
        )
    return timedelta(seconds=seconds)


def _seconds(number: str, unit: str) -> int:
    """Return the seconds of one part of a duration, capped just over the limit."""
    digits = number.lstrip("0") or "0"
    if len(digits) > len(str(_LONGEST_SECONDS)):  # over the limit whatever the unit (and
        return _LONGEST_SECONDS + 1  # perhaps more digits than the 4300 int() reads)
    return int(digits) * _UNIT_SECONDS[unit]


def format_duration(span: timedelta) -> str:
    """Write `span` compactly: `6d 23h`, `1h 05m`, `42s`."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def parse_speed(text: str) -> float | None:
    """Return the replay speed: None for `max`, 1 for `realtime`, N for `N` or `Nx`."""
    cleaned = text.strip().lower()
    if cleaned == "max":
        return None
    if cleaned == "realtime":
        return 1.0
    cleaned = cleaned.removesuffix("x")
    try:
        speed = float(cleaned)
    except ValueError:
        speed = 0.0
    if not math.isfinite(speed) or speed <= 0:
        raise SpeedError(f"speed {text!r} is not realtime, max or a positive number like 60")
    return speed


def in_real_time(source: str, speed: str) -> bool:
    """Tell whether a run's event time keeps pace with the wall clock (live, or speed 1)."""
    return source == "mexc" or parse_speed(speed) == 1.0


def plural(count: int, word: str) -> str:
    """Return "1 hole", "2 holes": a count with its noun."""
    return f"{count} {word}" + ("" if count == 1 else "s")
