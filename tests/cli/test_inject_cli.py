"""`claire inject` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app

pytestmark = [pytest.mark.cli, pytest.mark.integration]


@pytest.fixture(autouse=True)
def _suite_servers(
    monkeypatch: pytest.MonkeyPatch, runtime_home: Path, database_name: str, redis_namespace: str
) -> None:
    monkeypatch.setenv("CLAIRE_HOME", str(runtime_home))
    monkeypatch.setenv("CLAIRE_DATABASE_NAME", database_name)
    monkeypatch.setenv("CLAIRE_REDIS_NAMESPACE", redis_namespace)


def test_list_names_every_scenario() -> None:
    listed = json.loads(CliRunner().invoke(app, ["inject", "list", "--json"]).stdout)
    assert {s["name"] for s in listed} >= {"duplicates", "invalid-payloads", "burst"}


def test_scenario_verified_then_exit_0_and_clean_removes_its_rows() -> None:
    result = CliRunner().invoke(app, ["inject", "invalid-payloads", "--json"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["passed"]
    assert len(outcome["figures"]["reasons"]) == 8

    cleaned = CliRunner().invoke(app, ["inject", "clean", outcome["batch"]])
    assert cleaned.exit_code == 0, cleaned.output
    assert "removed 10 injected rows" in cleaned.stdout
