"""/health and /metrics of stages running over real Redis and PostgreSQL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus
from engine.marketdata.synthetic import synthetic_candles
from engine.observability.metrics import EngineMetrics
from engine.observability.probes import postgres_probe, redis_probe
from engine.observability.server import MonitorServer
from engine.services.pipeline import build_pipeline
from engine.services.redis_runner import StageRunner, ThreadedPipeline, runners_health
from engine.settings import Settings
from tests.support import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ConsumerOptions(batch_size=100, block_ms=20, claim_idle_ms=500, claim_every_s=0.5)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError as exc:  # not listening yet
        raise AssertionError(f"{url}: {exc.reason}") from exc


def health(url: str) -> tuple[int, dict[str, Any]]:
    status, body = get(url + "/health")
    return status, json.loads(body)


def sample(metrics_text: str, prefix: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{prefix} not in /metrics")


@pytest.fixture
def bus(redis_url: str, redis_namespace: str) -> Iterator[RedisStreamBus]:
    client = redis.Redis.from_url(redis_url)
    yield RedisStreamBus(client, redis_namespace)
    client.close()


def test_running_stages_then_healthy_and_metrics_count_their_work(
    settings: Settings, bus: RedisStreamBus, database_conninfo: str
) -> None:
    metrics = EngineMetrics("run-m")
    pipeline = build_pipeline(settings, bus, run_id="run-m", symbols=SYMBOLS, metrics=metrics)
    runners = [
        StageRunner(s, bus, options=OPTIONS, metrics=metrics, tick_every_s=0.1)
        for s in pipeline.stages
    ]
    monitor = runners_health(
        "engine",
        runners,
        stale_after_s=2,
        max_lag=50,
        probes={"redis": redis_probe(bus.client), "postgres": postgres_probe(database_conninfo)},
    )
    server = MonitorServer(metrics.registry, monitor.report).start()
    threads = ThreadedPipeline(runners)
    threads.start()
    try:
        bus.publish_many(list(synthetic_candles(SYMBOLS, datetime(2026, 1, 5, tzinfo=UTC), 300)))
        _status, verdict = eventually(
            lambda: (h := health(server.url))[0] == 200 and h, what="a healthy verdict"
        )
        assert {c["name"] for c in verdict["checks"]} >= {"input", "redis", "postgres"}

        def signal_input() -> float:
            return sample(
                get(server.url + "/metrics")[1], 'claire_stage_events_in_total{stage="signal"}'
            )

        eventually(lambda: signal_input() >= 600, what="the signal stage to read everything")
        _, text = get(server.url + "/metrics")
        assert sample(text, 'claire_stage_handle_seconds_count{stage="risk"}') >= 1
        assert sample(text, "claire_equity ") > 0
        assert 'claire_consumer_lag{stage="signal",stream="market_data"}' in text

        def caught_up() -> bool:
            status, verdict = health(server.url)
            lags = [c["detail"] for c in verdict["checks"] if c["name"].startswith("lag:")]
            return status == 200 and len(lags) >= 4 and all(d.startswith("0 ") for d in lags)

        eventually(caught_up, what="every stage to catch up")

        # Input stops: after the staleness limit the verdict fails and says why.
        _status, verdict = eventually(
            lambda: (h := health(server.url))[0] == 503 and h, timeout=10, what="stale input"
        )
        failing = [c for c in verdict["checks"] if not c["ok"]]
        assert [c["name"] for c in failing] == ["input"], failing
    finally:
        threads.stop()
        server.stop()


def test_stage_far_behind_then_unhealthy_for_lag(
    settings: Settings, bus: RedisStreamBus, database_conninfo: str
) -> None:
    pipeline = build_pipeline(settings, bus, run_id="run-l", symbols=SYMBOLS)
    runner = StageRunner(pipeline.signal, bus, options=OPTIONS)
    runner.consumer.poll(block=False)  # joins its group, then stops reading
    bus.publish_many(list(synthetic_candles(SYMBOLS, datetime(2026, 1, 5, tzinfo=UTC), 100)))
    runner.refresh_lag()
    verdict = runners_health("signal", [runner], stale_after_s=60, max_lag=50).report()
    assert not verdict.ok
    lag = next(c for c in verdict.checks if c.name == "lag:signal:market_data")
    assert not lag.ok
    assert lag.detail == "200 behind (limit 50)"


def test_dead_postgres_then_unhealthy_naming_it(bus: RedisStreamBus) -> None:
    monitor = runners_health(
        "persistence",
        [],
        stale_after_s=60,
        max_lag=50,
        probes={
            "redis": redis_probe(bus.client),
            "postgres": postgres_probe("host=/nonexistent dbname=claire", timeout_s=1),
        },
    )
    verdict = {c.name: c for c in monitor.report().checks}
    assert verdict["redis"].ok
    assert not verdict["postgres"].ok
    assert "OperationalError" in verdict["postgres"].detail
