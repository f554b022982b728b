"""The optional Prometheus of the local runtime: started by `claire up` when asked."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from engine.runtime.local import LocalRuntime
from engine.runtime.status import ComponentState
from engine.settings import MonitorSettings, Settings
from tests.support import free_port

pytestmark = pytest.mark.integration


def test_prometheus_on_then_started_with_the_rules_listed_and_stopped(
    runtime_home: Path, session_runtime: LocalRuntime
) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("the prometheus package is not installed (scripts/test installs it)")
    monitor = MonitorSettings(prometheus=True, prometheus_port=free_port())  # type: ignore[call-arg]
    runtime = LocalRuntime(Settings(home=runtime_home, monitor=monitor))
    runtime.prometheus.start()
    try:
        [status] = [s for s in runtime.status() if s.name == "prometheus"]
        assert status.state is ComponentState.RUNNING
        assert status.healthy
        with urllib.request.urlopen(f"{runtime.prometheus.url}/api/v1/rules", timeout=5) as reply:
            assert b"ClaireDrawdownAbort" in reply.read()
        runtime.prometheus.start()  # idempotent
    finally:
        runtime.prometheus.stop()
    assert runtime.prometheus.status().state is ComponentState.STOPPED


def test_prometheus_off_by_default_then_not_listed(runtime_home: Path) -> None:
    names = [s.name for s in LocalRuntime(Settings(home=runtime_home)).status()]
    assert names == ["redis", "postgres"]
