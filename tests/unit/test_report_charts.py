"""The charts draw a long series thinned: every peak and trough kept, in order."""

from __future__ import annotations

import random

from engine.reports.charts import MAX_POINTS, thinned


def test_short_series_is_drawn_whole() -> None:
    xs, ys = list(range(10)), [float(v) for v in range(10)]
    assert thinned(xs, ys) == (xs, ys)


def test_year_of_minutes_is_thinned_to_the_limit_keeping_extremes_and_order() -> None:
    rng = random.Random(7)
    ys, level = [], 0.0
    for _ in range(525_600):
        level += rng.gauss(0, 1)
        ys.append(level)
    xs = list(range(len(ys)))
    ys[123_457] = 1e9  # a one-minute spike and a one-minute crash must both show
    ys[400_001] = -1e9
    tx, ty = thinned(xs, ys)
    assert len(tx) <= MAX_POINTS + 4
    assert tx == sorted(tx)
    assert len(set(tx)) == len(tx)
    assert ty == [ys[i] for i in tx]
    assert {0, 123_457, 400_001, len(ys) - 1} <= set(tx)
    assert max(ty) == max(ys)
    assert min(ty) == min(ys)
