"""The whole pipeline over real Redis Streams and PostgreSQL, each stage in a thread of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis

from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus
from engine.marketdata.synthetic import synthetic_candles
from engine.services.pipeline import build_pipeline
from engine.services.redis_runner import EVENT_TIME, StageRunner, ThreadedPipeline
from engine.settings import Settings
from engine.storage.event_writer import EventWriter
from engine.streams import Stream
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

Db = psycopg.Connection[tuple[object, ...]]
ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
OPTIONS = ConsumerOptions(batch_size=200, block_ms=50, claim_idle_ms=500, claim_every_s=0.5)


def count(db: Db, query: str) -> int:
    row = db.execute(query).fetchone()
    assert row is not None
    return int(str(row[0]))


def settled(bus: RedisStreamBus) -> bool:
    """True when every group has read everything and acknowledged it."""
    for stream in Stream:
        key = bus.key(stream)
        if not bus.client.exists(key):
            continue
        for group in bus.client.xinfo_groups(key):
            if group["pending"] or (group.get("lag") or 0):
                return False
    return True


@pytest.fixture
def bus(redis_url: str, redis_namespace: str) -> Iterator[RedisStreamBus]:
    client = redis.Redis.from_url(redis_url)
    yield RedisStreamBus(client, redis_namespace)
    client.close()


@contextmanager
def threaded(
    settings: Settings, bus: RedisStreamBus, conninfo: str, *, without: str = ""
) -> Iterator[ThreadedPipeline]:
    """Run the stages (all but `without`) in threads for the duration of the block."""
    with psycopg.connect(conninfo) as conn:
        writer = EventWriter(conn, conninfo)
        pipeline = build_pipeline(settings, bus, run_id="run-r", symbols=SYMBOLS, writer=writer)
        persistence = pipeline.persistence
        runners = [
            StageRunner(
                stage,
                bus,
                options=OPTIONS,
                clock=EVENT_TIME,  # historical data: ticks in market time, not wall time
                on_dead_letter=persistence.on_dead_letter
                if persistence is not None and stage is persistence
                else None,
            )
            for stage in pipeline.stages
            if stage.name != without
        ]
        threads = ThreadedPipeline(runners)
        threads.start()
        try:
            yield threads
        finally:
            threads.stop()


def test_synthetic_market_through_redis_then_everything_persisted_once(
    settings: Settings, bus: RedisStreamBus, database_conninfo: str, db: Db
) -> None:
    market = list(synthetic_candles(SYMBOLS, datetime(2026, 1, 5, tzinfo=UTC), 600, seed=7))
    with threaded(settings, bus, database_conninfo):
        # Paced like a live feed: each minute once the pipeline has taken the last. (Flooded
        # all at once, execution would read every candle before the first order, and a
        # market order fills only at market data that comes after it.)
        for minute in range(0, len(market), len(SYMBOLS)):
            bus.publish_many(market[minute : minute + len(SYMBOLS)])
            eventually(
                lambda: not bus.group_lag(Stream.MARKET_DATA, "execution"),
                timeout=10,
                interval=0.001,
                what="execution to take the minute",
            )
        eventually(
            lambda: count(db, "SELECT COUNT(*) FROM candles") == len(market) and settled(bus),
            timeout=60,
            what="the pipeline to settle",
        )

    assert count(db, "SELECT COUNT(*) FROM trades") > 0
    assert count(db, "SELECT COUNT(*) FROM signals") == count(
        db, "SELECT COUNT(*) FROM risk_decisions"
    )
    assert (
        count(db, "SELECT COUNT(*) FROM portfolio_snapshots WHERE equity <> cash + positions_value")
        == 0
    )
    assert count(db, "SELECT COUNT(*) FROM dead_letters") == 0
    assert bus.dead_letters() == []
