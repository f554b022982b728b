"""The in-memory bus: the same services in one process, with no Redis round trips.

For replays and backtests. Events are dispatched in publication order (FIFO) to every
subscriber of their stream; the runner publishes one market event and drains everything
it causes before the next, so a replay at full speed sees the market exactly as a live run
would. A handler that fails on an event dead-letters that event, never the run.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from engine.bus.base import BatchHandler, DeadLetter
from engine.errors import TransientError
from engine.events import Event, encode_event
from engine.events.envelope import EventEnvelope
from engine.streams import STREAM_FOR_EVENT, Stream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Subscriber:
    group: str
    streams: frozenset[Stream]
    handler: BatchHandler


class InMemoryBus:
    """Publish to a FIFO queue; `drain()` hands each event to the subscribers of its stream."""

    def __init__(
        self,
        *,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        retry_for_s: float = 300.0,
    ) -> None:
        self._queue: deque[tuple[Stream, Event]] = deque()
        self._subscribers: list[_Subscriber] = []
        self._routes: dict[Stream, tuple[_Subscriber, ...]] = {}  # who reads each stream
        self._sequence = 0
        self._on_dead_letter = on_dead_letter
        self._retry_for_s = retry_for_s
        self.dead_letters: list[DeadLetter] = []
        self.published: dict[Stream, int] = dict.fromkeys(Stream, 0)

    def subscribe(self, group: str, streams: Iterable[Stream], handler: BatchHandler) -> None:
        self._subscribers.append(_Subscriber(group, frozenset(streams), handler))
        self._routes = {
            stream: tuple(s for s in self._subscribers if stream in s.streams) for stream in Stream
        }

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        target = stream or STREAM_FOR_EVENT[event.type]
        self._queue.append((target, event))
        self.published[target] += 1
        self._sequence += 1
        return f"{self._sequence}-0"

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        return [self.publish(event, stream) for event in events]

    @property
    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> int:
        """Dispatch until the queue is empty (handlers may publish more); return the count."""
        handled = 0
        while self._queue:
            stream, event = self._queue.popleft()
            for subscriber in self._routes.get(stream, ()):
                self._deliver(subscriber, stream, event)
            handled += 1
        return handled

    def _deliver(self, subscriber: _Subscriber, stream: Stream, event: Event) -> None:
        """Hand `event` to one subscriber; retry a transient failure for `retry_for_s` after
        the first one (then raise); dead-letter any other."""
        deadline: float | None = None
        backoff = 0.05
        while True:
            try:
                subscriber.handler([event])
                return
            except TransientError as exc:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._retry_for_s
                if now >= deadline:
                    raise
                log.warning("%s waiting %.2f s: %s", subscriber.group, backoff, exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:
                self._dead_letter(subscriber, stream, event, exc)
                return

    def _dead_letter(
        self, subscriber: _Subscriber, stream: Stream, event: Event, exc: Exception
    ) -> None:
        log.warning("%s dead-lettered %s: %s", subscriber.group, event.event_id, exc)
        letter = DeadLetter(
            stream=str(stream),
            message_id=event.event_id,
            group=subscriber.group,
            consumer="memory",
            error=f"{type(exc).__name__}: {exc}",
            attempts=1,
            payload=encode_event(event),
            ts=datetime.now(UTC),
        )
        self.dead_letters.append(letter)
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)


E = TypeVar("E", bound=EventEnvelope)


def instants(events: Iterable[E]) -> Iterator[list[E]]:
    """`events` in runs of one event time each (consecutive events with the same `ts_event`)."""
    group: list[E] = []
    for event in events:
        if group and event.ts_event != group[-1].ts_event:
            yield group
            group = []
        group.append(event)
    if group:
        yield group


def drain_all(bus: InMemoryBus, events: Sequence[Event]) -> None:
    """Publish the events of each instant together and drain what they cause before the
    next instant: every stage sees the whole instant's market (both symbols' candles of a
    minute) before the signals and orders it causes, as over Redis Streams."""
    for group in instants(events):
        bus.publish_many(group)
        bus.drain()
