"""Secrets never leave the places made to hold them.

A full run with every secret set (the Redis password of claire's own Redis, notification URLs
and tokens whose deliveries fail, the Grafana password): every command's output and every
file claire writes (logs, reports, status, manifests, exports) are searched for each secret.
Only the files that must hold one may: the Redis configuration (owner-only), and the data
files of the servers.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Where a secret has to be: the server's own configuration and its data.
ALLOWED = ("redis/redis.conf", "redis/appendonlydir", "postgres/data")


def _secret(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict[str, str]]]:
    home = Path(tempfile.mkdtemp(prefix="claire-secrets-"))
    found = {
        "redis password": _secret("rds"),
        "notify url": _secret("url"),
        "telegram token": _secret("tg"),
        "discord webhook": _secret("dw"),
        "smtp password": _secret("smtp"),
        "grafana password": _secret("gf"),
    }
    values = {
        "CLAIRE_HOME": str(home),
        "CLAIRE_REDIS_PASSWORD": found["redis password"],
        # Deliveries fail (nothing listens): their errors must not carry the secrets either.
        "CLAIRE_NOTIFY_URLS": f"json://127.0.0.1:9/{found['notify url']}",
        "CLAIRE_NOTIFY_TELEGRAM_TOKEN": f"123456:{found['telegram token']}",
        "CLAIRE_NOTIFY_TELEGRAM_CHAT_ID": "42",
        "CLAIRE_NOTIFY_DISCORD_WEBHOOK": (
            f"https://discord.com/api/webhooks/987/{found['discord webhook']}"
        ),
        "CLAIRE_NOTIFY_SMTP_HOST": "127.0.0.1",
        "CLAIRE_NOTIFY_SMTP_PORT": "9",
        "CLAIRE_NOTIFY_SMTP_USER": "claire",
        "CLAIRE_NOTIFY_SMTP_PASSWORD": found["smtp password"],
        "CLAIRE_NOTIFY_EMAIL_TO": "ops@example.org",
        "CLAIRE_NOTIFY_LEVEL": "info",
        "CLAIRE_DOCKER_GRAFANA_PASSWORD": found["grafana password"],
        "CLAIRE_MONITOR_PORT": "0",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    try:
        yield home, found
    finally:
        CliRunner().invoke(app, ["down"])
        shutil.rmtree(home, ignore_errors=True)


def _run(outputs: list[str], *args: str, expect: int | None = 0) -> Any:
    result = CliRunner().invoke(app, list(args))
    outputs.append(result.output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


def test_no_secret_in_any_output_log_report_status_or_manifest(
    configured: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, found = configured
    outputs: list[str] = []
    _run(outputs, "up")
    _run(outputs, "ps", "--json")
    _run(outputs, "env", "show")
    _run(outputs, "env", "show", "--json")
    _run(outputs, "env", "check", "--json", expect=None)
    started = json.loads(
        _run(
            outputs,
            "papertest",
            "start",
            "--duration",
            "2h",
            "--source",
            "synthetic",
            "--speed",
            "600",
            "--symbols",
            "BTCUSDT",
            "--json",
        ).stdout
    )
    run_id = started["run_id"]
    eventually(
        lambda: (
            json.loads(_run(outputs, "papertest", "status", run_id, "--json").stdout)["status"]
            != "running"
        ),
        timeout=120,
        interval=1,
        what="the run to end",
    )
    _run(outputs, "papertest", "report", run_id)
    _run(outputs, "papertest", "export", run_id, "--out", str(tmp_path / "export"))
    _run(outputs, "papertest", "list", "--json")
    _run(outputs, "status", "--json", expect=None)
    made = json.loads(_run(outputs, "backup", "--json").stdout)
    _run(outputs, "backup", "verify", made["backup_id"], "--json")
    _run(outputs, "backup", "list", "--json")
    _run(outputs, "logs", "--run", run_id, "--lines", "500")

    leaks = [
        f"{what} in the output of a command"
        for what, secret in found.items()
        for text in outputs
        if secret in text
    ]
    for path in [*sorted(home.rglob("*")), *sorted((tmp_path / "export").rglob("*"))]:
        relative = path.relative_to(home) if path.is_relative_to(home) else path
        if not path.is_file() or any(str(relative).startswith(a) for a in ALLOWED):
            continue
        data = path.read_bytes()
        leaks += [f"{what} in {relative}" for what, s in found.items() if s.encode() in data]
    assert not leaks, leaks
    # The secrets were in use: Redis asked for its password, deliveries were tried and failed.
    conf = home / "redis" / "redis.conf"
    assert found["redis password"] in conf.read_text()
    assert conf.stat().st_mode & 0o077 == 0
    assert any("was not delivered" in text for text in outputs)
