"""Feed a market source into the engine: paced in event time, batched, back-pressured.

- `speed` None plays as fast as the pipeline takes it; 1 is real time; N is N x real time.
- `until` ends the feed at that event time (a papertest's planned end); `span` ends it that
  long after the first event's coverage begins (a replay's duration, in event time: from
  the first candle's open, so 2 h of 1-minute candles is 120 of them).
- `after` (a resumed run, its last stored snapshot): market events before it were processed
  and stored before the crash; they are fed again as warm-up history (stages and strategy
  learn, nothing trades, no pacing), and older alerts and gap records are dropped. Events
  at `after` itself may have been stored only in part (the snapshot came after the first
  of them), so they are fed again as live: what they lead to carries the same ids as the
  first time and is stored once.
- `backlog` reports how far the slowest consumer is behind; above `max_backlog` the feed
  waits, so a replay never outruns the pipeline and memory stays bounded.
- `after_publish` runs after every batch (the in-memory runner drains its bus there).
- `reorder_s` (live sources) holds market events that long in event time and releases them in
  replay order (`engine.marketdata.files.replay_order`), so a recording of the session replays
  the very sequence the live run processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Literal

from engine.bus.base import Publisher
from engine.errors import TransientError
from engine.events import AlertRaised, Candle, Event, MarketDataGap, QuoteTick, TradeTick
from engine.events.market_data import as_warmup, is_warmup
from engine.marketdata.files import MarketRecorder, Recorded, replay_order
from engine.marketdata.source import MarketItem, MarketSource, RecordedSource

log = logging.getLogger(__name__)
MAX_PUBLISH_BACKOFF_S = 5.0
#: A recorded source is read this many events at a time between turns of the event loop.
RECORDED_CHUNK = 500

#: A paced wait at least this long ends early on a stop (shorter ones just sleep: a paced
#: replay waits a few milliseconds between most events, and waiting on the stop costs more).
LONG_WAIT_S = 0.5

EndReason = Literal["exhausted", "planned_end", "stopped"]


@dataclass
class FeedResult:
    """How a feed ended."""

    events: int
    reason: EndReason
    last_event_time: datetime | None
    #: Where the market data published (history aside) starts: the first candle's open
    #: time, or the first tick's time.
    first_event_time: datetime | None = None


@dataclass
class FeedOptions:
    """How fast, how far and in what batches to feed."""

    speed: float | None = None
    until: datetime | None = None
    span: timedelta | None = None
    after: datetime | None = None
    #: Stamped on the alerts and gap records the source yields (they belong to this run).
    run_id: str | None = None
    reorder_s: float = 0.0
    batch_size: int = 500
    #: Publish each event-time instant's events apart (in memory: every stage then sees the
    #: whole instant's market, both symbols' candles of a minute, before what they cause,
    #: as over Redis Streams, where stream ids order events by event time).
    by_instant: bool = False
    max_backlog: int = 20_000
    backlog_poll_s: float = 0.05


class MarketFeed:
    """Move events from a source to the bus until the source ends, `until`, or a stop."""

    def __init__(
        self,
        source: MarketSource,
        publisher: Publisher,
        options: FeedOptions | None = None,
        *,
        recorder: MarketRecorder | None = None,
        backlog: Callable[[], int] | None = None,
        after_publish: Callable[[], bool | None] | None = None,
        on_start: Callable[[datetime], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source, self.publisher = source, publisher
        self.options = options or FeedOptions()
        self.recorder = recorder
        self._backlog, self._after_publish = backlog, after_publish
        self._on_start = on_start
        self._monotonic, self._sleep = monotonic, sleep
        self._anchor: tuple[float, datetime] | None = None  # (wall, event time) at start
        self.published = 0
        self.last_event_time: datetime | None = None
        self.first_event_time: datetime | None = None
        self._stop: asyncio.Event | None = None
        self._until: datetime | None = None  # the planned end in event time, once known

    async def run(self, stop: asyncio.Event | None = None) -> FeedResult:
        """Feed until done; return how many events went out and why it ended.

        `after_publish` returning True asks the feed to stop (e.g. the run halted).
        """
        self._stop = stop
        batch: list[MarketItem] = []
        reason: EndReason | None = None
        self._until = self.options.until
        by_instant = self.options.by_instant  # a new instant goes out apart from the last
        async for chunk in self._chunks(stop):
            for item in chunk:
                if stop is not None and stop.is_set():
                    reason = "stopped"
                    break
                if self._past_the_end(item):
                    reason = "planned_end"
                    break
                wait = 0.0 if is_warmup(item.source) else self._wait_for(item.ts_event)
                if batch and (wait > 0 or (by_instant and item.ts_event != batch[-1].ts_event)):
                    if await self._flush(batch):
                        return self._result("stopped")
                    batch = []
                if wait > 0 and await self._pause(wait, stop):
                    reason = "stopped"  # a stop during a paced wait ends it at once
                    break
                batch.append(item)
                if len(batch) >= self.options.batch_size:
                    if await self._flush(batch):
                        return self._result("stopped")
                    batch = []
            if reason is not None:
                break
        if stop is not None and stop.is_set():
            reason = "stopped"
        if batch and await self._flush(batch):
            reason = "stopped"
        return self._result(reason or "exhausted")

    async def _pause(self, seconds: float, stop: asyncio.Event | None) -> bool:
        """Wait `seconds` of pacing, or less when a stop comes; return whether one came.
        (A paced realtime run waits up to a minute for its next candle.)"""
        if stop is None or seconds < LONG_WAIT_S or self._sleep is not asyncio.sleep:
            await self._sleep(seconds)  # a short wait, or a test's clock: its own sleep
            return stop is not None and stop.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return stop.is_set()

    def _past_the_end(self, item: MarketItem) -> bool:
        if self._until is None and self.options.span is not None:
            # a span of data from where the first item's coverage begins (a candle's open):
            # 2 h of 1-minute candles is 120 of them
            self._until = _covered_from(item) + self.options.span
        return self._until is not None and item.ts_event > self._until

    def _chunks(self, stop: asyncio.Event | None) -> AsyncIterator[Sequence[MarketItem]]:
        """The source's items in chunks: a recorded source's (a file, the synthetic market)
        read synchronously, many at a time, the event loop given a turn between chunks (a
        stop request, a signal); a live source's one at a time, as they come, reordered."""
        resumed = self.options.after is not None
        if isinstance(self.source, RecordedSource) and self.options.reorder_s <= 0:
            events = self.source.events()
            return _recorded_chunks(map(self._resumed, events) if resumed else events)
        items = self.source.items()
        if self.options.reorder_s > 0:
            items = self._ordered(items)
        return _singles(_until(items, stop), self._resumed if resumed else None)

    def _resumed(self, item: MarketItem) -> MarketItem:
        """A resumed run's market events before its last snapshot were processed and stored
        before the crash: fed again as history (learned from, never traded on)."""
        after = self.options.after
        if after is None or item.ts_event >= after:
            return item
        if isinstance(item, Candle | TradeTick | QuoteTick):
            return as_warmup(item)
        return item

    async def _ordered(self, items: AsyncIterator[MarketItem]) -> AsyncIterator[MarketItem]:
        window = timedelta(seconds=self.options.reorder_s)
        if window <= timedelta():
            async for item in items:
                yield item
            return
        held: list[tuple[tuple[datetime, int, str], int, Recorded]] = []
        newest: datetime | None = None
        async for count, item in _numbered(items):
            if not isinstance(item, Candle | TradeTick | QuoteTick):
                yield item  # alerts and gap records are not replayed: no need to wait
                continue
            heapq.heappush(held, (replay_order(item), count, item))
            newest = item.ts_event if newest is None else max(newest, item.ts_event)
            while held and held[0][0][0] <= newest - window:
                yield heapq.heappop(held)[2]
        while held:
            yield heapq.heappop(held)[2]

    def _result(self, reason: EndReason) -> FeedResult:
        return FeedResult(self.published, reason, self.last_event_time, self.first_event_time)

    def _wait_for(self, ts_event: datetime) -> float:
        """Seconds to wait before `ts_event` is due at the chosen speed (0: due now)."""
        speed = self.options.speed
        if speed is None:
            return 0.0
        if self._anchor is None:
            self._anchor = (self._monotonic(), ts_event)
            return 0.0
        wall, first = self._anchor
        due = wall + (ts_event - first).total_seconds() / speed
        return max(0.0, due - self._monotonic())

    async def _flush(self, batch: list[MarketItem]) -> bool:
        await self._respect_backlog()
        events: list[Event] = [self._owned(item) for item in batch]
        if not await self._publish(events):
            return True  # stopped while the bus was down
        if self.recorder is not None:
            self.recorder.record(batch)
        self.published += len(batch)
        self.last_event_time = batch[-1].ts_event
        if self.first_event_time is None:
            self.first_event_time = next(
                (_covered_from(item) for item in batch if not is_warmup(item.source)), None
            )
            if self.first_event_time is not None and self._on_start is not None:
                self._on_start(self.first_event_time)
        if self._after_publish is not None:
            return bool(self._after_publish())
        return False

    def _owned(self, item: MarketItem) -> Event:
        run_id = self.options.run_id
        if run_id is not None and isinstance(item, AlertRaised | MarketDataGap):
            return item.model_copy(update={"run_id": run_id})
        return item

    async def _respect_backlog(self) -> None:
        if self._backlog is None:
            return
        while True:
            try:
                behind = self._backlog()
            except TransientError as exc:  # Redis restarting: wait for it, as for a backlog
                log.warning("feed cannot read the backlog, waiting: %s", exc)
                behind = self.options.max_backlog + 1
            if behind <= self.options.max_backlog:
                return
            await self._sleep(self.options.backlog_poll_s)

    async def _publish(self, events: list[Event]) -> bool:
        """Publish, waiting out a bus that is down (a restart): market data is never dropped.
        Return False when a stop came while waiting."""
        backoff = 0.1
        while True:
            try:
                self.publisher.publish_many(events)
                return True
            except TransientError as exc:
                if self._stop is not None and self._stop.is_set():
                    return False
                log.warning("feed waiting %.1f s to publish: %s", backoff, exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_PUBLISH_BACKOFF_S)


