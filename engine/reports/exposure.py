"""Exposure against the run's limits, from its snapshots.

Risk checks the limits when it sizes an order; a position that grows through price moves
afterwards can pass them. That is reported here, never hidden. Times are time-weighted: a
snapshot's value holds until the next snapshot (the last one adds no time).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from engine.reports.metrics import MATH, ZERO, EquityPoint, decimal_seconds


@dataclass(frozen=True)
class ExposureStats:
    """The highest exposure and single-position share, and the time spent above each limit."""

    max_exposure_limit: Decimal
    max_exposure: Decimal  # the largest exposure_pct of a snapshot
    max_exposure_at: datetime | None
    time_above_exposure: timedelta
    max_position_limit: Decimal
    max_position: Decimal  # the largest quantity x mark / equity of one position (see EquityPoint)
    max_position_at: datetime | None
    time_above_position: timedelta
    observed: timedelta  # last snapshot - first

    @property
    def share_above_exposure(self) -> Decimal | None:
        return _share(self.time_above_exposure, self.observed)

    @property
    def share_above_position(self) -> Decimal | None:
        return _share(self.time_above_position, self.observed)


def _share(part: timedelta, whole: timedelta) -> Decimal | None:
    if whole <= timedelta():
        return None
    return MATH.divide(decimal_seconds(part), decimal_seconds(whole))


def position_share(point: EquityPoint) -> Decimal:
    """The largest position's value over equity (0 when flat or equity <= 0)."""
    if point.equity <= 0 or point.largest_position <= 0:
        return ZERO
    return MATH.divide(point.largest_position, point.equity)


def exposure_stats(
    points: Sequence[EquityPoint], max_exposure: Decimal, max_position: Decimal
) -> ExposureStats:
    """Measure the snapshots against `max_exposure` and `max_position` (fractions)."""
    shares = [position_share(p) for p in points]
    top_exposure = max(range(len(points)), key=lambda i: points[i].exposure_pct, default=None)
    top_position = max(range(len(points)), key=lambda i: shares[i], default=None)
    above_exposure = above_position = timedelta()
    for (i, a), (_, b) in itertools.pairwise(enumerate(points)):
        step = b.ts - a.ts
        if a.exposure_pct > max_exposure:
            above_exposure += step
        if shares[i] > max_position:
            above_position += step
    return ExposureStats(
        max_exposure_limit=max_exposure,
        max_exposure=ZERO if top_exposure is None else points[top_exposure].exposure_pct,
        max_exposure_at=None if top_exposure is None else points[top_exposure].ts,
        time_above_exposure=above_exposure,
        max_position_limit=max_position,
        max_position=ZERO if top_position is None else shares[top_position],
        max_position_at=None if top_position is None else points[top_position].ts,
        time_above_position=above_position,
        observed=points[-1].ts - points[0].ts if points else timedelta(),
    )
