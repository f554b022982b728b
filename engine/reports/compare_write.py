"""Write a comparison of papertests: `comparison.html` (self-contained), `comparison.md`,
`comparison.json` and the chart as PNG into `<home>/comparisons/<group or runs>/` (or
`out_dir`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from engine.atomic import write_atomically
from engine.errors import PermanentError
from engine.reports import FORMATS, charts
from engine.reports.build import build_report
from engine.reports.compare import Comparison, compare
from engine.reports.compare_render import to_html, to_json, to_markdown
from engine.runs.registry import Run, RunRepository
from engine.runtime.select import endpoints
from engine.settings import Settings


@dataclass(frozen=True)
class WrittenComparison:
    comparison: Comparison
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
    directory.mkdir(parents=True, exist_ok=True)
    wanted = set(formats)
    written: list[Path] = []
    for name, render in (("html", to_html), ("md", to_markdown), ("json", to_json)):
        if name in wanted:
            path = directory / f"comparison.{name}"
            write_atomically(path, render(comparison).encode())
            written.append(path)
    if "md" in wanted:
        for chart, png in comparison.charts.items():
            path = directory / f"{chart}.png"
            write_atomically(path, png)
            written.append(path)
    return WrittenComparison(comparison, written)
