"""Alert rules and dashboards: valid for Prometheus, unit-tested, and querying only metrics
that a running engine really exports (the first version's dashboards did not)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus
from engine.marketdata.synthetic import synthetic_candles
from engine.observability import dashboards, rules
from engine.observability.metrics import EngineMetrics
from engine.observability.server import MonitorServer
from engine.services.pipeline import build_pipeline
from engine.services.redis_runner import EVENT_TIME, StageRunner, ThreadedPipeline, runners_health
from engine.settings import Settings
from tests.support import eventually, free_port, unexported_metrics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
NO_PROMETHEUS = "the prometheus package is not installed (scripts/test installs it with apt-get)"


def test_committed_monitoring_files_are_what_the_code_generates(tmp_path: Path) -> None:
    rules.write(tmp_path / "prometheus", Settings(), ["127.0.0.1:9464"])
    dashboards.write(tmp_path / "dashboards")
    for name in ("prometheus/claire.rules.yml", "prometheus/prometheus.yml"):
        assert (tmp_path / name).read_text() == (MONITORING / name).read_text(), name
    for name in dashboards.dashboards():
        assert (tmp_path / "dashboards" / name).read_text() == (
            MONITORING / "dashboards" / name
        ).read_text(), f"{name}: run python -m engine.observability.dashboards"


def test_promtool_checks_the_rules_and_runs_their_unit_tests() -> None:
    if PROMTOOL is None:
        pytest.skip(NO_PROMETHEUS)
    folder = MONITORING / "prometheus"
    for command in (
        ["check", "rules", "claire.rules.yml"],
        ["check", "config", "prometheus.yml"],
        ["test", "rules", "claire.test.yml"],
    ):
        done = subprocess.run(
            [PROMTOOL, *command], cwd=folder, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def running_engine(settings: Settings, redis_url: str, redis_namespace: str) -> Iterator[str]:
    """All stages over real Redis with /metrics served; yield the metrics URL (host:port)."""
    client = redis.Redis.from_url(redis_url)
    bus = RedisStreamBus(client, redis_namespace)
    metrics = EngineMetrics("run-metrics")
    pipeline = build_pipeline(
        settings, bus, run_id="run-metrics", symbols=("BTCUSDT", "ETHUSDT"), metrics=metrics
    )
    options = ConsumerOptions(batch_size=100, block_ms=20)
    runners = [
        StageRunner(s, bus, options=options, metrics=metrics, clock=EVENT_TIME, tick_every_s=0.1)
        for s in pipeline.stages
    ]
    health = runners_health("engine", runners, stale_after_s=600, max_lag=1000)
    metrics.watch_health(health.report)
    metrics.watch_backups(settings.backup_dir)
    server = MonitorServer(metrics.registry, health.report).start()
    threads = ThreadedPipeline(runners)
    threads.start()
    market = synthetic_candles(
        ("BTCUSDT", "ETHUSDT"), datetime(2026, 1, 5, tzinfo=UTC), 400, seed=7
    )
    bus.publish_many(list(market))
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        threads.stop()
        server.stop()
        client.close()


def exported(text: str) -> set[str]:
    names = set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))
    names |= set(re.findall(r"^([a-z_]+)[{ ]", text, flags=re.MULTILINE))
    return names


def test_every_referenced_metric_is_exported_by_a_running_engine(running_engine: str) -> None:
    def scraped() -> str:
        with urllib.request.urlopen(f"http://{running_engine}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "\nclaire_equity " in text  # the portfolio has reported by now
        return text

    text = eventually(scraped, timeout=30, what="equity to show in /metrics")
    missing = unexported_metrics(exported(text))
    assert not missing, f"queried but not exported: {missing}"


def query(base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            result: list[dict[str, Any]] = json.loads(response.read())["data"]["result"]
    except OSError:
        return []  # not listening yet
    return result


@pytest.mark.slow
def test_real_prometheus_scrapes_a_running_engine(running_engine: str, tmp_path: Path) -> None:
    if PROMETHEUS is None:
        pytest.skip(NO_PROMETHEUS)
    config = tmp_path / "prometheus.yml"
    shutil.copy(MONITORING / "prometheus" / "claire.rules.yml", tmp_path / "claire.rules.yml")
    config.write_text(json.dumps(rules.prometheus_config([running_engine], interval="1s")))
    port = free_port()
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        up = eventually(lambda: query(base, 'up{job="claire"}'), timeout=60, what="a scrape")
        assert up[0]["value"][1] == "1"
        equity = eventually(lambda: query(base, "claire_equity"), timeout=30, what="equity")
        assert float(equity[0]["value"][1]) > 0
        assert eventually(lambda: query(base, "claire_healthy"), timeout=30, what="health")
    finally:
        process.terminate()
        process.wait(timeout=30)
