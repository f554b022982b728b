"""`claire backup` and `claire restore` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.backup.manifest import DUMP

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]


def claire(*args: str, stdin: str | None = None) -> object:
    return CliRunner().invoke(app, list(args), input=stdin)


def test_bare_backup_then_listed_verified_and_restorable(tmp_path: Path) -> None:
    made = claire("backup", "--json")
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    backup_id = json.loads(made.stdout)["backup_id"]  # type: ignore[attr-defined]

    verified = claire("backup", "verify", "--latest")
    listed = json.loads(claire("backup", "list", "--json").stdout)  # type: ignore[attr-defined]
    refused = claire("restore", backup_id, stdin="n\n")
    restored = claire("restore", backup_id, "--yes")

    assert verified.exit_code == 0, verified.output  # type: ignore[attr-defined]
    assert [b["backup_id"] for b in listed] == [backup_id]
    assert listed[0]["verified"] is True
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    assert "not confirmed" in refused.stderr  # type: ignore[attr-defined]
    assert restored.exit_code == 0, restored.output  # type: ignore[attr-defined]
    assert f"restored {backup_id}" in restored.stdout  # type: ignore[attr-defined]


def test_corrupted_backup_then_verify_exits_1_naming_the_file(tmp_path: Path) -> None:
    made = claire("backup", "--json")
    path = Path(json.loads(made.stdout)["path"])  # type: ignore[attr-defined]
    (path / DUMP).write_bytes(b"garbage")

    result = claire("backup", "verify")

    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert f"{DUMP}: truncated" in result.stdout  # type: ignore[attr-defined]


def test_quiet_backup_prints_nothing_and_schedule_prints_a_cron_line() -> None:
    quiet = claire("backup", "--quiet")
    cron = claire("backup", "schedule", "--kind", "cron", "--at", "02:15")
    assert quiet.exit_code == 0  # type: ignore[attr-defined]
    assert quiet.stdout == ""  # type: ignore[attr-defined]
    assert cron.stdout.strip().endswith("backup --quiet")  # type: ignore[attr-defined]
    assert cron.stdout.split()[:2] == ["15", "2"]  # type: ignore[attr-defined]
