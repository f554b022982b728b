"""Dead letters from any stage end up in PostgreSQL, once each."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
import pytest
import redis

from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus, StreamConsumer
from engine.events import Event
from engine.services.dead_letters import DeadLetterRecorder
from engine.storage.event_writer import EventWriter
from engine.streams import Stream
from tests.factories import trade_tick

pytestmark = pytest.mark.integration


def test_malformed_event_dead_lettered_by_a_stage_then_recorded_in_database_once(
    redis_client: redis.Redis,
    redis_namespace: str,
    database_conninfo: str,
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    bus = RedisStreamBus(redis_client, redis_namespace)
    bus.publish_raw(Stream.MARKET_DATA, b'{"type": "trade_tick", "price": "NaN"}')
    bus.publish(trade_tick(1))

    def ignore(events: Sequence[Event]) -> None:
        pass

    consumer = StreamConsumer(
        bus, Stream.MARKET_DATA, "signal", ignore, options=ConsumerOptions(block_ms=10)
    )
    consumer.poll(block=False)
    with psycopg.connect(database_conninfo) as conn:
        recorder = DeadLetterRecorder(bus, EventWriter(conn, database_conninfo))
        first = recorder.poll(block_ms=None)
        again = recorder.poll(block_ms=None)

    rows = db.execute("SELECT stream, group_name, error, payload FROM dead_letters").fetchall()
    assert (first, again) == (1, 0)
    assert len(rows) == 1
    stream, group, error, payload = rows[0]
    assert (stream, group) == ("market_data", "signal")
    assert "invalid event" in str(error)
    assert "NaN" in str(payload)
