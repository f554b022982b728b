"""A second claire on the host: the engine's /health port is taken, or cannot be had at all.

The port is held by a plain listening socket, as another claire's engine would hold it.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from engine.runs.logs import run_log_dir
from engine.runtime.prometheus_server import targets_dir
from tests.support import claire, eventually, free_port

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]

Db = psycopg.Connection[tuple[object, ...]]
#: TEST-NET-1 (RFC 5737): never an address of this host, so nothing can listen on it.
FOREIGN_ADDRESS = "192.0.2.1"


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """CLAIRE_MONITOR_PORT set to a port another process listens on."""
    with socket.socket() as other:
        port = free_port()
        other.bind(("127.0.0.1", port))
        other.listen()
        monkeypatch.setenv("CLAIRE_MONITOR_PORT", str(port))
        yield port


def health_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
            json.loads(reply.read())
            return int(reply.status)
    except urllib.error.HTTPError as exc:  # 503: failing checks, still the engine's answer
        json.loads(exc.read())
        return int(exc.code)


def recorded_url(db: Db, run_id: str) -> Any:
    row = db.execute("SELECT monitor_url FROM run_control WHERE run_id = %s", (run_id,))
    found = row.fetchone()
    return found[0] if found else None


@pytest.mark.slow
def test_monitor_port_taken_then_run_serves_on_a_free_port_recorded_for_status(
    taken_port: int, db: Db, runtime_home: Path
) -> None:
    started = claire(
        "papertest", "start", "--duration", "2h", "--source", "synthetic", "--speed", "60",
        "--symbols", "BTCUSDT", "--no-backup", "--json",
    )  # fmt: skip
    run_id = json.loads(started.stdout)["run_id"]
    try:
        assert f"127.0.0.1:{taken_port} (CLAIRE_MONITOR_PORT) is taken" in started.stderr
        url = eventually(lambda: recorded_url(db, run_id), timeout=60, what="the monitor URL")
        port = urlsplit(url).port
        assert port not in (None, taken_port)
        # The recorded port is where the run's engine really answers /health.
        eventually(lambda: health_status(url) == 200, timeout=60, what="a healthy engine")

        report = json.loads(claire("status", "--json", expect=None).stdout)
        [engine] = [f for f in report["findings"] if f["component"] == "engine"]
        assert engine["level"] == "OK", engine
        assert engine["detail"] == f"healthy ({url}/health)"

        # The local Prometheus finds it there too, and the engine's log says why, once.
        target = json.loads((targets_dir(runtime_home) / f"{run_id}.json").read_text())
        assert target == [{"targets": [f"127.0.0.1:{port}"]}]
        logged = (run_log_dir(runtime_home, run_id) / "console.log").read_text()
        [line] = [line for line in logged.splitlines() if "is taken" in line]
        assert f"127.0.0.1:{taken_port} (CLAIRE_MONITOR_PORT)" in line
        assert url in line
        assert "Traceback" not in logged
    finally:
        claire("papertest", "stop", run_id, expect=None)
    assert json.loads(claire("papertest", "status", run_id, "--json").stdout)["status"] == (
        "stopped"
    )
    assert not (targets_dir(runtime_home) / f"{run_id}.json").exists()


def test_monitor_address_unusable_then_one_line_naming_the_port_and_nothing_registered(
    monkeypatch: pytest.MonkeyPatch, db: Db
) -> None:
    monkeypatch.setenv("CLAIRE_MONITOR_HOST", FOREIGN_ADDRESS)
    monkeypatch.setenv("CLAIRE_MONITOR_PORT", "9464")

    refused = claire(
        "papertest", "start", "--duration", "2h", "--source", "synthetic", "--speed", "60",
        "--symbols", "BTCUSDT", "--no-backup", expect=1,
    )  # fmt: skip

    [error] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert f"cannot listen on {FOREIGN_ADDRESS}:9464" in error
    assert "CLAIRE_MONITOR_PORT" in error
    assert "Traceback" not in refused.output
    assert "OSError" not in refused.output
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)


def test_monitor_on_every_address_then_env_check_and_up_warn_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_MONITOR_HOST", "0.0.0.0")

    checked = claire("env", "check")
    up = claire("up")

    for said in (checked.output, up.stderr):
        [line] = [line for line in said.splitlines() if "CLAIRE_MONITOR_HOST" in line]
        assert "reached from other hosts" in line
