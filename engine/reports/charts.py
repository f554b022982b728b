"""The report's charts as PNG bytes: returns against buy and hold, drawdown, exposure.

Rendered with matplotlib's Agg backend (no display needed) and no timestamp in the file,
so the same run always gives the same bytes. Floats here only place pixels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from engine.reports.exposure import position_share
from engine.reports.metrics import BuyAndHold, EquityPoint, FillRow

_STYLE: Any = {"figure.figsize": (10, 3.6), "figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3}
STRATEGY = "#1f77b4"
HELD = "#7f7f7f"
BUY, SELL = "#2ca02c", "#d62728"
#: Points drawn per series at most: several per pixel of the chart's width, so a year of
#: minutes (525,600 points) draws the same picture as every point would, in a fraction of
#: the time.
MAX_POINTS = 4000


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def thinned(xs: Sequence[Any], ys: Sequence[float]) -> tuple[list[Any], list[float]]:
    """Return the points of a series to draw: all of them up to MAX_POINTS, else per bucket
    of neighbours the first, the lowest, the highest and the last, in order (every peak
    and trough stays where it was)."""
    n = len(ys)
    if n <= MAX_POINTS:
        return list(xs), list(ys)
    size = -(-n * 4 // MAX_POINTS)
    keep: list[int] = []
    for start in range(0, n, size):
        chunk = range(start, min(start + size, n))
        low, high = min(chunk, key=ys.__getitem__), max(chunk, key=ys.__getitem__)
        keep += sorted({chunk[0], low, high, chunk[-1]})
    return [xs[i] for i in keep], [ys[i] for i in keep]


def _dates(axes: Axes) -> None:
    locator: Any = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _axes(title: str) -> tuple[Figure, Axes]:
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots()
    axes.set_title(title, loc="left", fontsize=11)
    _dates(axes)
    return figure, axes


def _percent_from(value: Decimal, start: Decimal) -> float:
    return float((value / start - 1) * 100)


def _align_zero(left: Axes, right: Axes) -> None:
    """Put 0 % at the same height on both axes (each keeps its own scale)."""
    limits = [(min(lo, 0.0), max(hi, 0.0)) for lo, hi in (left.get_ylim(), right.get_ylim())]
    if any(hi <= lo for lo, hi in limits):
        return
    zero = max(-lo / (hi - lo) for lo, hi in limits)  # how high 0 sits, 0..1
    if zero >= 0.98:
        return
    for axes, (lo, hi) in zip((left, right), limits, strict=True):
        axes.set_ylim(min(lo, -zero * hi / (1 - zero)), hi)


def equity_chart(
    curve: Sequence[EquityPoint],
    benchmark: BuyAndHold,
    fills: Sequence[FillRow],
    initial_capital: Decimal,
) -> bytes:
    """The strategy's return from the start (left axis) and buy and hold's (right axis,
    its own scale, so a small strategy move stays legible), fills on a strip below."""
    with plt.rc_context({**_STYLE, "figure.figsize": (10, 4.4)}):
        figure, (axes, strip) = plt.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [6, 1], "hspace": 0.08}
        )
    axes.set_title("Return from the start: strategy vs buy and hold", loc="left", fontsize=11)
    times: list[Any] = [p.ts for p in curve]
    strategy = [_percent_from(p.equity, initial_capital) for p in curve]
    axes.plot(*thinned(times, strategy), color=STRATEGY, linewidth=1.6, label="strategy", zorder=3)
    axes.axhline(0, color="#444444", linewidth=0.6)
    axes.set_ylabel("strategy, % from start", color=STRATEGY)
    held = [(t, v) for t, v in zip(times, benchmark.values, strict=True) if v is not None]
    if held:
        other = axes.twinx()
        other.plot(
            *thinned([t for t, _ in held], [_percent_from(v, initial_capital) for _, v in held]),
            color=HELD,
            linestyle="--",
            linewidth=1.0,
            label="buy and hold (right axis)",
        )
        other.set_ylabel("buy and hold, % from start", color=HELD)
        other.grid(False)
        _align_zero(axes, other)
        axes.set_zorder(other.get_zorder() + 1)
        axes.patch.set_visible(False)
        axes.legend(
            handles=[*axes.get_lines()[:1], *other.get_lines()], loc="upper left", fontsize=8
        )
    for side, marker, colour, row in (("buy", "^", BUY, 1.0), ("sell", "v", SELL, 0.0)):
        xs: list[Any] = [f.ts for f in fills if f.side == side]
        if xs:
            strip.scatter(xs, [row] * len(xs), marker=marker, color=colour, s=10, alpha=0.35)
    strip.set_yticks([0.0, 1.0], ["sells", "buys"], fontsize=8)
    strip.set_ylim(-0.6, 1.6)
    _dates(strip)
    return _png(figure)


def drawdown_chart(curve: Sequence[EquityPoint], initial_capital: Decimal) -> bytes:
    """The underwater curve: how far equity is below its running peak, in percent."""
    figure, axes = _axes("Drawdown (underwater)")
    peak = initial_capital
    times: list[Any] = []
    depths: list[float] = []
    for point in curve:
        peak = max(peak, point.equity)
        times.append(point.ts)
        depths.append(-float((peak - point.equity) / peak * 100) if peak > 0 else 0.0)
    times, depths = thinned(times, depths)
    axes.fill_between(times, depths, 0, color="#d62728", alpha=0.35, step="post")
    axes.set_ylabel("% below peak")
    return _png(figure)


def exposure_chart(
    curve: Sequence[EquityPoint], max_exposure: Decimal, max_position: Decimal
) -> bytes:
    """Exposure and the largest single position as a share of equity, with their limits."""
    figure, axes = _axes("Exposure and largest position, % of equity")
    times: list[Any] = [p.ts for p in curve]
    exposed = thinned(times, [float(p.exposure_pct * 100) for p in curve])
    axes.fill_between(
        *exposed,
        0,
        color=STRATEGY,
        alpha=0.3,
        step="post",
        label="exposure",
    )
    axes.step(
        *thinned(times, [float(position_share(p) * 100) for p in curve]),
        where="post",
        color="#9467bd",
        linewidth=0.8,
        label="largest position",
    )
    axes.axhline(
        float(max_exposure * 100),
        color=STRATEGY,
        linestyle="--",
        linewidth=1.0,
        label=f"exposure limit {max_exposure * 100:.4g} %",
    )
    axes.axhline(
        float(max_position * 100),
        color="#9467bd",
        linestyle=":",
        linewidth=1.0,
        label=f"position limit {max_position * 100:.4g} %",
    )
    axes.set_ylabel("% of equity")
    axes.legend(loc="upper left", fontsize=8)
    return _png(figure)


#: The colours of the runs of a comparison, in order (then round again).
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def comparison_chart(runs: Sequence[tuple[str, Sequence[EquityPoint], Decimal]]) -> bytes:
    """Each run's return from its start on one axis (label, curve, initial capital)."""
    figure, axes = _axes("Return from the start, each run")
    for number, (label, curve, capital) in enumerate(runs):
        times: list[Any] = [p.ts for p in curve]
        values = [_percent_from(p.equity, capital) for p in curve]
        colour = RUN_COLOURS[number % len(RUN_COLOURS)]
        axes.plot(*thinned(times, values), color=colour, linewidth=1.3, label=label)
    axes.axhline(0, color="#444444", linewidth=0.6)
    axes.set_ylabel("% from start")
    axes.legend(loc="upper left", fontsize=8)
    return _png(figure)
