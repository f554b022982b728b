"""Write a papertest's report: `report.html` (self-contained), `report.md`, `report.json`
and the charts as PNG into `<home>/reports/<run>/` (or `out_dir`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from engine.atomic import write_atomically
from engine.reports import FORMATS, report_dir
from engine.reports.build import Report, build_report
from engine.reports.render import to_html, to_json, to_markdown
from engine.runs.registry import RunRepository
from engine.runtime.select import endpoints
from engine.settings import Settings


@dataclass(frozen=True)
class WrittenReport:
    """A report and the files it was written to."""

    report: Report
    paths: list[Path]


def write_report(
    settings: Settings,
    run_id: str | None,
    out_dir: Path | None = None,
    formats: Iterable[str] = FORMATS,
) -> WrittenReport:
    """Build the report of `run_id` (newest run when None) and write it."""
    conninfo = endpoints(settings).database_conninfo
    with psycopg.connect(conninfo, autocommit=True) as conn:
        run = RunRepository(conn).get(run_id)
        report = build_report(
            conn, run, settings.verdict, report_settings=settings.report, current=settings
        )
    directory = out_dir or report_dir(settings, run.run_id)
    directory.mkdir(parents=True, exist_ok=True)
    return WrittenReport(report, write_files(report, directory, formats))


def write_files(report: Report, directory: Path, formats: Iterable[str]) -> list[Path]:
    """Write the chosen formats (and the PNG charts with Markdown) into `directory`."""
    wanted = set(formats)
    written: list[Path] = []
    renderers = {"html": to_html, "md": to_markdown, "json": to_json}
    for name in FORMATS:
        if name not in wanted:
            continue
        path = directory / f"report.{name}"
        write_atomically(path, renderers[name](report).encode())
        written.append(path)
    if "md" in wanted or "png" in wanted:
        for chart, png in report.charts.items():
            path = directory / f"{chart}.png"
            write_atomically(path, png)
            written.append(path)
    return written
