"""A backup taken while a papertest runs restores into a database whose report gives the
same figures, up to the backup time, as the database it was taken from."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.backup.database import with_database
from engine.backup.operations import create_backup, restore_backup
from engine.reports import build_report
from engine.runs.registry import RunRepository
from engine.settings import BackupSettings, Settings
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


def figures(conninfo: str, run_id: str, settings: Settings, until: Any) -> dict[str, Any]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        report = build_report(conn, RunRepository(conn).get(run_id), settings.verdict, until)
    return {
        "performance": vars(report.performance),
        "trades": vars(report.trades),
        "execution": vars(report.execution),
        "benchmark": report.benchmark_return,
        "charts": report.charts,
    }


def test_backup_of_a_running_papertest_restores_the_same_report_figures(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    runtime_home: Path,
    database_name: str,
    redis_namespace: str,
    database_conninfo: str,
    db: psycopg.Connection[tuple[object, ...]],
    tmp_path: Path,
) -> None:
    for name, value in {
        "CLAIRE_HOME": str(runtime_home),
        "CLAIRE_DATABASE_NAME": database_name,
        "CLAIRE_REDIS_NAMESPACE": redis_namespace,
        "CLAIRE_MONITOR_PORT": "0",
    }.items():
        monkeypatch.setenv(name, value)
    settings = settings.model_copy(update={"backup": BackupSettings(dir=tmp_path / "b")})  # type: ignore[call-arg]
    started = CliRunner().invoke(
        app,
        [
            "papertest",
            "start",
            "--duration",
            "6h",
            "--source",
            "synthetic",
            "--speed",
            "120",
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--seed",
            "7",
            "--json",
        ],
    )
    assert started.exit_code == 0, started.output
    run_id = json.loads(started.stdout)["run_id"]
    # Wait until the run has traded and carried on for a few minutes of market time.
    progressed = """
        SELECT (SELECT MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %(run)s)
             - (SELECT MIN("timestamp") FROM trades WHERE run_id = %(run)s) >= interval '5 minutes'
    """
    eventually(
        lambda: (db.execute(progressed, {"run": run_id}).fetchone() or (None,))[0], timeout=90
    )

    made = create_backup(settings)  # while the engine writes
    assert made.manifest.active_run is not None
    assert made.manifest.active_run["run_id"] == run_id
    assert CliRunner().invoke(app, ["papertest", "stop", run_id]).exit_code == 0
    db.close()

    done = restore_backup(settings, made, force=True)

    with psycopg.connect(database_conninfo, autocommit=True) as restored:
        row = restored.execute(
            'SELECT MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %s', (run_id,)
        ).fetchone()
    assert row is not None
    cut = row[0] - timedelta(minutes=1)
    # a whole minute before the backup's last snapshot
    original = with_database(database_conninfo, done.previous_database)
    assert figures(database_conninfo, run_id, settings, cut) == figures(
        original, run_id, settings, cut
    )
    assert figures(database_conninfo, run_id, settings, cut)["trades"]["fills"] >= 1
