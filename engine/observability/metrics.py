"""The Prometheus metrics of an engine process, and the wrappers that feed them.

Metric values are floats (Prometheus has no decimals); they are for watching a run, never
for its report, which is computed from the database.
"""

from __future__ import annotations

import collections
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import accumulate
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from engine.bus.base import Publisher, Stage
from engine.events import (
    AlertRaised,
    Event,
    OrderResultReported,
    PortfolioSnapshotTaken,
    RiskDecided,
    SignalGenerated,
)
from engine.observability.health import HealthReport
from engine.streams import Stream

#: Handling time of one batch: 50 µs to 5 s.
LATENCY_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.1, 0.5, 1.0, 5.0)


class EngineMetrics:
    """Every metric of one engine process, registered in its own registry."""

    def __init__(self, run_id: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        Info("claire_run", "The papertest this process works for", registry=r).info(
            {"run_id": run_id}
        )
        # Counted per event in plain numbers, exported when scraped (`_TallyCollector`): a
        # labelled Prometheus child per event cost a replay more than some stages did.
        self.tallies: dict[str, StageTally] = {}
        #: Events published, by (stage, event type).
        self.published: collections.Counter[tuple[str, str]] = collections.Counter()
        self.latest_snapshot: PortfolioSnapshotTaken | None = None
        r.register(_TallyCollector(self))
        self.consumer_lag = Gauge(
            "claire_consumer_lag", "Events not yet read by a stage", ["stage", "stream"], registry=r
        )
        self.stage_restarts = Counter(
            "claire_stage_restarts",
            "Times a crashed stage loop was restarted",
            ["stage"],
            registry=r,
        )
        self.signals = Counter(
            "claire_signals", "Signals generated", ["symbol", "side"], registry=r
        )
        self.risk_decisions = Counter(
            "claire_risk_decisions", "Risk decisions", ["outcome", "reason"], registry=r
        )
        self.fills = Counter("claire_fills", "Orders filled", ["symbol", "side"], registry=r)
        self.order_results = Counter(
            "claire_order_results", "Order results by status", ["status"], registry=r
        )
        self.fees = Counter("claire_fees", "Fees paid", ["currency"], registry=r)
        self.alerts = Counter("claire_alerts", "Alerts raised", ["level", "code"], registry=r)
        self.dead_letters = Counter(
            "claire_dead_letters", "Messages moved to the dead-letter stream", ["stage"], registry=r
        )

    def observe(self, event: Event) -> None:
        """Update the domain metrics for one published event."""
        if isinstance(event, SignalGenerated):
            self.signals.labels(event.symbol, str(event.side)).inc()
        elif isinstance(event, RiskDecided):
            outcome = "approved" if event.approved else "denied"
            self.risk_decisions.labels(outcome, event.reason_code).inc()
        elif isinstance(event, OrderResultReported):
            self.order_results.labels(str(event.status)).inc()
            if event.filled_quantity > 0:
                self.fills.labels(event.symbol, str(event.side)).inc()
            if event.fee and event.fee_currency:
                self.fees.labels(event.fee_currency).inc(float(event.fee))
        elif isinstance(event, PortfolioSnapshotTaken):
            self.latest_snapshot = event  # its gauges are read when scraped
        elif isinstance(event, AlertRaised):
            self.alerts.labels(str(event.level), event.code).inc()

    def stage_summary(self) -> dict[str, dict[str, object]]:
        """Per stage: events in and out, batch latency p50/p99 (from the histogram), restarts,
        dead letters, last consumer lag — kept with the run for its report."""
        stages: dict[str, dict[str, object]] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                stage = sample.labels.get("stage")
                if stage is None:
                    continue
                entry = stages.setdefault(stage, {})
                if sample.name == "claire_stage_events_in_total":
                    entry["events_in"] = int(sample.value)
                elif sample.name == "claire_stage_restarts_total":
                    entry["restarts"] = int(sample.value)
                elif sample.name == "claire_dead_letters_total":
                    entry["dead_letters"] = int(sample.value)
                elif sample.name == "claire_consumer_lag":
                    entry[f"lag_{sample.labels.get('stream')}"] = int(sample.value)
        for stage, entry in stages.items():
            for pct in (50, 99):
                value = _quantile(self.registry, stage, pct / 100)
                if value is not None:
                    entry[f"p{pct}_ms"] = round(value * 1000, 3)
        return stages

    def watch_health(self, report: Callable[[], HealthReport]) -> None:
        """Export each health check as `claire_healthy{check}` (1 passing, 0 failing)."""
        self.registry.register(_HealthCollector(report))

    def watch_backups(self, directory: Path, recorded: Callable[[], float] | None = None) -> None:
        """Export the time of the newest complete backup as a gauge (for the 26 h rule):
        the newest in `directory`, or the time `recorded` returns (kept in Redis)."""
        self.registry.register(_BackupCollector(directory, recorded))

    def publisher(self, stage: str, publisher: Publisher) -> Publisher:
        """Wrap `publisher` so what `stage` publishes is counted and observed."""
        return CountingPublisher(self, stage, publisher)

    def instrument(self, stage: Stage) -> InstrumentedStage:
        """Wrap `stage` so its input and handling time are measured."""
        return InstrumentedStage(self, stage)


class CountingPublisher:
    """A publisher that counts and observes every event one stage publishes."""

    def __init__(self, metrics: EngineMetrics, stage: str, publisher: Publisher) -> None:
        self._metrics, self._stage, self._publisher = metrics, stage, publisher

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        self._count(event)
        return self._publisher.publish(event, stream)

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        batch = list(events)
        for event in batch:
            self._count(event)
        return self._publisher.publish_many(batch, stream)

    def _count(self, event: Event) -> None:
        self._metrics.published[self._stage, event.type] += 1
        self._metrics.observe(event)


class InstrumentedStage:
    """A stage whose batches are counted and timed; otherwise the stage itself."""

    def __init__(self, metrics: EngineMetrics, stage: Stage) -> None:
        self.stage = stage
        self.name = stage.name
        self.inputs = stage.inputs
        self._tally = metrics.tallies.setdefault(stage.name, StageTally())
        self.last_input_at: float | None = None  # monotonic seconds

    def handle(self, events: Sequence[Event]) -> None:
        started = time.perf_counter()
        self.stage.handle(events)
        ended = time.perf_counter()
        self._tally.add(events, ended - started)
        self.last_input_at = time.monotonic()

    def on_tick(self, now: datetime) -> None:
        self.stage.on_tick(now)


_MARKET_TYPES = frozenset({"candle", "trade_tick", "quote_tick"})


def _quantile(registry: CollectorRegistry, stage: str, q: float) -> float | None:
    """Estimate a quantile of a stage's batch handling time from its histogram buckets
    (the upper bound of the bucket the quantile falls in)."""
    buckets: list[tuple[float, float]] = []
    for metric in registry.collect():
        for sample in metric.samples:
            if (
                sample.name == "claire_stage_handle_seconds_bucket"
                and sample.labels.get("stage") == stage
            ):
                buckets.append((float(sample.labels["le"]), sample.value))
    if not buckets:
        return None
    buckets.sort()
    total = buckets[-1][1]
    if total <= 0:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound if bound != float("inf") else None
    return None


class StageTally:
    """What one stage was handed and how long it took, in plain numbers."""

    __slots__ = ("batches", "buckets", "events", "market_time", "seconds")

    def __init__(self) -> None:
        self.events = 0
        self.batches = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # per bound, the last one +Inf
        self.market_time: datetime | None = None  # newest market data event time

    def add(self, events: Sequence[Event], seconds: float) -> None:
        self.events += len(events)
        self.batches += 1
        self.seconds += seconds
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        for event in events:
            if event.type in _MARKET_TYPES and (
                self.market_time is None or event.ts_event > self.market_time
            ):
                self.market_time = event.ts_event


class _TallyCollector(Collector):
    """Export the plain counts of `EngineMetrics` as Prometheus families when scraped."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        tallies = dict(self._metrics.tallies)
        events_in = CounterMetricFamily(
            "claire_stage_events_in", "Events handed to a stage", labels=["stage"]
        )
        handling = HistogramMetricFamily(
            "claire_stage_handle_seconds",
            "Time a stage took to handle one batch",
            labels=["stage"],
        )
        market = GaugeMetricFamily(
            "claire_market_data_event_time_seconds",
            "Event time of the newest market data a stage saw (unix seconds)",
            labels=["stage"],
        )
        for stage, tally in tallies.items():
            events_in.add_metric([stage], tally.events)
            counts = list(accumulate(tally.buckets))
            bounds = [*(str(b) for b in LATENCY_BUCKETS), "+Inf"]
            handling.add_metric([stage], list(zip(bounds, counts, strict=True)), tally.seconds)
            if tally.market_time is not None:
                market.add_metric([stage], tally.market_time.timestamp())
        out = CounterMetricFamily(
            "claire_stage_events_out", "Events a stage published", labels=["stage", "type"]
        )
        for (stage, kind), count in dict(self._metrics.published).items():
            out.add_metric([stage, kind], count)
        yield from (events_in, out, handling, market)
        yield from self._portfolio()

    def _portfolio(self) -> Iterator[Metric]:
        snapshot = self._metrics.latest_snapshot
        equity = GaugeMetricFamily("claire_equity", "Equity at the latest snapshot")
        drawdown = GaugeMetricFamily(
            "claire_drawdown_ratio", "Drawdown as a fraction", labels=["window"]
        )
        exposure = GaugeMetricFamily("claire_exposure_ratio", "Exposure as a fraction of equity")
        if snapshot is not None:
            equity.add_metric([], float(snapshot.equity))
            drawdown.add_metric(["daily"], float(snapshot.daily_drawdown))
            drawdown.add_metric(["max"], float(snapshot.max_drawdown))
            exposure.add_metric([], float(snapshot.exposure_pct))
        yield from (equity, drawdown, exposure)


class _HealthCollector(Collector):
    def __init__(self, report: Callable[[], HealthReport]) -> None:
        self._report = report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "claire_healthy", "Health checks of this process (1 passing)", labels=["check"]
        )
        for check in self._report().checks:
            family.add_metric([check.name], 1.0 if check.ok else 0.0)
        yield family


class _BackupCollector(Collector):
    def __init__(self, directory: Path, recorded: Callable[[], float] | None) -> None:
        self._directory = directory
        self._recorded = recorded

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "claire_last_backup_timestamp_seconds", "When the newest complete backup was made"
        )
        manifests = (
            list(self._directory.glob("*/manifest.json")) if self._directory.exists() else []
        )
        complete = [m for m in manifests if not m.parent.name.endswith(".partial")]
        newest = max((m.stat().st_mtime for m in complete), default=0.0)
        if self._recorded is not None:
            newest = max(newest, self._recorded())
        family.add_metric([], newest)
        yield family
