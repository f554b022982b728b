"""Engine metrics: what each published event does to the Prometheus figures."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from prometheus_client import generate_latest

from engine.bus.memory import InMemoryBus
from engine.events import Event
from engine.observability.metrics import EngineMetrics
from engine.streams import Stream
from tests import factories


def value(metrics: EngineMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, f"{name}{labels} not exported"
    return found


def test_metrics_count_what_a_stage_publishes_by_stage_and_type() -> None:
    metrics = EngineMetrics("run-1")
    bus = InMemoryBus()
    out = metrics.publisher("signal", bus)
    out.publish(factories.signal(0))
    out.publish_many([factories.signal(1), factories.signal(2)])
    assert value(metrics, "claire_stage_events_out_total", stage="signal", type="signal") == 3
    assert value(metrics, "claire_signals_total", symbol="BTCUSDT", side="buy") == 3


def test_metrics_observe_decisions_fills_fees_and_snapshot() -> None:
    metrics = EngineMetrics("run-1")
    metrics.observe(factories.risk_decision(approved=False, reason_code="max_exposure"))
    metrics.observe(factories.fill(fee=Decimal("4.75")))
    metrics.observe(factories.snapshot(cash="99000"))
    assert value(metrics, "claire_risk_decisions_total", outcome="denied", reason="max_exposure")
    assert value(metrics, "claire_fills_total", symbol="BTCUSDT", side="buy") == 1
    assert value(metrics, "claire_fees_total", currency="USDT") == 4.75
    assert value(metrics, "claire_equity") == 99000
    assert value(metrics, "claire_drawdown_ratio", window="max") == 0
    text = generate_latest(metrics.registry).decode()
    assert 'claire_run_info{run_id="run-1"} 1.0' in text


def test_instrumented_stage_counts_input_and_times_each_batch() -> None:
    metrics = EngineMetrics("run-1")
    seen: list[Event] = []

    class Recorder:
        name = "risk"
        inputs = (Stream.SIGNALS,)

        def handle(self, events: Sequence[Event]) -> None:
            seen.extend(events)

        def on_tick(self, now: object) -> None: ...

    stage = metrics.instrument(Recorder())  # type: ignore[arg-type]
    assert stage.last_input_at is None
    stage.handle([factories.signal(0), factories.signal(1)])
    assert len(seen) == 2
    assert stage.last_input_at is not None
    assert value(metrics, "claire_stage_events_in_total", stage="risk") == 2
    assert value(metrics, "claire_stage_handle_seconds_count", stage="risk") == 1


def test_summary_per_stage_events_and_latency_percentiles() -> None:
    metrics = EngineMetrics("run-1")

    class Quick:
        name = "signal"
        inputs = (Stream.MARKET_DATA,)

        def handle(self, events: Sequence[Event]) -> None: ...

        def on_tick(self, now: object) -> None: ...

    stage = metrics.instrument(Quick())  # type: ignore[arg-type]
    for i in range(10):
        stage.handle([factories.candle(i)])
    metrics.stage_restarts.labels("signal").inc()

    entry = metrics.stage_summary()["signal"]

    assert entry["events_in"] == 10
    assert entry["restarts"] == 1
    assert 0 < entry["p50_ms"] <= entry["p99_ms"]  # type: ignore[operator]
