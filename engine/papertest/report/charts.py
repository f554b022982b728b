"""The report's charts as PNG bytes: equity against buy and hold, drawdown, exposure.

Rendered with matplotlib's Agg backend (no display needed) and no timestamp in the file,
so the same run always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from engine.papertest.report.metrics import EquityPoint, FillRow

_STYLE: Any = {"figure.figsize": (10, 3.6), "figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _axes(title: str) -> tuple[Figure, Axes]:
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots()
    axes.set_title(title, loc="left", fontsize=11)
    locator: Any = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return figure, axes


def equity_chart(
    curve: Sequence[EquityPoint],
    benchmark: Sequence[Decimal | None],
    fills: Sequence[FillRow],
) -> bytes:
    """Equity, buy and hold of the same symbols, and a marker at every fill."""
    figure, axes = _axes("Equity vs buy and hold")
    times: list[Any] = [p.ts for p in curve]
    axes.plot(times, [float(p.equity) for p in curve], label="strategy", color="#1f77b4")
    held: list[Any] = [t for t, v in zip(times, benchmark, strict=True) if v is not None]
    if held:
        values = [float(v) for v in benchmark if v is not None]
        axes.plot(held, values, label="buy and hold", color="#999999", linestyle="--")
    for side, marker, colour in (("buy", "^", "#2ca02c"), ("sell", "v", "#d62728")):
        xs: list[Any] = [f.ts for f in fills if f.side == side]
        ys = [float(_equity_at(curve, at)) for at in xs]
        if xs:
            axes.scatter(xs, ys, marker=marker, color=colour, s=28, label=side)
    axes.legend(loc="best", fontsize=8)
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
    axes.fill_between(times, depths, 0, color="#d62728", alpha=0.35, step="post")
    axes.set_ylabel("% below peak")
    return _png(figure)


def exposure_chart(curve: Sequence[EquityPoint]) -> bytes:
    """Exposure as a percentage of equity over time."""
    figure, axes = _axes("Exposure")
    times: list[Any] = [p.ts for p in curve]
    axes.fill_between(
        times,
        [float(p.exposure_pct * 100) for p in curve],
        0,
        color="#1f77b4",
        alpha=0.3,
        step="post",
    )
    axes.set_ylabel("% of equity")
    return _png(figure)


def _equity_at(curve: Sequence[EquityPoint], at: datetime) -> Decimal:
    value = curve[0].equity if curve else Decimal(0)
    for point in curve:
        if point.ts > at:
            break
        value = point.equity
    return value
