"""The execution stage: orders in, paper fills out, priced from the market it has seen."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.bus.base import Publisher
from engine.domain.execution import PaperExecution
from engine.domain.market import MarketData, MarketState
from engine.events import Event, FeedEnded, OrderResultReported, OrderSubmitted
from engine.events.market_data import is_warmup
from engine.services.base import SeenEvents
from engine.streams import Stream

RUN_ENDED = "the run's market data ended before it could be filled"


class ExecutionStage:
    """Feed market data to the market state and the paper execution (history only to the
    market state); submit orders; cancel what is still open when the run's feed ends."""

    name: str = "execution"
    inputs: tuple[Stream, ...] = (Stream.MARKET_DATA, Stream.ORDERS)

    def __init__(
        self, execution: PaperExecution, market: MarketState, publisher: Publisher
    ) -> None:
        self._execution = execution
        self._market = market
        self._publisher = publisher
        self._seen = SeenEvents()

    def handle(self, events: Sequence[Event]) -> None:
        results: list[OrderResultReported] = []
        for event in events:
            if not self._seen.first_time(event.event_id):
                continue
            if isinstance(event, OrderSubmitted):
                results += self._execution.submit(event, event.ts_event)
            elif isinstance(event, MarketData):
                self._market.apply(event)
                if not is_warmup(event.source):  # history was filled against before the crash
                    results += self._execution.on_market_data(event, event.ts_event)
            elif isinstance(event, FeedEnded):  # no market left to fill anything at
                results += self._execution.cancel_all(event.ts_event, RUN_ENDED)
        if results:
            self._publisher.publish_many(results)

    def on_tick(self, now: datetime) -> None:
        expired = self._execution.expire_due(now)
        if expired:
            self._publisher.publish_many(expired)
