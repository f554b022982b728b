"""Hints name claire as the user ran it: `./scripts/claire backup`, not a `claire` that is not
on PATH. Run as a real program (its argv[0] and PATH are what decide), with no server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from claire_cli.invocation import WRAPPER_VARIABLE

pytestmark = pytest.mark.cli

#: The console script this checkout installed, beside the venv's Python.
PROGRAM = Path(sys.executable).parent / "claire"
#: A PATH without the venv: `claire` is not found on it.
BARE_PATH = "/usr/bin:/bin"


def run(
    tmp_path: Path, *args: str, path: str = BARE_PATH, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": path,
        "HOME": str(tmp_path),
        "COLUMNS": "200",
        "CLAIRE_HOME": str(tmp_path / "home"),
        "CLAIRE_BACKUP_DIR": str(tmp_path / "backups"),
        **env,
    }
    return subprocess.run(
        [str(PROGRAM), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        cwd=tmp_path,
        check=False,
    )


def test_hint_when_run_by_the_wrapper_then_names_the_wrapper(tmp_path: Path) -> None:
    done = run(tmp_path, "backup", "list", **{WRAPPER_VARIABLE: "./scripts/claire"})

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no backup yet — ./scripts/claire backup"


def test_engine_error_hint_when_run_by_the_wrapper_then_names_the_wrapper(tmp_path: Path) -> None:
    done = run(tmp_path, "backup", "verify", **{WRAPPER_VARIABLE: "./scripts/claire"})

    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "hint: ./scripts/claire backup"


def test_hint_when_not_on_path_then_names_the_program_s_path(tmp_path: Path) -> None:
    done = run(tmp_path, "backup", "list")

    assert done.stdout.strip() == f"no backup yet — {PROGRAM} backup"


def test_hint_when_path_finds_the_program_then_claire(tmp_path: Path) -> None:
    done = run(tmp_path, "backup", "list", path=f"{PROGRAM.parent}:{BARE_PATH}")

    assert done.stdout.strip() == "no backup yet — claire backup"


def test_wrapper_variable_when_set_then_no_unknown_setting(tmp_path: Path) -> None:
    done = run(tmp_path, "env", "check", **{WRAPPER_VARIABLE: "./scripts/claire"})

    assert done.returncode == 0, done.stdout
    assert WRAPPER_VARIABLE not in done.stdout


def test_usage_error_when_run_by_the_wrapper_then_names_the_wrapper(tmp_path: Path) -> None:
    done = run(tmp_path, "papertest", "start", "--bogus", **{WRAPPER_VARIABLE: "./scripts/claire"})

    assert done.returncode == 2
    assert "Try './scripts/claire papertest start -h' for help." in done.stderr
