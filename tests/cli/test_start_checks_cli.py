"""What `papertest start` says before it starts anything: an unreachable MEXC once, with the
sources that need no network; a name it cannot show; an engine reachable from other hosts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import claire, eventually

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]

Db = psycopg.Connection[tuple[object, ...]]


def runs(db: Db) -> Any:
    return db.execute("SELECT COUNT(*) FROM runs").fetchone()


def test_start_when_mexc_unreachable_then_said_once_with_the_offline_sources(
    monkeypatch: pytest.MonkeyPatch, db: Db
) -> None:
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", "http://127.0.0.1:9")

    refused = claire("papertest", "start", "--duration", "1h", "--source", "mexc", expect=1)

    said = refused.output
    assert said.count("exchangeInfo") == 1, said
    error, hint = refused.stderr.splitlines()
    assert error.startswith("error: cannot start the papertest: market data: MEXC cannot be")
    assert "http://127.0.0.1:9" in error
    assert "--source synthetic" in hint
    assert "--source replay:PATH" in hint
    assert "Traceback" not in said
    assert runs(db) == (0,)


def test_start_when_a_check_fails_with_json_then_stdout_is_json_and_the_error_on_stderr(
    tmp_path: Path, db: Db
) -> None:
    missing = tmp_path / "nowhere.csv"

    refused = claire(
        "papertest", "start", "--source", f"replay:{missing}", "--no-backup", "--json", expect=1
    )

    said = json.loads(refused.stdout)  # before: the passed checks as plain lines
    assert said["started"] is False
    assert said["passed"]["duration"] == "ok"
    assert said["problems"] == [f"market data: {missing}: no such file or directory"]
    assert refused.stderr.splitlines()[0] == (
        f"error: cannot start the papertest: market data: {missing}: no such file or directory"
    )
    assert runs(db) == (0,)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("\x1b[31mred\x1b[0m", "the control character '\\x1b' (character 1)"),
        ("two\nlines", "the control character '\\n' (character 4)"),
        ("x" * 201, "201 characters long; at most 200"),
    ],
    ids=["escape", "newline", "too long"],
)
def test_start_when_name_unprintable_or_too_long_then_refused_in_one_line(
    db: Db, name: str, problem: str
) -> None:
    refused = claire(
        "papertest", "start", "--name", name, "--source", "synthetic", "--no-backup", expect=1
    )

    error = refused.stderr.splitlines()[0]
    assert error.startswith("error: the run name ")
    assert problem in error
    assert "\x1b" not in refused.output
    assert len(refused.stderr.splitlines()) == 2  # the error and its hint
    assert refused.stdout == ""
    assert runs(db) == (0,)


@pytest.mark.slow
def test_start_when_monitor_on_every_address_then_warned_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_MONITOR_HOST", "0.0.0.0")

    started = claire(
        "papertest", "start", "--duration", "30m", "--source", "synthetic", "--speed", "max",
        "--no-backup", "--name", "x" * 200, "--json",
    )  # fmt: skip

    [warning] = [line for line in started.stderr.splitlines() if "CLAIRE_MONITOR_HOST" in line]
    assert warning.startswith("warning: CLAIRE_MONITOR_HOST=0.0.0.0: ")
    assert "reached from other hosts" in warning
    run_id = json.loads(started.stdout)["run_id"]
    eventually(
        lambda: (
            json.loads(claire("papertest", "status", run_id, "--json").stdout)["status"]
            == "completed"
        ),
        timeout=90,
        what="the run to end",
    )
