"""What every stage shares: its name (consumer group), its input streams, duplicate guard."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from engine.events import Event
from engine.streams import Stream


class Stage(Protocol):
    """One stage of the pipeline. The bus calls `handle` with batches of its input events."""

    name: str
    inputs: tuple[Stream, ...]

    def handle(self, events: Sequence[Event]) -> None: ...

    def on_tick(self, now: datetime) -> None: ...


class SeenEvents:
    """Remember the most recent event ids, so a redelivered event is handled once.

    Delivery is at least once: a stage restarted under load may see an event again. Stateful
    stages (strategy windows, risk state) skip what they have seen; writes are idempotent anyway.
    A redelivery comes from at most a few unacknowledged batches, so a bounded memory of the
    newest ids is enough, and keeps memory flat however long the run.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """Return True the first time an id is seen (and remember it), False afterwards."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True
