"""The execution stage: orders in, paper fills out, priced from the market it has seen."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.bus.base import Publisher
from engine.domain.execution import PaperExecution
from engine.domain.fill_limits import FillLimits
from engine.domain.fills import Fill
from engine.domain.market import MarketData, MarketState
from engine.events import Event, FeedEnded, OrderResultReported, OrderSubmitted
from engine.events.market_data import is_warmup
from engine.services.base import RECOVERY_SOURCE, RestoredRun, SeenEvents
from engine.streams import Stream

RUN_ENDED = "the run's market data ended before it could be filled"


class ExecutionStage:
    """Feed market data to the market state and the paper execution (history only to the
    market state); submit orders; cancel what is still open when the run's feed ends.

    A resumed run's recovery submits its open orders again before the feed plays anything:
    such an order waits until the market played again has moved past its time (and has a
    price for its symbol), and is submitted then, in event time, as it was the first time.
    The limits held at the fill (`limits`) take a resumed run's stored fills back in event
    time, where they came the first time.
    """

    name: str = "execution"
    inputs: tuple[Stream, ...] = (Stream.MARKET_DATA, Stream.ORDERS)

    def __init__(
        self,
        execution: PaperExecution,
        market: MarketState,
        publisher: Publisher,
        *,
        limits: FillLimits | None = None,
        restored: RestoredRun | None = None,
    ) -> None:
        self._execution = execution
        self._market = market
        self._publisher = publisher
        self._limits = limits
        self._restored = restored or RestoredRun()
        self._seen = SeenEvents()
        self._resubmitted: list[OrderSubmitted] = []
        self._newest: datetime | None = None  # the newest market event time seen

    def handle(self, events: Sequence[Event]) -> None:
        results: list[OrderResultReported] = []
        for event in self._seen.fresh(events):
            if isinstance(event, OrderSubmitted):
                if event.source == RECOVERY_SOURCE and not self._due(event, self._newest):
                    self._resubmitted.append(event)
                else:
                    results += self._execution.submit(event, event.ts_event)
            elif isinstance(event, MarketData):
                self._catch_up(self._restored.before(event.ts_event))
                results += self._submit_due(event.ts_event)
                self._market.apply(event)
                if self._newest is None or event.ts_event > self._newest:
                    self._newest = event.ts_event
                if not is_warmup(event.source):  # history was filled against before the crash
                    results += self._execution.on_market_data(event, event.ts_event)
                self._catch_up(self._restored.through(event))
            elif isinstance(event, FeedEnded):  # no market left to fill anything at
                results += self._submit_due(None)
                results += self._execution.cancel_all(event.ts_event, RUN_ENDED)
        if results:
            self._publisher.publish_many(results)

    def _catch_up(self, fills: Sequence[Fill]) -> None:
        if self._limits is not None:
            for fill in fills:
                self._limits.apply(fill)

    def _due(self, order: OrderSubmitted, now: datetime | None) -> bool:
        """True once the market (at `now`) has moved past the order's time and can price it."""
        return (
            now is not None
            and order.ts_event < now
            and self._market.reference_price(order.symbol, order.side) is not None
        )

    def _submit_due(self, now: datetime | None) -> list[OrderResultReported]:
        """Submit the resubmitted orders the market has reached (all of them: None)."""
        results: list[OrderResultReported] = []
        waiting: list[OrderSubmitted] = []
        for order in self._resubmitted:
            if now is None or self._due(order, now):
                results += self._execution.submit(order, order.ts_event)
            else:
                waiting.append(order)
        self._resubmitted = waiting
        return results

    def on_tick(self, now: datetime) -> None:
        expired = self._execution.expire_due(now)
        if expired:
            self._publisher.publish_many(expired)
