"""Structured engine logs, archived per run and per day of the run.

`<home>/logs/papertest/<run>/day_1/engine.jsonl`, `day_2/...`: one JSON object per line
(`ts`, `level`, `logger`, `thread`, `message`, and `error` with the traceback when there is one).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from engine.errors import PermanentError

LOG_NAME = "engine.jsonl"
#: The logger of a log line that is no record (see `log_record`).
RAW_LOGGER = "raw"
#: Every logger of the engine's own code starts so (`claire logs engine`: all of it).
ENGINE_LOGGER = "engine"
#: How many of a log's loggers an unknown stage's error names.
_LOGGERS_NAMED = 8


class UnknownStageError(PermanentError):
    """No stage or logger of that name writes to the run's log."""


def run_log_dir(home: Path, run_id: str) -> Path:
    return home / "logs" / "papertest" / run_id


def day_of_run(started_at: datetime, at: datetime) -> int:
    """Return the 1-based day of the run that `at` falls in (24 h from the start each)."""
    return max(1, int((at - started_at).total_seconds() // 86_400) + 1)


class RunDayHandler(logging.Handler):
    """Write JSON lines into the log file of the current day of the run."""

    def __init__(self, home: Path, run_id: str, started_at: datetime) -> None:
        super().__init__()
        self._dir = run_log_dir(home, run_id)
        self._started = started_at
        self._day = 0
        self._file: TextIO | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            at = datetime.fromtimestamp(record.created, UTC)
            line = {
                "ts": at.isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                "thread": record.threadName,
                "message": record.getMessage(),
            }
            if record.exc_info:
                line["error"] = "".join(traceback.format_exception(*record.exc_info))
            handle = self._handle_for(day_of_run(self._started, at))
            handle.write(json.dumps(line) + "\n")
            handle.flush()
        except Exception:
            self.handleError(record)

    def _handle_for(self, day: int) -> TextIO:
        if self._file is None or day != self._day:
            if self._file is not None:
                self._file.close()
            directory = self._dir / f"day_{day}"
            directory.mkdir(parents=True, exist_ok=True)
            self._file = (directory / LOG_NAME).open("a", encoding="utf-8")
            self._day = day
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def log_files(home: Path, run_id: str) -> list[Path]:
    """Return the run's log files, day by day."""
    root = run_log_dir(home, run_id)
    days = sorted(root.glob(f"day_*/{LOG_NAME}"), key=lambda p: int(p.parent.name[4:]))
    return days


def read_log_lines(path: Path) -> Iterator[dict[str, str]]:
    """Yield the records of one log file, skipping blank lines (see `log_record`)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = line.strip()
            if text:
                yield log_record(text)


def is_from(record: dict[str, str], stage: str) -> bool:
    """Whether `record` was written by `stage`: a stage or logger name, or part of one."""
    return stage in record.get("logger", "") or stage in record.get("thread", "")


def check_stage(stage: str, records: list[dict[str, str]], run_id: str) -> None:
    """Raise UnknownStageError, naming what is allowed, unless `stage` is a stage of the
    pipeline (or `engine`, or `raw`) or matches a logger (or thread) of `records`, the run's
    log: a known name that wrote nothing yet is no error."""
    from engine.services.pipeline import STAGE_NAMES

    known = (ENGINE_LOGGER, *STAGE_NAMES, RAW_LOGGER)
    if stage in known or any(is_from(record, stage) for record in records):
        return
    loggers = sorted({record.get("logger", "") for record in records} - {""})
    named = ", ".join(loggers[:_LOGGERS_NAMED]) + (", …" if len(loggers) > _LOGGERS_NAMED else "")
    held = f" or a logger of its log ({named})" if loggers else ""
    raise UnknownStageError(
        f"{stage!r} is no stage or logger of {run_id}'s log: choose a stage "
        f"({', '.join(known)}){held}",
        hint="claire logs without a stage prints every line",
    )


def log_record(line: str) -> dict[str, str]:
    """Return the record of one log line, every field as text.

    Whatever else ends up in the log (a library printing a number, a line cut by a crash, a
    JSON field that is not text) is shown as it is: a line that is not a JSON object becomes
    a `raw` record of its text, a field that is not text its JSON.
    """
    try:
        value = json.loads(line)
        if isinstance(value, dict):
            return {
                key: field if isinstance(field, str) else json.dumps(field, ensure_ascii=False)
                for key, field in value.items()
            }
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json goes
        pass
    return {"ts": "", "level": "INFO", "logger": RAW_LOGGER, "message": line.strip()}
