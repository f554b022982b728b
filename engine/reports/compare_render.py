"""A comparison as HTML (self-contained, the chart embedded), Markdown and JSON."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from engine.reports.compare import Comparison, Difference, Pair, TripMatch
from engine.reports.jsonable import jsonable
from engine.reports.render import CSS, Block, html_block, md_cell, num, pct, signed, when
from engine.strategy.params import strategy_label

#: Bumped when a key of comparison.json changes meaning or goes away.
JSON_VERSION = 1
_PERCENT = {"total return", "max drawdown", "win rate"}


def title(comparison: Comparison) -> str:
    ids = [r.run.run_id for r in comparison.reports]
    group = {r.run.group_id for r in comparison.reports}
    named = f"group {group.pop()}" if len(group) == 1 and None not in group else ", ".join(ids)
    return f"Comparison of {len(ids)} papertests: {named}"


def _label(comparison: Comparison, run_id: str) -> str:
    """`A`, `B`, … by the order the runs were given in."""
    ids = [r.run.run_id for r in comparison.reports]
    return chr(ord("A") + ids.index(run_id)) if ids.index(run_id) < 26 else run_id


def _value(figure: str, value: Decimal | None) -> str:
    if figure in _PERCENT:
        return pct(value)
    return num(value, 0) if figure == "fills" else num(value, 4 if "Sharpe" in figure else 2)


def _difference(figure: str, value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    if figure in _PERCENT:
        return f"{value * 100:+.2f} points"
    return signed(value, 0 if figure == "fills" else 4 if "Sharpe" in figure else 2)


def _interval(d: Difference) -> str:
    if d.low is None or d.high is None:
        return "-"
    return f"{_difference(d.figure, d.low)} … {_difference(d.figure, d.high)}"


def blocks(comparison: Comparison) -> list[Block]:
    """The comparison's parts in reading order, shared by HTML and Markdown."""
    parts = [_runs(comparison)]
    for pair in comparison.pairs:
        parts += [_pair(comparison, pair), _trips(comparison, pair)]
    return parts


def _runs(comparison: Comparison) -> Block:
    rows = []
    for report in comparison.reports:
        run, p, t = report.run, report.performance, report.trades
        rows.append(
            (
                _label(comparison, run.run_id),
                run.run_id + (f" ({run.name})" if run.name else ""),
                strategy_label(run.parameters.strategy, run.parameters.strategy_params),
                report.verdict.label,
                pct(p.total_return),
                num(p.sharpe, 4),
                pct(p.max_drawdown),
                str(t.round_trips),
                pct(t.win_rate),
                str(t.fills),
                num(t.fees),
                f"{when(run.event_start)} → {when(run.event_end)}",
            )
        )
    return Block(
        "Runs",
        rows,
        header=(
            "",
            "run",
            "strategy",
            "verdict",
            "return",
            "Sharpe",
            "max drawdown",
            "round trips",
            "win rate",
            "fills",
            "fees",
            "event time",
        ),
        note="Each figure is the run's own report's. Sharpe: daily returns, UTC days, √365.",
    )


def _pair(comparison: Comparison, pair: Pair) -> Block:
    a, b = _label(comparison, pair.a), _label(comparison, pair.b)
    level = f"{comparison.confidence:.0%}"
    rows = [
        (
            d.figure,
            _value(d.figure, d.a),
            _value(d.figure, d.b),
            _difference(d.figure, d.difference),
            _interval(d),
            d.conclusion.replace("B better", f"{b} better").replace("A better", f"{a} better"),
            d.basis,
        )
        for d in pair.differences
    ]
    note = (
        f"{b} - {a}, with its bootstrap {level} interval ({comparison.resamples:,} resamples):"
        " better or worse only when the interval leaves 0 out."
    )
    if pair.common_days < comparison.min_days:
        note += (
            f" The runs share {pair.common_days} days; the verdict asks for"
            f" {comparison.min_days}: too short to tell which is better."
        )
    return Block(
        f"{b} ({pair.b}) against {a} ({pair.a})",
        rows,
        header=("figure", a, b, f"{b} - {a}", f"{level} interval", "conclusion", "resampled"),
        note=note,
    )


def _trip(match: TripMatch) -> tuple[str, ...]:
    def span(trip: Any) -> str:
        return "-" if trip is None else f"{when(trip.opened)} → {when(trip.closed)}"

    def pnl(trip: Any) -> str:
        return "-" if trip is None else num(trip.pnl)

    shift = match.entry_shift
    return (
        match.symbol,
        span(match.a),
        span(match.b),
        "-" if shift is None else f"{shift.total_seconds() / 60:+.0f} min",
        pnl(match.a),
        pnl(match.b),
        signed(match.pnl_difference, 2) if match.pnl_difference is not None else "-",
    )


