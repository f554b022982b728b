"""The Redis Streams bus against a real Redis: delivery, acks, dead letters, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
import redis

from engine.bus.redis_streams import (
    PAYLOAD_FIELD,
    ConsumerOptions,
    RedisStreamBus,
    StreamConsumer,
)
from engine.errors import StorageUnavailableError
from engine.events import Event, encode_event
from engine.streams import Stream
from tests.factories import order, trade_tick
from tests.integration import bus_worker
from tests.support import eventually

pytestmark = pytest.mark.integration

FAST = ConsumerOptions(batch_size=50, block_ms=50, claim_idle_ms=200, claim_every_s=0.0)


@pytest.fixture
def bus(redis_client: redis.Redis, redis_namespace: str) -> RedisStreamBus:
    return RedisStreamBus(redis_client, redis_namespace, maxlen=100_000)


class Collector:
    """A handler that remembers what it was given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def drain(consumer: StreamConsumer, rounds: int = 50) -> None:
    for _ in range(rounds):
        if consumer.poll(block=False).idle:
            return


def pending_count(bus: RedisStreamBus, stream: Stream, group: str) -> int:
    return int(bus.client.xpending(bus.key(stream), group)["pending"])


def test_publish_then_consume_delivers_decoded_events_in_order(bus: RedisStreamBus) -> None:
    sent = [trade_tick(i) for i in range(10)]
    bus.publish_many(sent)
    seen = Collector()
    consumer = StreamConsumer(bus, Stream.MARKET_DATA, "g", seen, options=FAST)

    drain(consumer)

    assert seen.events == sent
    assert pending_count(bus, Stream.MARKET_DATA, "g") == 0


