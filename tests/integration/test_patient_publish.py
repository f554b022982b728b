"""A stage's output survives Redis going away between the stage's work and its publish.

The portfolio stage moves its state on a batch (the minute it closed, the ids it has seen)
and then publishes the snapshot. Redis is stopped at exactly that point, on a server of
this test's own, and started again a second later: the snapshot must still be published,
once, and the batch acknowledged."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from engine.bus.base import Publisher
from engine.bus.redis_streams import ConsumerOptions, PatientPublisher, RedisStreamBus
from engine.domain.market import MarketState
from engine.domain.portfolio import Portfolio
from engine.events import Event, decode_event
from engine.events.portfolio import PortfolioSnapshotTaken
from engine.runtime.paths import StatePaths
from engine.runtime.redis_server import RedisServer
from engine.services.portfolio import PortfolioStage
from engine.services.redis_runner import EVENT_TIME, StageRunner, ThreadedPipeline
from engine.settings import RedisSettings
from engine.streams import Stream
from tests.factories import candle
from tests.support import eventually

pytestmark = pytest.mark.integration

MINUTES = 6


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A redis-server of this test alone (it gets stopped under the stage)."""
    home = Path(tempfile.mkdtemp(prefix="claire-patient-"))
    paths = StatePaths(home)
    paths.prepare()
    redis_server = RedisServer(paths, RedisSettings())
    redis_server.start()
    try:
        yield redis_server
    finally:
        redis_server.stop()
        shutil.rmtree(home, ignore_errors=True)


class OutageOnFirstPublish:
    """Stop Redis just before the stage's first publish; start it again a second later."""

    def __init__(self, server: RedisServer, inner: Publisher) -> None:
        self._server = server
        self._inner = inner
        self.outages = 0

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        return self.publish_many([event], stream)[0]

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        if self.outages == 0:
            self.outages += 1
            self._server.stop()
            threading.Timer(1.0, self._server.start).start()
        return self._inner.publish_many(events, stream)


def snapshots(client: redis.Redis, bus: RedisStreamBus) -> list[PortfolioSnapshotTaken]:
    """The snapshots published so far (none while Redis is down)."""
    try:
        entries = client.xrange(bus.key(Stream.PORTFOLIO_SNAPSHOTS))
    except redis.ConnectionError:
        return []
    events = [decode_event(fields[b"event"]) for _, fields in entries]
    return [e for e in events if isinstance(e, PortfolioSnapshotTaken)]


def test_redis_down_between_a_stages_work_and_its_publish_then_the_output_still_published(
    server: RedisServer,
) -> None:
    client = redis.Redis.from_url(server.url)
    bus = RedisStreamBus(client, "patient")
    stop = threading.Event()
    faulty = OutageOnFirstPublish(server, PatientPublisher(bus, stop))
    stage = PortfolioStage(Portfolio(Decimal(10_000)), MarketState(), faulty, "run-patient")
    options = ConsumerOptions(batch_size=1, block_ms=50, claim_every_s=0.0)
    pipeline = ThreadedPipeline([StageRunner(stage, bus, options=options, clock=EVENT_TIME)], stop)
    # One candle a minute: each closes the minute before it, whose snapshot is then due.
    bus.publish_many([candle(index, close=str(95_000 + index)) for index in range(MINUTES + 1)])
    pipeline.start()
    try:
        eventually(
            lambda: len(snapshots(client, bus)) >= MINUTES,
            timeout=30,
            interval=0.2,
            what=f"{MINUTES} snapshots",
        )
    finally:
        pipeline.stop()
        client.close()

    client = redis.Redis.from_url(server.url)
    taken = [s.ts_event for s in snapshots(client, bus)]
    assert faulty.outages == 1
    assert len(taken) == len(set(taken)) == MINUTES  # every minute once, the first included
    pending = client.xpending(bus.key(Stream.MARKET_DATA), "portfolio")["pending"]
    assert pending == 0
    client.close()
