"""Drawdown, defined once: the fall of equity from its peak, as a fraction of the peak.

A fall is `(peak - equity) / peak`, exact and then rounded half-even to storage places (as
every stored fraction is), and 0 when equity is at or above the peak or the peak is not
positive. The portfolio keeps its running peak and deepest fall with `worse_fall` at every
update; a report measures the deepest fall of a stored equity curve with `deepest_fall`,
the same way, so the two agree on the same points.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from engine.domain.positions import ZERO, exact, fraction

#: A fall of nothing, at storage places (what `fraction` makes of 0).
NO_FALL = fraction(ZERO, Decimal(1))


@exact
def fall(peak: Decimal, equity: Decimal) -> Decimal:
    """Return (peak - equity) / peak at storage places; NO_FALL at or above the peak, or
    when the peak is not positive."""
    if peak <= 0 or equity >= peak:
        return NO_FALL
    return fraction(peak - equity, peak)


@exact
def worse_fall(worst: Decimal, peak: Decimal, equity: Decimal) -> Decimal:
    """Return max(worst, fall(peak, equity)), for worst >= 0, dividing only when the fall
    can be the larger (rounding cannot lift a smaller fall past `worst`)."""
    drop = peak - equity
    if peak <= 0 or drop <= 0 or drop <= worst * peak:
        return worst
    return max(worst, fraction(drop, peak))


def deepest_fall(
    curve: Iterable[tuple[datetime, Decimal]], start_peak: Decimal
) -> tuple[Decimal, timedelta]:
    """Return the deepest fall of an equity curve from its running peak (which starts at
    `start_peak`) and the longest time under water: from a peak until equity is back at it
    (or to the curve's end)."""
    peak, peak_at, last_at, under = start_peak, None, None, False
    worst, longest = NO_FALL, timedelta()
    for at, equity in curve:
        peak_at = at if peak_at is None else peak_at
        last_at = at
        if equity >= peak:
            if under:
                longest = max(longest, at - peak_at)
            peak, peak_at, under = equity, at, False
            continue
        under = True
        worst = worse_fall(worst, peak, equity)
    if under and peak_at is not None and last_at is not None:
        longest = max(longest, last_at - peak_at)
    return worst, longest
