"""The persistence stage: every event of the pipeline into PostgreSQL, in batches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from engine.bus.base import DeadLetter
from engine.events import Event
from engine.streams import Stream

#: Every stream whose events are stored (dead letters have their own recorder).
PERSISTED_STREAMS: tuple[Stream, ...] = tuple(s for s in Stream if s is not Stream.DEAD_LETTERS)
#: Raw market ticks: stored only when asked (CLAIRE_MARKET_RECORD_TICKS); candles always are.
TICK_TYPES = frozenset({"trade_tick", "quote_tick"})


class EventSink(Protocol):
    """Where the stage writes: an EventWriter, or a BackgroundWriter in front of one."""

    def write(self, events: Sequence[Event]) -> object: ...

    def record_dead_letters(self, letters: Iterable[DeadLetter]) -> None: ...


class PersistenceStage:
    """Write what arrives. With `buffer_size` > 0 (in-memory bus) writes are batched here;
    with Redis every delivered batch is written before it is acknowledged."""

    name: str = "persistence"
    inputs: tuple[Stream, ...] = PERSISTED_STREAMS

    def __init__(
        self, writer: EventSink, *, buffer_size: int = 0, store_ticks: bool = True
    ) -> None:
        self._writer = writer
        self._buffer_size = buffer_size
        self._skipped = frozenset() if store_ticks else TICK_TYPES
        self._buffer: list[Event] = []
        self.written = 0

    def handle(self, events: Sequence[Event]) -> None:
        if self._skipped:
            events = [event for event in events if event.type not in self._skipped]
        if self._buffer_size <= 0:
            self._write(events)
            return
        self._buffer.extend(events)
        if len(self._buffer) >= self._buffer_size:
            self.flush()

    def flush(self) -> None:
        """Write whatever is buffered."""
        if self._buffer:
            self._write(self._buffer)
            self._buffer = []

    def on_tick(self, now: datetime) -> None:
        self.flush()

    def on_dead_letter(self, letter: DeadLetter) -> None:
        self._writer.record_dead_letters([letter])

    def _write(self, events: Sequence[Event]) -> None:
        self._writer.write(events)
        self.written += len(events)
