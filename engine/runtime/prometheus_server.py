"""An optional Prometheus in the local runtime (CLAIRE_MONITOR_PROMETHEUS=true), scraping
the engine's /metrics with claire's alert rules; it needs the `prometheus` binary.

Each engine process publishes where it really listens (its port may not be the configured
one, see `engine.runtime.listeners`) as a file in `<home>/prometheus/targets/`, which
Prometheus watches (file-based discovery), and withdraws it when it stops.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from engine.errors import RuntimeStartError
from engine.observability.rules import alert_rules, prometheus_config
from engine.runtime.processes import (
    pid_alive,
    read_pid,
    require_binary,
    start_detached,
    terminate,
)
from engine.runtime.status import ComponentState, ComponentStatus
from engine.settings import Settings

NAME = "prometheus"
START_TIMEOUT_S = 30.0


def targets_dir(home: Path) -> Path:
    """Where engine processes publish their scrape targets for the local Prometheus."""
    return home / NAME / "targets"


def publish_target(home: Path, name: str, address: str) -> Path:
    """Tell the local Prometheus that engine process `name` serves /metrics on `address`."""
    path = targets_dir(home) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")  # written whole, then renamed: never read half-written
    partial.write_text(json.dumps([{"targets": [address]}]))
    partial.replace(path)
    return path


def withdraw_target(home: Path, name: str) -> None:
    """Engine process `name` stopped serving: Prometheus stops scraping it."""
    (targets_dir(home) / f"{name}.json").unlink(missing_ok=True)


class PrometheusServer:
    """Start, stop and check the local runtime's Prometheus."""

    def __init__(self, home: Path, settings: Settings) -> None:
        self._home = home
        self._dir = home / NAME
        self._settings = settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._settings.monitor.prometheus_port}"

    @property
    def _pidfile(self) -> Path:
        return self._dir / "prometheus.pid"

    def start(self) -> None:
        """Write the configuration and rules, start Prometheus unless it runs, wait for it."""
        if self.status().state is ComponentState.RUNNING:
            return
        binary = require_binary("prometheus", "prometheus")
        self._dir.mkdir(parents=True, exist_ok=True)
        monitor = self._settings.monitor
        (self._dir / "claire.rules.yml").write_text(json.dumps(alert_rules(self._settings)))
        targets = targets_dir(self._home)
        targets.mkdir(exist_ok=True)  # Prometheus watches it: it must exist before it starts
        config = prometheus_config([], target_files=[str(targets / "*.json")])
        (self._dir / "prometheus.yml").write_text(json.dumps(config))
        pid = start_detached(
            [
                binary,
                f"--config.file={self._dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{monitor.prometheus_port}",
            ],
            self._dir / "prometheus.log",
        )
        self._pidfile.write_text(f"{pid}\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._ready():
                return
            if not pid_alive(pid, NAME):
                break
            time.sleep(0.1)
        raise RuntimeStartError(
            f"Prometheus did not become ready on {self.url}",
            hint=f"see {self._dir / 'prometheus.log'}",
        )

    def stop(self, timeout: float = 15.0) -> None:
        pid = read_pid(self._pidfile)
        if pid is not None and pid_alive(pid, NAME):
            terminate(pid, lambda: pid_alive(pid, NAME), timeout)
        self._pidfile.unlink(missing_ok=True)

    def status(self) -> ComponentStatus:
        pid = read_pid(self._pidfile)
        if shutil.which("prometheus") is None and pid is None:
            return ComponentStatus(
                NAME, ComponentState.STOPPED, False, "prometheus is not installed"
            )
        if pid is None or not pid_alive(pid, NAME):
            return ComponentStatus(
                NAME, ComponentState.STOPPED, False, "not started", None, self.url
            )
        ready = self._ready()
        detail = "ready" if ready else "not ready"
        return ComponentStatus(NAME, ComponentState.RUNNING, ready, detail, pid, self.url)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False
