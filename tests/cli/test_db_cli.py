"""`claire db migrate` and `claire db status` against the suite's real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.storage.migrations import migration_files

pytestmark = [pytest.mark.cli, pytest.mark.integration]


def _use(monkeypatch: pytest.MonkeyPatch, home: Path, database: str) -> None:
    monkeypatch.setenv("CLAIRE_HOME", str(home))
    monkeypatch.setenv("CLAIRE_DATABASE_NAME", database)


def test_db_migrate_twice_then_second_run_is_up_to_date(
    monkeypatch: pytest.MonkeyPatch, runtime_home: Path, empty_database_name: str
) -> None:
    _use(monkeypatch, runtime_home, empty_database_name)

    first = CliRunner().invoke(app, ["db", "migrate"])
    second = CliRunner().invoke(app, ["db", "migrate"])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [f"applied {m.filename}" for m in migration_files()]
    assert second.exit_code == 0, second.output
    assert second.stdout == "database is up to date\n"


def test_db_migrate_on_migrated_database_is_up_to_date(
    monkeypatch: pytest.MonkeyPatch, runtime_home: Path, database_name: str
) -> None:
    _use(monkeypatch, runtime_home, database_name)

    result = CliRunner().invoke(app, ["db", "migrate"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "database is up to date\n"


def test_db_status_json_lists_applied_migrations(
    monkeypatch: pytest.MonkeyPatch, runtime_home: Path, database_name: str
) -> None:
    _use(monkeypatch, runtime_home, database_name)

    result = CliRunner().invoke(app, ["db", "status", "--json"])

    assert result.exit_code == 0, result.output
    states = json.loads(result.stdout)
    assert [(s["version"], s["name"], s["applied"]) for s in states] == [
        (m.version, m.name, True) for m in migration_files()
    ]
    assert all(s["applied_at"] and s["problem"] is None for s in states)


def test_db_status_on_empty_database_shows_pending(
    monkeypatch: pytest.MonkeyPatch, runtime_home: Path, empty_database_name: str
) -> None:
    _use(monkeypatch, runtime_home, empty_database_name)

    as_json = CliRunner().invoke(app, ["db", "status", "--json"])
    as_table = CliRunner().invoke(app, ["db", "status"])

    assert as_json.exit_code == 0, as_json.output
    assert {(s["applied"], s["applied_at"]) for s in json.loads(as_json.stdout)} == {(False, None)}
    assert as_table.exit_code == 0, as_table.output
    assert "0001" in as_table.stdout
    assert "pending" in as_table.stdout
    assert "claire db migrate" in as_table.stdout


def test_db_commands_when_migration_edited_then_refuse(
    monkeypatch: pytest.MonkeyPatch,
    runtime_home: Path,
    database_name: str,
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    db.execute("UPDATE schema_migrations SET checksum = %s WHERE version = 1", ("0" * 64,))
    _use(monkeypatch, runtime_home, database_name)

    migrate = CliRunner().invoke(app, ["db", "migrate"])
    status = CliRunner().invoke(app, ["db", "status", "--json"])

    assert migrate.exit_code == 1
    assert migrate.stderr.startswith("error: 0001_initial.sql: edited after it was applied")
    assert "Traceback" not in migrate.output
    assert status.exit_code == 1
    assert "edited after it was applied" in json.loads(status.stdout)[0]["problem"]


def test_db_migrate_when_database_unreachable_then_one_line_without_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CLAIRE_DATABASE_URL", "postgresql://claire:s3cret-pw@127.0.0.1:1/claire?connect_timeout=2"
    )

    result = CliRunner().invoke(app, ["db", "migrate"])

    assert result.exit_code == 1
    first, *rest = result.stderr.splitlines()
    assert first.startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1 (database claire)")
    assert rest == ["hint: start claire's servers with `claire up`, or check CLAIRE_DATABASE_URL"]
    assert "s3cret" not in result.output
    assert result.stdout == ""
