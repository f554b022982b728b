"""The /health and /metrics port when another process holds it: a free port instead (local
runtime), one clear line when nothing can be bound, and the local Prometheus finding it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from engine.errors import ListenError
from engine.observability.health import HealthReport
from engine.runtime.listeners import bind_monitor
from engine.runtime.local import LocalRuntime
from engine.runtime.prometheus_server import publish_target, withdraw_target
from engine.settings import MonitorSettings, Settings
from tests.support import eventually, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FOREIGN_ADDRESS = "192.0.2.1"  # TEST-NET-1: never an address of this host


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as other:
        port = free_port()
        other.bind(("127.0.0.1", port))
        other.listen()
        yield port


def healthy() -> HealthReport:
    return HealthReport(component="test", checks=())


def health_of(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
        return dict(json.loads(reply.read()))


def test_port_taken_when_fallback_then_free_port_serving_and_one_log_line(
    taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.listeners"):
        server = bind_monitor(CollectorRegistry(), healthy, "127.0.0.1", taken_port).start()
    try:
        assert server.port not in (0, taken_port)
        assert health_of(server.url)["component"] == "test"
        [record] = caplog.records
        line = record.getMessage()
        assert line == (
            f"127.0.0.1:{taken_port} (CLAIRE_MONITOR_PORT) is taken (Address already in use): "
            f"/health and /metrics on {server.url} instead"
        )
    finally:
        server.stop()


def test_port_taken_when_strict_then_one_line_naming_port_and_variable(taken_port: int) -> None:
    # The Docker runtime's engines: a fixed port inside their network, no fallback.
    with pytest.raises(ListenError) as raised:
        bind_monitor(CollectorRegistry(), healthy, "127.0.0.1", taken_port, fallback=False)

    message = raised.value.message
    assert "\n" not in message
    assert message.startswith(f"cannot listen on 127.0.0.1:{taken_port} for /health and /metrics")
    assert "Address already in use" in message
    assert "CLAIRE_MONITOR_PORT" in message


def test_engine_container_process_when_no_port_can_be_bound_then_exits_with_one_line(
    runtime_home: Path, database_name: str, redis_namespace: str
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLAIRE_HOME": str(runtime_home),
        "CLAIRE_DATABASE_NAME": database_name,
        "CLAIRE_REDIS_NAMESPACE": redis_namespace,
        "CLAIRE_MONITOR_HOST": FOREIGN_ADDRESS,
    }
    done = subprocess.run(
        [sys.executable, "-m", "engine", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == 1
    [line] = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert line.startswith(f"error: cannot listen on {FOREIGN_ADDRESS}:9464")
    assert "CLAIRE_MONITOR_PORT" in line
    assert "Traceback" not in done.stderr


def test_local_prometheus_when_engine_publishes_its_port_then_scrapes_it_there(
    tmp_path: Path, session_runtime: LocalRuntime
) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("the prometheus package is not installed (scripts/test installs it)")
    home = tmp_path / "home"  # a Prometheus of this test's own, with its own targets
    monitor = MonitorSettings(prometheus=True, prometheus_port=free_port())  # type: ignore[call-arg]
    prometheus = LocalRuntime(Settings(home=home, monitor=monitor)).prometheus
    engine = bind_monitor(CollectorRegistry(), healthy, "127.0.0.1", 0).start()
    prometheus.start()
    try:
        publish_target(home, "pt-test", engine.address)

        def scraped() -> bool:
            with urllib.request.urlopen(f"{prometheus.url}/api/v1/targets", timeout=5) as reply:
                active = json.loads(reply.read())["data"]["activeTargets"]
            return any(
                t["scrapeUrl"] == f"{engine.url}/metrics" and t["health"] == "up" for t in active
            )

        eventually(scraped, timeout=60, interval=0.5, what="Prometheus to scrape the engine")
        withdraw_target(home, "pt-test")
    finally:
        prometheus.stop()
        engine.stop()