async def _recorded_chunks(
    events: Iterable[MarketItem], size: int = RECORDED_CHUNK
) -> AsyncIterator[Sequence[MarketItem]]:
    iterator = iter(events)
    while chunk := list(islice(iterator, size)):
        yield chunk
        await asyncio.sleep(0)  # the event loop's turn: stop requests, signals


async def _singles(
    items: AsyncIterator[MarketItem], convert: Callable[[MarketItem], MarketItem] | None
) -> AsyncIterator[Sequence[MarketItem]]:
    async for item in items:
        yield (item if convert is None else convert(item),)


async def _numbered(items: AsyncIterator[MarketItem]) -> AsyncIterator[tuple[int, MarketItem]]:
    count = 0
    async for item in items:
        yield count, item
        count += 1


async def _until(
    items: AsyncIterator[MarketItem], stop: asyncio.Event | None
) -> AsyncIterator[MarketItem]:
    """Yield `items` until they end or `stop` is set, even while waiting for the next one
    (a live source can be quiet for a long time)."""
    if stop is None:
        async for item in items:
            yield item
        return
    waiter = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            following = asyncio.ensure_future(anext(items))
            done, _ = await asyncio.wait({following, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
                return
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)


def _covered_from(item: MarketItem) -> datetime:
    """Return when the market data `item` covers begins (a candle covers its whole bar)."""
    return item.open_time if isinstance(item, Candle) else item.ts_event
