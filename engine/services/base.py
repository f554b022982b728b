"""What the stages share: a duplicate guard, and a resumed run's fills handed back in event
time (the `Stage` contract itself is the bus's: `engine.bus.base`)."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from engine.domain.fills import Fill
from engine.domain.market import MarketData


class _Identified(Protocol):
    @property
    def event_id(self) -> str: ...


_E = TypeVar("_E", bound=_Identified)

#: The source of what a resumed run's recovery publishes (its open orders, submitted again).
RECOVERY_SOURCE = "engine.recovery"


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

    def fresh(self, events: Iterable[_E]) -> list[_E]:
        """The events of a batch not seen before, in order (each remembered)."""
        first_time = self.first_time
        return [event for event in events if first_time(event.event_id)]


class RestoredRun:
    """A resumed run's stored state, handed back in event time.

    A resumed run's stages start empty and the feed plays the run's market data again as
    history, so each stage lives through the run once more: a fill is applied where it came
    the first time, right after the market data of its symbol and time (which it was filled
    on), and every state built on the way (a strategy's cooldowns and trailing highs, drawdown
    peaks, daily limits) comes out as it was the first time. The
    high-water marks the stored snapshots saw count once the history is over (live data
    keeps only the last hours as history).
    """

    def __init__(
        self,
        fills: Sequence[Fill] = (),
        *,
        peak_equity: Decimal | None = None,
        max_drawdown: Decimal | None = None,
    ) -> None:
        self._fills = deque(sorted(fills, key=lambda f: f.ts))  # stable: stored order kept
        self._floors: tuple[Decimal | None, Decimal | None] | None = (peak_equity, max_drawdown)

    def before(self, ts: datetime) -> list[Fill]:
        """Return (and forget) the fills earlier than `ts`."""
        due: list[Fill] = []
        while self._fills and self._fills[0].ts < ts:
            due.append(self._fills.popleft())
        return due

    def through(self, event: MarketData) -> list[Fill]:
        """Return (and forget) the fills due once `event` is handled: the earlier ones, and
        those of its symbol at its time."""
        due = self.before(event.ts_event)
        kept: list[Fill] = []
        while self._fills and self._fills[0].ts == event.ts_event:
            fill = self._fills.popleft()
            (due if fill.symbol == event.symbol else kept).append(fill)
        self._fills.extendleft(reversed(kept))
        return due

    def rest(self) -> list[Fill]:
        """Return (and forget) every fill left."""
        due = list(self._fills)
        self._fills.clear()
        return due

    def floors(self) -> tuple[Decimal | None, Decimal | None] | None:
        """Return the stored peak equity and max drawdown the first time; None after."""
        floors, self._floors = self._floors, None
        return floors
