"""A `.env` holding a secret that others can read is said on every command that reads it,
once, on stderr (not only by `env check`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app

pytestmark = pytest.mark.cli

SECRET = "https://discord.example/hook/s3cret-token-1234"


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLAIRE_HOME", str(tmp_path / "home"))


def write_env(tmp_path: Path, mode: int) -> None:
    path = tmp_path / ".env"  # the working directory's: read by default
    path.write_text(f"CLAIRE_NOTIFY_DISCORD_WEBHOOK={SECRET}\n")
    path.chmod(mode)


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize("command", [["backup", "list"], ["env", "show"]], ids=" ".join)
def test_command_when_env_file_readable_by_others_then_warned_once_on_stderr(
    tmp_path: Path, command: list[str]
) -> None:
    write_env(tmp_path, 0o644)

    result = CliRunner().invoke(app, command)

    assert result.exit_code == 0, result.output
    [warning] = warnings(result.stderr)
    assert "holds secrets (CLAIRE_NOTIFY_DISCORD_WEBHOOK)" in warning
    assert "(mode 0644)" in warning
    assert warning.endswith("chmod 600 .env")
    assert "warning" not in result.stdout
    assert SECRET not in result.output


def test_command_when_env_file_private_then_no_warning(tmp_path: Path) -> None:
    write_env(tmp_path, 0o600)

    result = CliRunner().invoke(app, ["backup", "list"])

    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_env_check_when_readable_by_others_then_said_once_as_its_finding(tmp_path: Path) -> None:
    write_env(tmp_path, 0o644)

    result = CliRunner().invoke(app, ["env", "check"])

    assert result.exit_code == 0, result.output
    assert result.output.count("chmod 600 .env") == 1
