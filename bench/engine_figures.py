"""Engine figures: persistence, in-memory replay, the Redis pipeline, tick-to-fill latency."""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import redis

from bench.memory import RssSamples, peak_rss_mb
from bench.ticks import synthetic_ticks
from engine.bus.memory import InMemoryBus
from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus
from engine.events import OrderSubmitted
from engine.marketdata.synthetic import synthetic_candles
from engine.services.pipeline import build_pipeline, run_in_memory
from engine.services.redis_runner import EVENT_TIME, StageRunner, ThreadedPipeline
from engine.settings import ExecutionSettings, Settings
from engine.storage.event_writer import EventWriter
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def persistence(conninfo: str, count: int) -> float:
    """Candle events/s stored by EventWriter in batches of 1,000."""
    candles = list(synthetic_candles(SYMBOLS, START, count // 2))
    with psycopg.connect(conninfo) as conn:
        writer = EventWriter(conn, conninfo)
        start = time.perf_counter()
        for offset in range(0, len(candles), 1000):
            writer.write(candles[offset : offset + 1000])
        return len(candles) / (time.perf_counter() - start)


def replay(conninfo: str | None, bars: int) -> tuple[float, float]:
    """Bars/s of an in-memory replay (with persistence when `conninfo`), and its peak RSS in
    MB, measured in a fresh process so nothing else the bench did counts."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_replay, conninfo, bars).result()


def _replay(conninfo: str | None, bars: int) -> tuple[float, float]:
    market = synthetic_candles(SYMBOLS, START, bars // 2)
    bus = InMemoryBus()
    conn = psycopg.connect(conninfo) if conninfo else None
    try:
        writer = EventWriter(conn, conninfo or "") if conn is not None else None
        pipeline = build_pipeline(
            Settings(), bus, run_id="bench", symbols=SYMBOLS, writer=writer, persistence_buffer=1000
        )
        start = time.perf_counter()
        summary = run_in_memory(pipeline, bus, market)
        elapsed = time.perf_counter() - start
    finally:
        if conn is not None:
            conn.close()
    rss_mb = peak_rss_mb()
    return summary.market_events / elapsed, rss_mb


@dataclass(frozen=True)
class TickReplay:
    """A tick replay's throughput and the RSS sampled along it."""

    events: int
    seconds: float
    rss: dict[str, float]
    peak_rss_mb: float
    fills: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def tick_replay(conninfo: str, seconds: int) -> TickReplay:
    """Replay `seconds` of 1-second trade ticks of SYMBOLS (bench/ticks.py) through the
    in-memory pipeline into PostgreSQL, sampling RSS every 5 % of the events; in a fresh
    process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_tick_replay, conninfo, seconds).result()


def _tick_replay(conninfo: str, seconds: int) -> TickReplay:
    total = seconds * len(SYMBOLS)
    rss = RssSamples(every=max(1, total // 20))
    market = rss.watch(synthetic_ticks(SYMBOLS, START, seconds))
    with psycopg.connect(conninfo) as conn:
        bus = InMemoryBus()
        writer = EventWriter(conn, conninfo)
        pipeline = build_pipeline(
            Settings(), bus, run_id="ticks", symbols=SYMBOLS, writer=writer, persistence_buffer=1000
        )
        start = time.perf_counter()
        summary = run_in_memory(pipeline, bus, market)
        elapsed = time.perf_counter() - start
        row = conn.execute("SELECT COUNT(*) FROM trades WHERE run_id = 'ticks'").fetchone()
    fills = int(str(row[0])) if row else 0
    return TickReplay(summary.market_events, elapsed, rss.summary(), peak_rss_mb(), fills)


def redis_pipeline(redis_url: str, conninfo: str, bars: int, namespace: str) -> float:
    """Market events/s through every stage over Redis Streams (one process), into PostgreSQL."""
    client = redis.Redis.from_url(redis_url)
    bus = RedisStreamBus(client, namespace)
    market = list(synthetic_candles(SYMBOLS, START, bars // 2))
    options = ConsumerOptions(batch_size=500, block_ms=20)
    with psycopg.connect(conninfo) as conn, psycopg.connect(conninfo, autocommit=True) as probe:
        pipeline = build_pipeline(
            Settings(), bus, run_id="bench", symbols=SYMBOLS, writer=EventWriter(conn, conninfo)
        )
        runners = [StageRunner(s, bus, options=options, clock=EVENT_TIME) for s in pipeline.stages]
        threads = ThreadedPipeline(runners)
        threads.start()
        try:
            start = time.perf_counter()
            for offset in range(0, len(market), 1000):
                bus.publish_many(market[offset : offset + 1000])
            while _count(probe) < len(market) or not _settled(bus):
                time.sleep(0.05)
            elapsed = time.perf_counter() - start
        finally:
            threads.stop()
    client.close()
    return len(market) / elapsed


def latency(redis_url: str, namespace: str, rate: int, seconds: float) -> tuple[float, float, int]:
    """Order publish -> order result arrival through the execution stage over Redis: p50, p99 ms."""
    client = redis.Redis.from_url(redis_url)
    bus = RedisStreamBus(client, namespace)
    # Simulated exchange latency off: this measures the engine's own path, not the model.
    settings = Settings(execution=ExecutionSettings(latency_ms=0))
    pipeline = build_pipeline(settings, bus, run_id="lat", symbols=SYMBOLS)
    runner = StageRunner(
        pipeline.execution, bus, options=ConsumerOptions(batch_size=100, block_ms=5)
    )
    threads = ThreadedPipeline([runner])
    now = datetime.now(UTC)
    bus.publish_many(list(synthetic_candles(("BTCUSDT",), now - timedelta(minutes=5), 5)))
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_results, args=(redis_url, bus.key(Stream.ORDER_RESULTS), arrived, stop)
    )
    threads.start()
    reader.start()
    try:
        time.sleep(0.5)
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            order_id = f"lat-{i}"
            at = datetime.now(UTC)
            sent[order_id] = time.perf_counter()
            bus.publish(_order(order_id, at))
            pause = start + (i + 1) / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        deadline = time.perf_counter() + 10
        while len(arrived) < total and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join(5)
        threads.stop()
        client.close()
    waits = sorted((arrived[k] - sent[k]) * 1000 for k in arrived if k in sent)
    p50 = statistics.median(waits)
    p99 = waits[int(len(waits) * 0.99) - 1]
    return p50, p99, len(waits)


def _order(order_id: str, at: datetime) -> OrderSubmitted:
    return OrderSubmitted(
        event_id=order_id,
        ts_event=at,
        ts_init=at,
        source="bench",
        run_id="lat",
        order_id=order_id,
        symbol="BTCUSDT",
        side="buy",
        order_type="market",
        quantity=Decimal("0.001"),
    )


def _read_results(url: str, key: str, arrived: dict[str, float], stop: threading.Event) -> None:
    client = redis.Redis.from_url(url)
    last: str | bytes = "$"
    while not stop.is_set():
        reply: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] = client.xread(
            {key: last}, block=100, count=500
        )  # type: ignore[assignment]  # redis-py types a sync reply as "Awaitable | Any"
        now = time.perf_counter()
        for _, entries in reply or []:
            for message_id, fields in entries:
                last = message_id
                payload = fields[b"event"]
                start = payload.find(b'"order_id":"') + 12
                arrived.setdefault(payload[start : payload.find(b'"', start)].decode(), now)
    client.close()


def _count(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT COUNT(*) FROM candles").fetchone()
    return int(str(row[0])) if row else 0


def _settled(bus: RedisStreamBus) -> bool:
    for stream in Stream:
        key = bus.key(stream)
        if not bus.client.exists(key):
            continue
        for group in bus.client.xinfo_groups(key):
            if group["pending"] or (group.get("lag") or 0):
                return False
    return True
