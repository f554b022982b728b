"""`claire status`: exit codes as monitoring plugins use them, and what changed."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.runs.registry import Run, RunParameters, RunRepository, utc_now

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]

Db = psycopg.Connection[tuple[object, ...]]


def recent_backup(tmp_path: Path) -> None:
    backup = tmp_path / "backups" / "20261124T010000Z"
    backup.mkdir(parents=True)
    (backup / "manifest.json").write_text("{}")


def running_without_engine(db: Db, run_id: str) -> None:
    """Register a run marked running whose engine is not there (a crash, a reboot)."""
    now = utc_now()
    parameters = RunParameters(
        "7d", Decimal(100_000), ("BTCUSDT",), "synthetic", "realtime", "momentum"
    )
    RunRepository(db).create(
        Run(
            run_id,
            None,
            "running",
            parameters,
            None,
            None,
            "synthetic-42",
            now,
            now + timedelta(days=7),
            None,
            None,
            Decimal(100_000),
        )
    )


def status() -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, ["status", "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_all_well_then_ok_and_exit_0(tmp_path: Path) -> None:
    recent_backup(tmp_path)
    code, report = status()
    assert (code, report["status"]) == (0, "OK"), report


def test_no_backup_yet_then_warning_and_exit_1() -> None:
    code, report = status()
    assert (code, report["status"]) == (1, "WARNING")
    [finding] = [f for f in report["findings"] if f["component"] == "backup"]  # type: ignore[union-attr]
    assert "claire backup" in finding["detail"]


def test_papertest_running_without_engine_then_critical_and_exit_2(tmp_path: Path, db: Db) -> None:
    recent_backup(tmp_path)
    running_without_engine(db, "pt-dead")
    code, report = status()
    assert (code, report["status"]) == (2, "CRITICAL")
    [engine] = [f for f in report["findings"] if f["component"] == "engine"]  # type: ignore[union-attr]
    assert "claire papertest resume" in engine["detail"]
    assert report["changes"] == ["first check of this papertest"]
    _, again = status()
    assert again["changes"][0].startswith("since ")  # type: ignore[index]


def test_settings_broken_then_unknown_and_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "lots")
    code, report = status()
    assert (code, report["status"]) == (3, "UNKNOWN")


def test_claire_up_after_a_crash_then_says_how_to_resume(db: Db) -> None:
    running_without_engine(db, "pt-rebooted")
    result = CliRunner().invoke(app, ["up"])
    assert result.exit_code == 0, result.output
    assert "claire papertest resume pt-rebooted" in result.stdout
