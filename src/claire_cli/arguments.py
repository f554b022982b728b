"""Option values checked before a command does any work: a wrong one is one clear line."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from engine.durations import DurationError, format_duration, parse_duration
from engine.settings import clock_time

#: `--json` of every command that reports.
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def duration_option(text: str, option: str, *, longest: timedelta) -> timedelta:
    """Return the duration `text` (90m, 12h, 7d) given to `option`, refusing one over `longest`.

    Example: `duration_option("14d", "--keep", longest=timedelta(days=3650))`.
    """
    try:
        span = parse_duration(text)
    except DurationError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None
    if span > longest:
        raise typer.BadParameter(
            f"duration {text!r} is longer than {format_duration(longest)}", param_hint=option
        )
    return span


def time_of_day_option(text: str, option: str) -> str:
    """Return `text` when it is a time of day HH:MM (00:00 to 23:59)."""
    try:
        return clock_time(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} {exc}", param_hint=option) from None


def formats_option(text: str, known: tuple[str, ...]) -> list[str]:
    """The comma-separated formats of `--format` (`html,md,json`), each one of `known`."""
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise typer.BadParameter(
            f"unknown format {', '.join(unknown)} (choose from {', '.join(known)})",
            param_hint="--format",
        )
    return chosen