def test_publish_trims_streams_to_about_maxlen(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    bus = RedisStreamBus(redis_client, redis_namespace, maxlen=100)
    bus.publish_many(trade_tick(i) for i in range(2_000))

    length = redis_client.xlen(bus.key(Stream.MARKET_DATA))

    assert 100 <= length < 400


def test_ensure_group_twice_is_harmless(bus: RedisStreamBus) -> None:
    bus.ensure_group(Stream.SIGNALS, "g")
    bus.ensure_group(Stream.SIGNALS, "g")

    groups = bus.client.xinfo_groups(bus.key(Stream.SIGNALS))

    assert [g["name"] for g in groups] == [b"g"]


def test_consume_when_payload_malformed_then_dead_lettered_and_stream_continues(
    bus: RedisStreamBus,
) -> None:
    bus.publish(trade_tick(1))
    bus.publish_raw(Stream.MARKET_DATA, b"{not json")
    bus.publish_raw(Stream.MARKET_DATA, b'{"type": "trade_tick", "price": "-1"}')
    bus.publish(trade_tick(2))
    seen = Collector()
    consumer = StreamConsumer(bus, Stream.MARKET_DATA, "g", seen, options=FAST)

    drain(consumer)

    assert [e.event_id for e in seen.events] == [trade_tick(1).event_id, trade_tick(2).event_id]
    letters = bus.dead_letters()
    assert len(letters) == 2
    assert all(letter["stream"] == "market_data" for letter in letters)
    assert "invalid event" in letters[0]["error"]
    assert "price" in letters[1]["error"]
    assert pending_count(bus, Stream.MARKET_DATA, "g") == 0


def test_consume_when_handler_keeps_failing_then_dead_lettered_after_max_deliveries(
    bus: RedisStreamBus,
) -> None:
    poison = trade_tick(13)
    bus.publish_many([trade_tick(1), poison, trade_tick(2)])
    calls: list[str] = []
    stored: list[str] = []

    def handler(events: Sequence[Event]) -> None:
        calls.extend(e.event_id for e in events)
        if any(e.event_id == poison.event_id for e in events):
            raise ValueError("cannot handle 13")
        stored.extend(e.event_id for e in events)

    options = ConsumerOptions(batch_size=50, block_ms=50, max_deliveries=3, claim_every_s=60)
    consumer = StreamConsumer(bus, Stream.MARKET_DATA, "g", handler, options=options)

    drain(consumer)

    assert stored == [trade_tick(1).event_id, trade_tick(2).event_id]
    assert calls.count(poison.event_id) == 1 + 3  # once in the batch, then 3 deliveries alone
    letters = bus.dead_letters()
    assert len(letters) == 1
    assert letters[0]["attempts"] == "3"
    assert "ValueError: cannot handle 13" in letters[0]["error"]
    assert pending_count(bus, Stream.MARKET_DATA, "g") == 0


def test_consume_when_storage_down_then_nothing_acked_and_processed_after_recovery(
    bus: RedisStreamBus,
) -> None:
    bus.publish_many([trade_tick(i) for i in range(5)])
    down = True
    stored: list[str] = []

    def handler(events: Sequence[Event]) -> None:
        if down:
            raise StorageUnavailableError("database does not answer")
        stored.extend(e.event_id for e in events)

    consumer = StreamConsumer(bus, Stream.MARKET_DATA, "g", handler, options=FAST)
    for _ in range(10):  # far more than max_deliveries: transient failures never dead-letter
        with pytest.raises(StorageUnavailableError):
            consumer.poll(block=False)
    assert pending_count(bus, Stream.MARKET_DATA, "g") == 5

    down = False
    drain(consumer)

    assert stored == [trade_tick(i).event_id for i in range(5)]
    assert bus.dead_letters() == []


def test_run_when_storage_down_then_backs_off_without_crashing(bus: RedisStreamBus) -> None:
    bus.publish(trade_tick(1))
    attempts = 0
    stored: list[str] = []

    def handler(events: Sequence[Event]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 4:
            raise StorageUnavailableError
        stored.extend(e.event_id for e in events)

    stop = threading.Event()
    consumer = StreamConsumer(bus, Stream.MARKET_DATA, "g", handler, options=FAST)
    worker = threading.Thread(target=consumer.run, args=(stop,), kwargs={"max_backoff_s": 0.05})
    worker.start()
    try:
        eventually(lambda: stored == [trade_tick(1).event_id], what="the event after recovery")
    finally:
        stop.set()
        worker.join(timeout=5)
    assert not worker.is_alive()


@pytest.fixture
def crash_tables(db: psycopg.Connection[tuple[object, ...]]) -> None:
    db.execute("CREATE TABLE bus_deliveries (event_id text NOT NULL, consumer text NOT NULL)")
    db.execute("CREATE TABLE bus_processed (event_id text PRIMARY KEY)")


@pytest.mark.usefixtures("crash_tables")
def test_consumer_killed_mid_batch_then_messages_reclaimed_and_stored_exactly_once(
    bus: RedisStreamBus,
    redis_url: str,
    redis_namespace: str,
    database_conninfo: str,
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    sent = [trade_tick(i) for i in range(300)]
    bus.publish_many(sent)
    root = Path(__file__).resolve().parents[2]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.bus_worker",
            redis_url,
            redis_namespace,
            database_conninfo,
            "doomed",
            "40",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        eventually(
            lambda: _count(db, "SELECT COUNT(*) FROM bus_processed") >= 40,
            timeout=30,
            what="the worker to store 40 events",
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert pending_count(bus, Stream.MARKET_DATA, bus_worker.GROUP) >= 40  # read, never acked

    with psycopg.connect(database_conninfo, autocommit=True) as conn:
        survivor = StreamConsumer(
            bus,
            Stream.MARKET_DATA,
            bus_worker.GROUP,
            lambda events: bus_worker.store(conn, "survivor", events),
            consumer="survivor",
            options=FAST,
        )
        eventually(
            lambda: (
                survivor.poll(block=False).idle
                and pending_count(bus, Stream.MARKET_DATA, bus_worker.GROUP) == 0
            ),
            timeout=30,
            what="the survivor to reclaim and drain",
        )

    assert _count(db, "SELECT COUNT(*) FROM bus_processed") == len(sent)
    redelivered = _count(
        db,
        "SELECT COUNT(*) FROM (SELECT event_id FROM bus_deliveries GROUP BY event_id"
        " HAVING COUNT(*) > 1) AS twice",
    )
    assert redelivered >= 40  # the dead worker's events were delivered again...
    assert _count(db, "SELECT COUNT(DISTINCT event_id) FROM bus_processed") == len(sent)  # ...once
    assert bus.dead_letters() == []


def test_successor_claiming_at_start_then_the_dead_consumers_entries_first_and_in_order(
    bus: RedisStreamBus,
) -> None:
    sent = [trade_tick(i) for i in range(120)]
    bus.publish_many(sent[:60])
    bus.ensure_group(Stream.MARKET_DATA, "only")
    # A consumer read 50 entries and died before acknowledging any.
    bus.client.xreadgroup("only", "dead", {bus.key(Stream.MARKET_DATA): ">"}, count=50)
    bus.publish_many(sent[60:])
    handled: list[Event] = []
    successor = StreamConsumer(
        bus,
        Stream.MARKET_DATA,
        "only",
        handled.extend,
        consumer="successor",
        options=ConsumerOptions(batch_size=50, block_ms=50, claim_at_start=True),
    )  # the default claim_idle_ms (30 s) never passes in this test

    while not successor.poll(block=False).idle:
        pass

    assert [e.event_id for e in handled] == [e.event_id for e in sent]
    assert pending_count(bus, Stream.MARKET_DATA, "only") == 0


def test_consume_when_message_has_no_payload_then_dead_lettered(bus: RedisStreamBus) -> None:
    bus.client.xadd(bus.key(Stream.ORDERS), {b"other": b"x"})
    bus.client.xadd(bus.key(Stream.ORDERS), {PAYLOAD_FIELD: encode_event(trade_tick(1))})
    seen = Collector()

    drain(StreamConsumer(bus, Stream.ORDERS, "g", seen, options=FAST))

    assert len(seen.events) == 1
    assert bus.dead_letters()[0]["error"] == "message has no event payload"


def _count(db: psycopg.Connection[tuple[object, ...]], query: str) -> int:
    row = db.execute(query).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_consume_several_streams_then_events_arrive_in_publication_order(
    bus: RedisStreamBus,
) -> None:
    sent = [trade_tick(1), order("o1"), trade_tick(2), order("o2"), trade_tick(3)]
    for event in sent:
        bus.publish(event)
    seen = Collector()
    consumer = StreamConsumer(bus, (Stream.MARKET_DATA, Stream.ORDERS), "g", seen, options=FAST)

    drain(consumer)

    assert [e.event_id for e in seen.events] == [e.event_id for e in sent]
    assert pending_count(bus, Stream.ORDERS, "g") == 0
    assert pending_count(bus, Stream.MARKET_DATA, "g") == 0


def test_streams_written_in_the_same_millisecond_then_order_kept(bus: RedisStreamBus) -> None:
    # Pipelined, hundreds of messages land in one millisecond on two streams.
    sent = [trade_tick(i) if i % 3 else order(f"o{i}") for i in range(600)]
    bus.publish_many(sent)
    seen = Collector()
    consumer = StreamConsumer(bus, (Stream.MARKET_DATA, Stream.ORDERS), "g", seen, options=FAST)

    drain(consumer)

    assert [e.event_id for e in seen.events] == [e.event_id for e in sent]
