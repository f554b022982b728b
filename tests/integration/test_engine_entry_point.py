"""`python -m engine serve`: the engine container's process. Waiting for a papertest it
answers /health and /metrics; SIGTERM stops it cleanly; a wrong command is a usage error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import eventually, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def answer(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:  # not listening yet
        return None


def test_serve_while_no_papertest_then_healthy_waiting_with_metrics_and_stops_on_sigterm(
    runtime_home: Path, database_name: str, redis_namespace: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLAIRE_HOME": str(runtime_home),
        "CLAIRE_DATABASE_NAME": database_name,
        "CLAIRE_REDIS_NAMESPACE": redis_namespace,
        "CLAIRE_MONITOR_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        found = eventually(lambda: answer(url + "/health"), timeout=30, what="/health")
        assert found is not None
        status, body = found
        assert status == 200, body
        assert "waiting for a papertest" in json.dumps(json.loads(body))
        metrics = answer(url + "/metrics")
        assert metrics is not None
        assert metrics[0] == 200
        assert "claire_" in metrics[1]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)

    assert process.returncode == 0, stderr.decode()


@pytest.mark.parametrize("argv", [["run", "portfolio", "--run-id", "r"], ["serve", "--role", "x"]])
def test_unknown_command_or_option_then_usage_error(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == 2
    assert "usage:" in done.stderr
