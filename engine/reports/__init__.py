"""A papertest's report: every figure from the database, a verdict, charts.

`write_report(settings, run_id)` writes `report.html` (self-contained), `report.md`,
`report.json` and the charts as PNG into `<home>/reports/<run>/` (or `out_dir`).
The names below are loaded on first use: the figures module (`metrics`) stays cheap to
import for the status commands, the charts (matplotlib) load only for a report.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

FORMATS = ("html", "md", "json")

_WHERE = {
    "Criterion": "build",
    "Report": "build",
    "build_report": "build",
    "WrittenReport": "write",
    "write_report": "write",
    "write_files": "write",
}

if TYPE_CHECKING:
    from engine.reports.build import Criterion, Report, build_report
    from engine.reports.write import WrittenReport, write_files, write_report
    from engine.settings import Settings

__all__ = [
    "FORMATS",
    "Criterion",
    "Report",
    "WrittenReport",
    "build_report",
    "report_dir",
    "write_files",
    "write_report",
]


def report_dir(settings: Settings, run_id: str) -> Path:
    """Where a run's report is written unless told otherwise: `<home>/reports/<run>/`."""
    return settings.home / "reports" / run_id


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'engine.reports' has no attribute {name!r}")
    return getattr(importlib.import_module(f"engine.reports.{_WHERE[name]}"), name)