def _trips(comparison: Comparison, pair: Pair) -> Block:
    a, b = _label(comparison, pair.a), _label(comparison, pair.b)
    return Block(
        f"Round trips of {b} matched to {a}'s",
        [_trip(m) for m in pair.matches],
        header=("symbol", a, b, "entry shift", f"{a} PnL", f"{b} PnL", f"{b} - {a}"),
        note=(
            f"{pair.matched} matched (same symbol, holdings overlap, nearest entry),"
            f" {pair.only_a} in {a} only, {pair.only_b} in {b} only."
        ),
        folded=len(pair.matches) > 20,
    )


def to_html(comparison: Comparison) -> str:
    """One self-contained HTML file: the chart embedded, opens offline."""
    return page_html(title(comparison), comparison.warnings, comparison.charts, blocks(comparison))


def to_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown, with the chart as a PNG file beside it."""
    return page_markdown(
        title(comparison), comparison.warnings, comparison.charts, blocks(comparison)
    )


def page_html(
    head: str, warnings: Sequence[str], charts: Mapping[str, bytes], parts: Sequence[Block]
) -> str:
    """A comparison page: title, warnings ("Not like for like"), charts embedded, blocks."""
    esc = html.escape
    page = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(head)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(head)}</h1>",
    ]
    if warnings:
        page.append(
            "<h2>Not like for like</h2><ul id='warnings'>"
            + "".join(f"<li>{esc(w)}</li>" for w in warnings)
            + "</ul>"
        )
    page += [
        f"<img alt='{esc(name)} chart' id='chart-{esc(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        for name, png in charts.items()
    ]
    page += [html_block(block) for block in parts]
    page.append("</body></html>\n")
    return "".join(page)


def page_markdown(
    head: str, warnings: Sequence[str], charts: Mapping[str, bytes], parts: Sequence[Block]
) -> str:
    """The same page as Markdown, each chart a PNG file beside it."""
    lines = [f"# {head}", ""]
    if warnings:
        lines += ["## Not like for like", ""] + [f"- {w}" for w in warnings] + [""]
    lines += [f"![{name}]({name}.png)" for name in charts]
    for block in parts:
        lines += ["", f"## {block.title}", ""]
        if block.note:
            lines += [block.note, ""]
        if block.rows:
            lines += ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
            lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines) + "\n"


def to_json(comparison: Comparison) -> str:
    """Every figure of the comparison (decimals as exact strings)."""
    data = {
        "version": JSON_VERSION,
        "runs": [
            {
                "label": _label(comparison, r.run.run_id),
                "run_id": r.run.run_id,
                "name": r.run.name,
                "group_id": r.run.group_id,
                "strategy": r.run.parameters.strategy,
                "strategy_params": r.run.parameters.strategy_params,
                "data_source": r.run.data_source,
                "event_start": r.run.event_start,
                "event_end": r.run.event_end,
                "verdict": r.verdict.label,
                "total_return": r.performance.total_return,
                "sharpe": r.performance.sharpe,
                "max_drawdown": r.performance.max_drawdown,
                "round_trips": r.trades.round_trips,
                "win_rate": r.trades.win_rate,
                "fills": r.trades.fills,
                "fees": r.trades.fees,
            }
            for r in comparison.reports
        ],
        "resamples": comparison.resamples,
        "confidence": comparison.confidence,
        "min_days": comparison.min_days,
        "warnings": comparison.warnings,
        "pairs": [
            {
                "a": pair.a,
                "b": pair.b,
                "common_days": pair.common_days,
                "differences": [vars(d) for d in pair.differences],
                "round_trips": {
                    "matched": pair.matched,
                    "only_a": pair.only_a,
                    "only_b": pair.only_b,
                    "matches": [
                        {
                            "symbol": m.symbol,
                            "a": None if m.a is None else vars(m.a),
                            "b": None if m.b is None else vars(m.b),
                            "entry_shift_s": None
                            if m.entry_shift is None
                            else m.entry_shift.total_seconds(),
                            "pnl_difference": m.pnl_difference,
                        }
                        for m in pair.matches
                    ],
                },
            }
            for pair in comparison.pairs
        ],
    }
    return json.dumps(jsonable(data), indent=2, sort_keys=True, default=str) + "\n"
