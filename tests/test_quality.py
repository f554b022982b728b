"""Lint, formatting and strict typing are part of the suite, so CI keeps them clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.slow
def test_ruff_check_is_clean() -> None:
    done = _run(str(BIN / "ruff"), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_ruff_format_is_clean() -> None:
    done = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    done = _run(str(BIN / "mypy"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_no_installed_dependency_has_a_known_vulnerability(tmp_path: Path) -> None:
    """pip-audit over everything installed (the project itself excepted)."""
    frozen = _run(str(BIN / "pip"), "freeze", "--exclude-editable").stdout
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(frozen)
    done = _run(
        str(BIN / "pip-audit"), "--progress-spinner", "off", "--format", "json",
        "-r", str(requirements),
    )  # fmt: skip
    report = json.loads(done.stdout or "{}")
    dependencies = report.get("dependencies", [])
    vulnerable = [
        f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in dependencies
        if d.get("vulns")
    ]
    assert not vulnerable, vulnerable
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        pytest.skip(
            f"pip-audit could audit none of the {len(dependencies)} installed packages: their "
            "versions are not on the package index this machine reaches"
        )
    assert audited, done.stderr
