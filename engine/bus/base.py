"""What every bus offers the services: publishing events to their streams, the stages it
feeds, and the dead letter a message that cannot be handled becomes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.events import Event
from engine.streams import Stream

#: A stage's handler: given a batch of decoded events, publishes what follows from them.
BatchHandler = Callable[[Sequence[Event]], None]


class Stage(Protocol):
    """One stage of the pipeline. The bus calls `handle` with batches of its input events."""

    name: str
    inputs: tuple[Stream, ...]

    def handle(self, events: Sequence[Event]) -> None: ...

    def on_tick(self, now: datetime) -> None: ...


class Publisher(Protocol):
    """Anything services can publish events through (Redis Streams, or in memory)."""

    def publish(self, event: Event, stream: Stream | None = None) -> str: ...

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]: ...


@dataclass(frozen=True)
class DeadLetter:
    """A message taken out of its stream, with why."""

    stream: str
    message_id: str
    group: str
    consumer: str
    error: str
    attempts: int
    payload: bytes
    ts: datetime

    def fields(self) -> dict[str, str | bytes]:
        return {
            "stream": self.stream,
            "message_id": self.message_id,
            "group": self.group,
            "consumer": self.consumer,
            "error": self.error[:2000],
            "attempts": str(self.attempts),
            "payload": self.payload,
            "ts": self.ts.isoformat(),
        }
