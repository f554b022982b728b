"""What every bus offers the services: publishing events to their streams."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from engine.events import Event
from engine.streams import Stream

#: A stage's handler: given a batch of decoded events, publishes what follows from them.
BatchHandler = Callable[[Sequence[Event]], None]


class Publisher(Protocol):
    """Anything services can publish events through (Redis Streams, or in memory)."""

    def publish(self, event: Event, stream: Stream | None = None) -> str: ...

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]: ...
