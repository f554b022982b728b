"""`claire up`, `claire ps`, `claire down` through the CLI, on a state directory of their own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.runtime.local import LocalRuntime
from engine.settings import Settings

pytestmark = pytest.mark.cli


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="claire-cli-"))
    monkeypatch.setenv("CLAIRE_HOME", str(path))
    runtime = LocalRuntime(Settings(home=path))  # made now: a test may break the settings
    yield path
    runtime.down()
    shutil.rmtree(path, ignore_errors=True)


def ps_json(runner: CliRunner) -> tuple[int, dict[str, dict[str, object]]]:
    result = runner.invoke(app, ["ps", "--json"])
    return result.exit_code, {c["name"]: c for c in json.loads(result.output)}


@pytest.mark.usefixtures("home")
def test_up_twice_then_ps_reports_both_servers_healthy() -> None:
    runner = CliRunner()

    first = runner.invoke(app, ["up"])
    second = runner.invoke(app, ["up"])
    code, components = ps_json(runner)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "claire is up" in second.output
    assert code == 0
    assert {name: (c["state"], c["healthy"]) for name, c in components.items()} == {
        "redis": ("running", True),
        "postgres": ("running", True),
    }


@pytest.mark.usefixtures("home")
def test_redis_killed_then_ps_fails_and_up_brings_it_back() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["up"]).exit_code == 0
    _, components = ps_json(runner)
    os.kill(int(str(components["redis"]["pid"])), signal.SIGKILL)

    down = runner.invoke(app, ["ps"])
    again = runner.invoke(app, ["up"])
    code, components = ps_json(runner)

    assert down.exit_code == 1
    assert "down" in down.output
    assert "not healthy" in down.output
    assert again.exit_code == 0
    assert code == 0
    assert components["redis"]["state"] == "running"


@pytest.mark.usefixtures("home")
def test_ps_before_up_then_exit_1() -> None:
    result = CliRunner().invoke(app, ["ps"])

    assert result.exit_code == 1
    assert "stopped" in result.output


@pytest.mark.usefixtures("home")
def test_down_after_up_then_stopped() -> None:
    runner = CliRunner()
    runner.invoke(app, ["up"])

    result = runner.invoke(app, ["down"])
    code, components = ps_json(runner)

    assert result.exit_code == 0
    assert "claire is down" in result.output
    assert code == 1
    assert {c["state"] for c in components.values()} == {"stopped"}


def test_up_when_binary_missing_then_one_red_line_and_exit_1(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIRE_REDIS_BINARY", "no-such-redis-server")

    result = CliRunner().invoke(app, ["up"])

    assert result.exit_code == 1
    assert "`no-such-redis-server` is not installed" in result.output
    assert "apt-get install redis-server" in result.output
    assert "Traceback" not in result.output


def test_up_when_settings_invalid_then_error_names_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIRE_RISK_MAX_EXPOSURE", "250%")

    result = CliRunner().invoke(app, ["up"])

    assert result.exit_code == 1
    assert "CLAIRE_RISK_MAX_EXPOSURE" in result.output


def test_down_volumes_on_the_local_runtime_then_refused(home: Path) -> None:
    result = CliRunner().invoke(app, ["down", "--volumes", "--yes"])

    assert result.exit_code == 1
    assert "--volumes applies to the Docker runtime" in result.output


def test_runtime_docker_without_passwords_then_every_missing_one_named(home: Path) -> None:
    result = CliRunner().invoke(app, ["--runtime", "docker", "ps"])

    assert result.exit_code == 1
    for variable in (
        "CLAIRE_DATABASE_PASSWORD",
        "CLAIRE_REDIS_PASSWORD",
        "CLAIRE_DOCKER_GRAFANA_PASSWORD",
    ):
        assert f"{variable}: is missing: required because CLAIRE_RUNTIME is docker" in (
            result.output
        )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["ps"], ["up"], ["down"], ["logs", "risk"]])
def test_docker_runtime_when_no_engine_answers_then_one_clear_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    monkeypatch.setenv("CLAIRE_RUNTIME", "docker")
    monkeypatch.setenv("CLAIRE_DATABASE_PASSWORD", "a-password")
    monkeypatch.setenv("CLAIRE_REDIS_PASSWORD", "another-password")
    monkeypatch.setenv("CLAIRE_DOCKER_GRAFANA", "false")
    monkeypatch.setenv("CLAIRE_DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")

    result = CliRunner().invoke(app, command)

    assert result.exit_code == 1, result.output
    assert "cannot reach the Docker Engine" in result.output
    assert "start Docker" in result.output
    assert "Traceback" not in result.output
