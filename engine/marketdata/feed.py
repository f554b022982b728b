"""Feed a market source into the engine: paced in event time, batched, back-pressured.

- `speed` None plays as fast as the pipeline takes it; 1 is real time; N is N x real time.
- `until` ends the feed at that event time (a papertest's planned end); `span` ends it that
  long after the first event (a replay's duration, in event time).
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
import heapq
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from engine.bus.base import Publisher
from engine.events import AlertRaised, Candle, Event, MarketDataGap, QuoteTick, TradeTick
from engine.events.market_data import is_warmup
from engine.marketdata.files import MarketRecorder, Recorded, replay_order
from engine.marketdata.source import MarketItem, MarketSource

EndReason = Literal["exhausted", "planned_end", "stopped"]


@dataclass
class FeedResult:
    """How a feed ended."""

    events: int
    reason: EndReason
    last_event_time: datetime | None


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
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source, self.publisher = source, publisher
        self.options = options or FeedOptions()
        self.recorder = recorder
        self._backlog, self._after_publish = backlog, after_publish
        self._monotonic, self._sleep = monotonic, sleep
        self._anchor: tuple[float, datetime] | None = None  # (wall, event time) at start
        self.published = 0
        self.last_event_time: datetime | None = None

    async def run(self, stop: asyncio.Event | None = None) -> FeedResult:
        """Feed until done; return how many events went out and why it ended.

        `after_publish` returning True asks the feed to stop (e.g. the run halted).
        """
        batch: list[MarketItem] = []
        reason: EndReason = "exhausted"
        until = self.options.until
        items = self._resumed(self._ordered(self.source.items()))
        async for item in _until(items, stop):
            if stop is not None and stop.is_set():
                reason = "stopped"
                break
            if until is None and self.options.span is not None:
                until = item.ts_event + self.options.span
            if until is not None and item.ts_event > until:
                reason = "planned_end"
                break
            wait = 0.0 if is_warmup(item.source) else self._wait_for(item.ts_event)
            if wait > 0 and batch:
                if await self._flush(batch):
                    return self._result("stopped")
                batch = []
            if wait > 0:
                await self._sleep(wait)
            batch.append(item)
            if len(batch) >= self.options.batch_size:
                if await self._flush(batch):
                    return self._result("stopped")
                batch = []
        if stop is not None and stop.is_set():
            reason = "stopped"
        if batch and await self._flush(batch):
            reason = "stopped"
        return self._result(reason)

    async def _resumed(self, items: AsyncIterator[MarketItem]) -> AsyncIterator[MarketItem]:
        after = self.options.after
        async for item in items:
            if after is None or item.ts_event >= after:
                yield item
            elif isinstance(item, Candle | TradeTick | QuoteTick):
                yield as_warmup(item)  # already processed before the crash: learn, not trade

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
        return FeedResult(self.published, reason, self.last_event_time)

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
        self.publisher.publish_many(events)
        if self.recorder is not None:
            self.recorder.record(batch)
        self.published += len(batch)
        self.last_event_time = batch[-1].ts_event
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
        while self._backlog() > self.options.max_backlog:
            await self._sleep(self.options.backlog_poll_s)


def as_warmup(item: Recorded) -> Recorded:
    """Return `item` marked as history (learned from, never traded on)."""
    if is_warmup(item.source):
        return item
    return item.model_copy(update={"source": f"{item.source}.history"})


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
