"""The market feed: pacing in event time, planned end, back-pressure, stop, recording."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.bus.memory import InMemoryBus
from engine.events import Event
from engine.marketdata.feed import FeedOptions, FeedResult, MarketFeed
from engine.marketdata.files import MarketRecorder, read_market_data
from engine.marketdata.source import SyntheticSource
from engine.marketdata.synthetic import synthetic_candles
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


class FakeTime:
    """A monotonic clock that only `sleep` moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def received(bus: InMemoryBus) -> list[Event]:
    events: list[Event] = []
    bus.subscribe("probe", (Stream.MARKET_DATA,), events.extend)
    return events


def feed(
    bus: InMemoryBus, clock: FakeTime, minutes: int = 10, **kwargs: object
) -> tuple[MarketFeed, FeedResult]:
    options = FeedOptions(**{k: v for k, v in kwargs.items() if k in FeedOptions.__annotations__})
    extra = {k: v for k, v in kwargs.items() if k not in FeedOptions.__annotations__}
    market = MarketFeed(
        SyntheticSource(SYMBOLS, START, minutes, realistic=False),
        bus,
        options,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        **extra,  # type: ignore[arg-type]
    )
    return market, asyncio.run(market.run())


def test_full_speed_then_everything_published_without_waiting() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    events = received(bus)
    _, result = feed(bus, clock, batch_size=7)
    bus.drain()
    assert result.events == len(events) == 20
    assert result.reason == "exhausted"
    assert clock.sleeps == []


def test_speed_sixty_then_ten_minutes_take_ten_seconds() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    _, result = feed(bus, clock, speed=60.0)
    assert result.events == 20
    assert abs(clock.now - 9.0) < 1e-9  # the first candle is due at once, the last 9 s later


def test_until_then_stops_at_the_planned_end() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    events = received(bus)
    _, result = feed(bus, clock, until=START + timedelta(minutes=4))
    bus.drain()
    assert result.reason == "planned_end"
    assert result.events == 8
    assert max(e.ts_event for e in events) == START + timedelta(minutes=4)


def test_consumers_behind_then_feed_waits_for_them() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    answers = iter([50_000, 50_000, 50_000])
    _, result = feed(bus, clock, backlog=lambda: next(answers, 0), max_backlog=1000)
    assert result.events == 20
    assert clock.sleeps == [0.05, 0.05, 0.05]


def test_after_publish_asks_to_stop_then_stopped() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    calls: list[int] = []

    def halted() -> bool:
        calls.append(1)
        return len(calls) == 3

    _, result = feed(bus, clock, batch_size=1, after_publish=halted)
    assert result.reason == "stopped"
    assert result.events == 3


def test_recorder_then_what_was_fed_can_be_replayed(tmp_path: Path) -> None:
    bus, clock = InMemoryBus(), FakeTime()
    recorder = MarketRecorder(tmp_path)
    _, result = feed(bus, clock, recorder=recorder)
    recorder.close()
    assert len(list(read_market_data(tmp_path))) == result.events == 20


def test_span_then_ends_that_long_after_the_first_candle_opened() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    _, result = feed(bus, clock, span=timedelta(minutes=3))
    assert result.reason == "planned_end"
    assert result.events == 6  # 3 minutes of 1-minute candles from the first open, 2 symbols
    assert result.first_event_time == START
    assert result.last_event_time == START + timedelta(minutes=3)


def test_after_then_processed_events_fed_again_as_warmup_without_pacing() -> None:
    bus, clock = InMemoryBus(), FakeTime()
    events = received(bus)
    _, result = feed(bus, clock, after=START + timedelta(minutes=7), speed=60.0)
    bus.drain()
    assert result.events == 20
    warm = [e for e in events if e.source.endswith(".history")]
    assert max(e.ts_event for e in warm) == START + timedelta(minutes=6)
    assert len(warm) == 12  # the resume point's own events are fed again as live
    assert abs(clock.now - 3.0) < 1e-9  # only the resume point's 3 minutes on are paced


def test_reorder_window_then_late_arrivals_released_in_replay_order() -> None:
    from engine.marketdata.files import replay_order
    from engine.marketdata.synthetic import synthetic_candles

    late_first = list(synthetic_candles(SYMBOLS, START, 6))
    shuffled = [late_first[i ^ 1] for i in range(len(late_first))]  # swap neighbours

    class Shuffled:
        name = "shuffled"

        async def items(self):  # type: ignore[no-untyped-def]
            for item in shuffled:
                yield item

        async def close(self) -> None: ...

    bus, clock = InMemoryBus(), FakeTime()
    events = received(bus)
    market = MarketFeed(
        Shuffled(),  # type: ignore[arg-type]
        bus,
        FeedOptions(reorder_s=120),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    asyncio.run(market.run())
    bus.drain()
    expected = sorted(replay_order(e) for e in late_first)
    assert [replay_order(e) for e in events] == expected  # type: ignore[arg-type]


def test_stop_while_a_live_source_is_quiet_then_ends_at_once() -> None:
    first = next(iter(synthetic_candles(SYMBOLS, START, 1)))

    class Quiet:
        name = "quiet"

        async def items(self):  # type: ignore[no-untyped-def]
            yield first
            await asyncio.sleep(3600)  # a market with nothing to say

        async def close(self) -> None: ...

    async def body() -> FeedResult:
        stop = asyncio.Event()
        market = MarketFeed(Quiet(), InMemoryBus(), FeedOptions(batch_size=1))  # type: ignore[arg-type]
        asyncio.get_running_loop().call_later(0.1, stop.set)
        return await asyncio.wait_for(market.run(stop), 5)

    result = asyncio.run(body())
    assert result.reason == "stopped"
    assert result.events == 1


def test_by_instant_then_each_minutes_candles_go_out_together_and_apart_from_the_next() -> None:
    """In memory the feed publishes an instant at a time: both symbols' candles of a minute
    in one publish (queued together: every stage sees both before what they cause), never
    two minutes in one."""
    bus, clock = InMemoryBus(), FakeTime()
    events = received(bus)
    batches: list[list[datetime]] = []

    def drained() -> None:
        bus.drain()
        batches.append([e.ts_event for e in events])
        events.clear()

    feed(bus, clock, minutes=10, by_instant=True, after_publish=drained)

    assert len(batches) == 10
    assert all(len(batch) == 2 and len(set(batch)) == 1 for batch in batches)


def test_a_stop_during_a_realtime_wait_ends_the_feed_at_once() -> None:
    """In real time the next candle is up to a minute away: a stop must not wait for it."""

    async def run_and_stop() -> FeedResult:
        stop = asyncio.Event()
        market = MarketFeed(
            SyntheticSource(SYMBOLS, START, 10, realistic=False),
            InMemoryBus(),
            FeedOptions(speed=1.0),
        )
        running = asyncio.create_task(market.run(stop))
        await asyncio.sleep(0.2)
        stop.set()
        return await asyncio.wait_for(running, timeout=10)  # the wait is 60 s

    result = asyncio.run(run_and_stop())
    assert result.reason == "stopped"
    assert result.events == 2  # the first minute's two candles, and nothing after the stop
