"""Write a comparison of papertests: `comparison.html` (self-contained), `comparison.md`,
`comparison.json` and the chart as PNG into `<home>/comparisons/<group or runs>/` (or
`out_dir`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from engine.atomic import write_atomically
from engine.errors import PermanentError
from engine.reports import FORMATS, charts
from engine.reports.build import Report, build_report
from engine.reports.compare import Comparison, compare
from engine.reports.compare_render import to_html, to_json, to_markdown
from engine.reports.replay_compare import (
    OUTAGE,
    RESTART,
    FillRow,
    ReplayComparison,
    Window,
    compare_with_replay,
)
from engine.runs.registry import Run, RunRepository
from engine.runtime.select import endpoints
from engine.settings import Settings


@dataclass(frozen=True)
class WrittenComparison:
    comparison: Comparison
    paths: list[Path]


@dataclass(frozen=True)
class WrittenReplayComparison:
    comparison: ReplayComparison
    paths: list[Path]


def chosen_runs(
    conn: psycopg.Connection[Any], run_ids: Sequence[str], group: str | None
) -> list[Run]:
    """The runs to compare: those named, in order, after a group's (two at least)."""
    repo = RunRepository(conn)
    runs = repo.group(group) if group is not None else []
    runs += [repo.get(run_id) for run_id in run_ids]
    unique = list({r.run_id: r for r in runs}.values())  # each once, where it came first
    if len(unique) < 2:
        raise PermanentError(
            "a comparison needs two runs at least: give their ids, or --group GROUP",
            hint="claire papertest list shows them",
        )
    return unique


def comparison_dir(settings: Settings, runs: Sequence[Run]) -> Path:
    """`<home>/comparisons/<group>/` for a whole group, else `<home>/comparisons/<A>+<B>…/`."""
    groups = {r.group_id for r in runs}
    if len(groups) == 1 and None not in groups:
        name = str(groups.pop())
    else:
        name = "+".join(r.run_id for r in runs)[:200]
    return settings.home / "comparisons" / name


def write_comparison(
    settings: Settings,
    run_ids: Sequence[str],
    *,
    group: str | None = None,
    out_dir: Path | None = None,
    formats: Iterable[str] = FORMATS,
) -> WrittenComparison:
    """Build every run's report, compare them with the first, and write the comparison."""
    with psycopg.connect(endpoints(settings).database_conninfo, autocommit=True) as conn:
        runs = chosen_runs(conn, run_ids, group)
        reports = [
            build_report(
                conn,
                run,
                settings.verdict,
                report_settings=settings.report,
                current=settings,
                draw=False,  # one chart of every run instead
            )
            for run in runs
        ]
    comparison = compare(
        reports,
        resamples=settings.report.bootstrap_resamples,
        min_days=settings.verdict.min_days,
    )
    comparison.charts["returns"] = charts.comparison_chart(
        [
            (f"{chr(ord('A') + n)} {r.run.name or r.run.run_id}", r.curve, r.run.initial_capital)
            for n, r in enumerate(reports)
        ]
    )
    directory = out_dir or comparison_dir(settings, runs)
    renders = {"html": to_html, "md": to_markdown, "json": to_json}
    written = _write(directory, "comparison", comparison, renders, set(formats))
    written += _charts(directory, comparison.charts, set(formats))
    return WrittenComparison(comparison, written)


def _write(
    directory: Path, stem: str, what: Any, renders: dict[str, Any], wanted: set[str]
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, render in renders.items():
        if name in wanted:
            path = directory / f"{stem}.{name}"
            write_atomically(path, render(what).encode())
            written.append(path)
    return written


_FILLS = """
SELECT symbol, side, quantity, execution_price, fees, "timestamp" FROM trades
 WHERE run_id = %s ORDER BY "timestamp", trade_id
"""


def fills_of(conn: psycopg.Connection[Any], run_id: str) -> list[FillRow]:
    rows = conn.execute(_FILLS, (run_id,)).fetchall()
    return [FillRow(s, str(side), q, p, f, at) for s, side, q, p, f, at in rows]


def windows_of(report: Report) -> list[Window]:
    """What the paper run lived through: its gaps in market data, its servers' outages and
    its engine's (a restart), in time order."""
    ended = report.run.ended_at or report.run.event_end
    windows = [
        Window(
            OUTAGE,
            f"{g['symbol']} {g['cause']} gap",
            g["gap_start"],
            g["gap_end"],
        )
        for g in report.gaps
    ]
    for o in report.system["outages"]:
        cause = RESTART if o["component"] == "engine" else OUTAGE
        until = o["ended_at"] or ended or o["began_at"]
        windows.append(Window(cause, f"{o['component']} down", o["began_at"], until))
    return sorted(windows, key=lambda w: (w.began, w.what))


def _accounted(report: Report) -> Decimal:
    """Round trips plus open positions, exact (the final equity is stored rounded; the
    report shows the two reconcile)."""
    reconciliation = report.trades.reconciliation
    return report.performance.total_pnl if reconciliation is None else reconciliation.accounted


def write_replay_comparison(
    settings: Settings,
    paper_id: str,
    replay_id: str,
    *,
    out_dir: Path | None = None,
    formats: Iterable[str] = FORMATS,
) -> WrittenReplayComparison:
    """Compare a paper run with its replay and write `replay.html`, `.md` and `.json` into
    `<home>/comparisons/<paper>+replay/` (or `out_dir`)."""
    from engine.reports import replay_render

    with psycopg.connect(endpoints(settings).database_conninfo, autocommit=True) as conn:
        repo = RunRepository(conn)
        paper, replay = repo.get(paper_id), repo.get(replay_id)
        built = [
            build_report(conn, run, settings.verdict, report_settings=settings.report,
                         current=settings, draw=False)
            for run in (paper, replay)
        ]  # fmt: skip
        paper_fills, replay_fills = fills_of(conn, paper.run_id), fills_of(conn, replay.run_id)
    on_paper, replayed = built
    comparison = compare_with_replay(
        paper.run_id,
        replay.run_id,
        paper_fills=paper_fills,
        replay_fills=replay_fills,
        paper_trips=on_paper.trades.trips,
        replay_trips=replayed.trades.trips,
        paper_pnl=_accounted(on_paper),
        replay_pnl=_accounted(replayed),
        windows=windows_of(on_paper),
    )
    if paper.settings_hash != replay.settings_hash:
        comparison.warnings.append(
            f"the settings changed since {paper.run_id} ran: the replay used today's"
        )
    if replay.status != "completed":
        comparison.warnings.append(f"the replay {replay.run_id} is {replay.status}")
    comparison.charts["returns"] = charts.comparison_chart(
        [(f"{label} {r.run.run_id}", r.curve, r.run.initial_capital)
         for label, r in (("paper", on_paper), ("replay", replayed))]
    )  # fmt: skip
    directory = out_dir or settings.home / "comparisons" / f"{paper.run_id}+replay"
    renders = {
        "html": replay_render.to_html,
        "md": replay_render.to_markdown,
        "json": replay_render.to_json,
    }
    written = _write(directory, "replay", comparison, renders, set(formats))
    written += _charts(directory, comparison.charts, set(formats))
    return WrittenReplayComparison(comparison, written)


def _charts(directory: Path, drawn: dict[str, bytes], wanted: set[str]) -> list[Path]:
    """The charts as PNG files beside the Markdown (the HTML embeds them)."""
    if "md" not in wanted:
        return []
    written = []
    for chart, png in drawn.items():
        path = directory / f"{chart}.png"
        write_atomically(path, png)
        written.append(path)
    return written
