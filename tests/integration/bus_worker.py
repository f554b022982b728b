"""A consumer process for the crash tests: records every delivery, stores each event once.

Run as `python -m tests.integration.bus_worker URL NAMESPACE CONNINFO CONSUMER STALL_AFTER`.
After STALL_AFTER deliveries it stops acknowledging and hangs mid-batch, waiting to be killed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence

import psycopg

from engine.bus.redis_streams import ConsumerOptions, RedisStreamBus, StreamConsumer
from engine.events import Event
from engine.streams import Stream

GROUP = "crash-test"


def store(
    conn: psycopg.Connection[tuple[object, ...]], consumer: str, events: Sequence[Event]
) -> None:
    """Record the delivery, then store the event idempotently (the pattern every stage uses)."""
    for event in events:
        conn.execute(
            "INSERT INTO bus_deliveries (event_id, consumer) VALUES (%s, %s)",
            (event.event_id, consumer),
        )
        conn.execute(
            "INSERT INTO bus_processed (event_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (event.event_id,),
        )


def main() -> None:
    url, namespace, conninfo, consumer, stall_after = sys.argv[1:6]
    limit = int(stall_after)
    conn = psycopg.connect(conninfo, autocommit=True)
    seen = 0

    def handle(events: Sequence[Event]) -> None:
        nonlocal seen
        for event in events:
            store(conn, consumer, [event])
            seen += 1
            if seen >= limit:
                time.sleep(3600)  # hang mid-batch, nothing acknowledged: the test kills us

    bus = RedisStreamBus.from_url(url, namespace)
    options = ConsumerOptions(batch_size=100, block_ms=200)
    StreamConsumer(bus, Stream.MARKET_DATA, GROUP, handle, consumer=consumer, options=options).run(
        threading.Event()
    )


if __name__ == "__main__":
    main()
