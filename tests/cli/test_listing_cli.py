"""`papertest list` and `backup list` on narrow terminals: every id whole (the other commands
take it), each time column on one labelled basis. Run as a real program, its width COLUMNS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from engine.runs.registry import Run, RunParameters, RunRepository
from tests.support import claire

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]

Db = psycopg.Connection[tuple[object, ...]]
PROGRAM = Path(sys.executable).parent / "claire"
#: When the recording a replay played was made: far from the wall clock of its run.
RECORDED = datetime(2026, 1, 5, tzinfo=UTC)


def listed(width: int, *args: str) -> str:
    done = subprocess.run(
        [str(PROGRAM), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": str(width)},
        check=True,
    )
    return done.stdout


def ended_run(db: Db, run_id: str, name: str, event_start: datetime | None) -> None:
    """Record a run that ended (event time from `event_start`, two hours of it)."""
    now = datetime.now(UTC)
    parameters = RunParameters(
        duration="2h",
        capital=Decimal(10_000),
        symbols=("BTCUSDT",),
        source="replay:/data/btc.parquet",
        speed="max",
        strategy="momentum",
    )
    repo = RunRepository(db)
    repo.create(
        Run(
            run_id=run_id,
            name=name,
            status="running",
            parameters=parameters,
            settings_hash=None,
            code_version=None,
            data_source="replay-test",
            started_at=now,
            planned_end=None,
            ended_at=None,
            end_reason=None,
            initial_capital=parameters.capital,
        )
    )
    span = (event_start, event_start + timedelta(hours=2)) if event_start else (None, None)
    repo.finish(run_id, "completed", "planned end reached", now, event_span=span)


@pytest.fixture
def runs(db: Db) -> list[str]:
    ids = ["pt-20261203-1405-3f9a", "pt-20261203-1712-b07c"]
    ended_run(db, ids[0], "a replay of January with a long name to fold", RECORDED)
    ended_run(db, ids[1], "no market data", None)
    return ids


@pytest.mark.parametrize("width", [80, 100])
def test_papertest_list_when_narrow_then_every_run_id_whole(runs: list[str], width: int) -> None:
    text = listed(width, "papertest", "list")

    for run_id in runs:
        assert run_id in text, text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width, text


def test_papertest_list_then_wall_clock_and_event_time_apart_and_labelled(
    runs: list[str],
) -> None:
    text = listed(200, "papertest", "list")
    header, *rows = text.splitlines()

    assert "started (wall clock, UTC)" in header
    assert "event time played (UTC)" in header
    assert "ended" not in header  # one basis per column: no wall-clock end beside event time
    [replay] = [row for row in rows if runs[0] in row]
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    assert today in replay  # started: the wall clock
    assert "2026-01-05 00:00 → 02:00" in replay  # played: the recording's own time


@pytest.mark.parametrize("width", [80, 100])
def test_backup_list_when_narrow_then_every_backup_id_whole(width: int, tmp_path: Path) -> None:
    made = [
        json.loads(claire("backup", "--label", label, "--json").stdout)["backup_id"]
        # The safety backup of a restore: as long as a backup id gets.
        for label in ("before-papertest", "before-restore-20261124T010000123456Z-before-papertest")
    ]
    damaged = tmp_path / "backups" / "20261124T010000123456Z-before-papertest"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{not json")

    text = listed(width, "backup", "list")

    for backup_id in [*made, damaged.name]:
        assert backup_id in text, text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width, text
