"""`claire logs STAGE` with a stage that does not exist: an error naming what does, not an
empty output and exit 0."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.runs.logs import LOG_NAME, run_log_dir
from engine.runs.registry import Run, RunParameters, RunRepository
from tests.support import claire

pytestmark = pytest.mark.cli

Db = psycopg.Connection[tuple[object, ...]]
SECRET = "s3cret-password-1234"
STAGES = "signal, risk, execution, portfolio, persistence"


@pytest.fixture
def run_id(db: Db, runtime_home: Path) -> str:
    """A run whose log holds two lines: one of the engine, one of the risk stage."""
    parameters = RunParameters("1h", Decimal(1000), ("BTCUSDT",), "synthetic", "max", "momentum")
    now = datetime.now(UTC)
    run = Run(
        f"pt-logs-{now:%H%M%S%f}", None, "running", parameters, None, None, None, now, None,
        None, None, parameters.capital,
    )  # fmt: skip
    RunRepository(db).create(run)
    RunRepository(db).finish(run.run_id, "completed", "planned end reached", now)
    day = run_log_dir(runtime_home, run.run_id) / "day_1"
    day.mkdir(parents=True)
    records = [
        {"ts": now.isoformat(), "level": "INFO", "logger": "engine.engine_process.run",
         "thread": "MainThread", "message": "papertest starting"},
        {"ts": now.isoformat(), "level": "INFO", "logger": "engine.services.risk",
         "thread": "MainThread", "message": "order approved"},
    ]  # fmt: skip
    (day / LOG_NAME).write_text("".join(json.dumps(r) + "\n" for r in records))
    return run.run_id


@pytest.mark.integration
@pytest.mark.usefixtures("claire_env")
def test_logs_when_stage_unknown_then_an_error_naming_stages_and_loggers(run_id: str) -> None:
    refused = claire("logs", "bogus", "--run", run_id, expect=1)

    error = refused.stderr.splitlines()[0]
    assert error.startswith(f"error: 'bogus' is no stage or logger of {run_id}'s log")
    assert f"engine, {STAGES}, raw" in error
    assert "engine.engine_process.run, engine.services.risk" in error
    assert refused.stdout == ""


@pytest.mark.integration
@pytest.mark.usefixtures("claire_env")
def test_logs_when_stage_known_then_only_its_lines(run_id: str) -> None:
    shown = claire("logs", "risk", "--run", run_id)

    assert "order approved" in shown.stdout
    assert "papertest starting" not in shown.stdout


def test_logs_when_docker_container_unknown_then_an_error_naming_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAIRE_HOME", str(tmp_path / "home"))
    for name in ("DATABASE", "REDIS", "DOCKER_GRAFANA"):
        monkeypatch.setenv(f"CLAIRE_{name}_PASSWORD", SECRET)

    refused = CliRunner().invoke(app, ["--runtime", "docker", "logs", "bogus"])

    assert refused.exit_code == 1, refused.output
    [error] = refused.stderr.splitlines()
    assert error.startswith("error: 'bogus' is no container of project claire: choose one of")
    assert "redis, postgres, engine" in error
    assert f"or a stage of the engine ({STAGES})" in error
    assert SECRET not in refused.output
