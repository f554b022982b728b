"""A paper run against its replay as HTML (self-contained), Markdown and JSON."""

from __future__ import annotations

import json

from engine.reports.compare_render import page_html, page_markdown
from engine.reports.jsonable import jsonable
from engine.reports.render import Block, num, signed, when
from engine.reports.replay_compare import CAUSES, FillMatch, FillRow, ReplayComparison

#: Bumped when a key of replay.json changes meaning or goes away.
JSON_VERSION = 1


def title(comparison: ReplayComparison) -> str:
    return f"Papertest {comparison.paper_run} against its replay {comparison.replay_run}"


def verdict_line(comparison: ReplayComparison) -> str:
    """One line: do they agree, and by how much does the net PnL differ."""
    same = sum(1 for m in comparison.fills if m.how == "same")
    total = len(comparison.fills)
    if comparison.agrees:
        return f"paper and replay agree trade for trade ({total} fills the same)"
    return (
        f"paper and replay differ: {same} of {total} fills the same; net PnL paper - replay "
        f"{signed(comparison.difference, 2)}"
    )


def blocks(comparison: ReplayComparison) -> list[Block]:
    return [_summary(comparison), _attribution(comparison), _trips(comparison), _fills(comparison)]


def _summary(c: ReplayComparison) -> Block:
    rows = [
        ("verdict", verdict_line(c)),
        ("net PnL, paper", num(c.paper_pnl)),
        ("net PnL, replay", num(c.replay_pnl)),
        ("difference (paper - replay)", signed(c.difference, 2)),
        ("fills the same", str(sum(1 for m in c.fills if m.how == "same"))),
        ("fills that differ", str(sum(1 for m in c.fills if m.how != "same"))),
        ("outages, gaps and restarts the paper run lived through", str(len(c.windows))),
    ]
    return Block("Paper against replay", rows)


def _attribution(c: ReplayComparison) -> Block:
    rows = [(cause, signed(c.attribution[cause], 2)) for cause in CAUSES]
    rows.append(("total: the net PnL difference", signed(c.difference, 2)))
    return Block(
        "Net PnL difference by cause",
        rows,
        ("cause", "paper - replay"),
        note="Per round trip; what is left is the positions open at the end, marked to market.",
    )


def _trips(c: ReplayComparison) -> Block:
    rows = []
    for t in c.trips:
        trip = t.match.b or t.match.a
        assert trip is not None
        rows.append(
            (t.match.symbol, when(trip.opened), when(trip.closed), t.cause, t.why,
             signed(t.effect, 2))
        )  # fmt: skip
    return Block(
        "Round trips that differ",
        rows,
        ("symbol", "opened", "closed", "cause", "why", "PnL paper - replay"),
        note=None if rows else "none: every round trip has the same PnL in both",
    )


def _fill(fill: FillRow | None) -> str:
    if fill is None:
        return "-"
    return f"{when(fill.at)} {fill.quantity} @ {fill.price} (fee {fill.fee})"


def _fills(c: ReplayComparison) -> Block:
    rows = [(m.symbol, m.side, m.how, _fill(m.paper), _fill(m.replay)) for m in c.fills]
    return Block(
        "Fills, paper against replay",
        rows,
        ("symbol", "side", "how", "paper", "replay"),
        folded=len(rows) > 20,
    )


def to_html(comparison: ReplayComparison) -> str:
    return page_html(title(comparison), comparison.warnings, comparison.charts, blocks(comparison))


def to_markdown(comparison: ReplayComparison) -> str:
    return page_markdown(
        title(comparison), comparison.warnings, comparison.charts, blocks(comparison)
    )


def _fill_json(fill: FillRow | None) -> dict[str, object] | None:
    return None if fill is None else vars(fill)


def _match_json(m: FillMatch) -> dict[str, object]:
    return {
        "symbol": m.symbol,
        "side": m.side,
        "how": m.how,
        "paper": _fill_json(m.paper),
        "replay": _fill_json(m.replay),
    }


def to_json(comparison: ReplayComparison) -> str:
    c = comparison
    data = {
        "version": JSON_VERSION,
        "paper_run": c.paper_run,
        "replay_run": c.replay_run,
        "agrees": c.agrees,
        "paper_pnl": c.paper_pnl,
        "replay_pnl": c.replay_pnl,
        "difference": c.difference,
        "attribution": c.attribution,
        "fills": [_match_json(m) for m in c.fills],
        "trips": [
            {
                "symbol": t.match.symbol,
                "paper": None if t.match.b is None else vars(t.match.b),
                "replay": None if t.match.a is None else vars(t.match.a),
                "effect": t.effect,
                "cause": t.cause,
                "why": t.why,
            }
            for t in c.trips
        ],
        "windows": [vars(w) for w in c.windows],
        "warnings": c.warnings,
    }
    return json.dumps(jsonable(data), indent=2, sort_keys=True, default=str) + "\n"
