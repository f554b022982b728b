"""`claire` given what goes wrong on real machines: servers that do not answer, wrong
passwords, directories it cannot write, a damaged state directory. One clear line each,
a non-zero exit, never a traceback, never a secret."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from tests.support import free_port

pytestmark = pytest.mark.cli

COMMANDS = [
    ["ps"],
    ["status"],
    ["papertest", "list"],
    ["papertest", "status"],
    ["backup"],
    ["db", "status"],
    ["inject", "duplicates"],
]


def one_clear_line(command: list[str], *secrets: str) -> str:
    result = CliRunner().invoke(app, command)
    text = result.output
    assert result.exit_code != 0, text
    assert not (result.exception and not isinstance(result.exception, SystemExit)), text
    assert "Traceback" not in text
    for secret in secrets:
        assert secret not in text
    return text


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="claire-bad-"))
    monkeypatch.setenv("CLAIRE_HOME", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_servers_that_do_not_answer(
    home: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("CLAIRE_REDIS_URL", f"redis://:nope-1234@127.0.0.1:{free_port()}/0")
    monkeypatch.setenv(
        "CLAIRE_DATABASE_URL", f"postgresql://claire:nope-5678@127.0.0.1:{free_port()}/claire"
    )

    text = one_clear_line(command, "nope-1234", "nope-5678")

    assert "answer" in text or "refused" in text


@pytest.fixture(scope="module")
def guarded() -> Iterator[tuple[int, int]]:
    """claire's own servers on TCP with passwords (a state directory of their own)."""
    path = Path(tempfile.mkdtemp(prefix="claire-guarded-"))
    ports = (free_port(), free_port())
    while ports[1] == ports[0]:
        ports = (ports[0], free_port())
    env = {
        "CLAIRE_HOME": str(path),
        "CLAIRE_REDIS_PORT": str(ports[0]),
        "CLAIRE_REDIS_PASSWORD": "right-redis-secret",
        "CLAIRE_DATABASE_PORT": str(ports[1]),
        "CLAIRE_DATABASE_PASSWORD": "right-postgres-secret",
    }

    def claire(*command: str) -> Any:  # with these settings only while it runs
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            return CliRunner().invoke(app, list(command))

    started = claire("up")
    assert started.exit_code == 0, started.output
    try:
        yield ports
    finally:
        claire("down")
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_wrong_passwords(
    guarded: tuple[int, int], home: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    redis_port, postgres_port = guarded
    monkeypatch.setenv("CLAIRE_REDIS_URL", f"redis://:wrong-redis-1@127.0.0.1:{redis_port}/0")
    monkeypatch.setenv(
        "CLAIRE_DATABASE_URL",
        f"postgresql://claire:wrong-pg-2@127.0.0.1:{postgres_port}/claire",
    )

    text = one_clear_line(command, "wrong-redis-1", "wrong-pg-2")

    assert "password" in text.lower()


def test_a_state_directory_claire_cannot_create(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("CLAIRE_HOME", str(blocker / "claire"))

    text = one_clear_line(["up"])

    assert str(blocker) in text


@pytest.mark.usefixtures("claire_env")
def test_a_backup_directory_claire_cannot_create(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("CLAIRE_BACKUP_DIR", str(blocker / "backups"))

    text = one_clear_line(["backup"])

    assert str(blocker) in text


def test_garbage_pid_files_and_state_then_up_and_status_still_work(home: Path) -> None:
    (home / "run").mkdir(parents=True)
    (home / "run" / "redis.pid").write_text("not a pid\n")
    (home / "run" / "papertest-pt-x.pid").write_bytes(b"\x00\xff garbage")
    (home / "state").mkdir()
    (home / "state" / "last-status.json").write_text("{not json")
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["up"])
        status = runner.invoke(app, ["status"])
    finally:
        runner.invoke(app, ["down"])

    assert up.exit_code == 0, up.output
    assert "Traceback" not in status.output
    assert status.exit_code in (0, 1), status.output  # OK, or a warning (no backup yet)


@pytest.mark.usefixtures("claire_env")
def test_a_damaged_backup_is_named_not_a_traceback(tmp_path: Path) -> None:
    made = CliRunner().invoke(app, ["backup", "--json"])
    assert made.exit_code == 0, made.output
    broken = next((tmp_path / "backups").iterdir())
    (broken / "manifest.json").write_text("{half a manifest")

    listed = CliRunner().invoke(app, ["backup", "list"])
    verified = one_clear_line(["backup", "verify", "--latest"])

    assert "Traceback" not in listed.output
    assert broken.name in listed.output or broken.name in verified or "manifest" in verified
