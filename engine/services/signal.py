"""The signal stage: market data through the strategy; fills tell it what it holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from engine.bus.base import Publisher
from engine.domain.fills import Fill
from engine.domain.market import MarketData
from engine.domain.positions import Position
from engine.events import Event, OrderResultReported, SignalGenerated
from engine.events.market_data import is_warmup
from engine.services.base import RestoredRun, SeenEvents
from engine.strategy import Strategy
from engine.streams import Stream


class _Holdings:
    """The strategy's read-only view of what the run holds, built from fills."""

    def __init__(self, run_id: str | None) -> None:
        self._run_id = run_id
        self.positions: dict[str, Position] = {}

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def position(self, symbol: str) -> tuple[Decimal, Decimal]:
        held = self.positions.get(symbol)
        return (held.quantity, held.average_price) if held else (Decimal(0), Decimal(0))


class SignalStage:
    """Ask the strategy what each market event means; publish its signals."""

    name: str = "signal"
    inputs: tuple[Stream, ...] = (Stream.MARKET_DATA, Stream.ORDER_RESULTS)

    def __init__(self, strategy: Strategy, publisher: Publisher, run_id: str | None) -> None:
        self._strategy = strategy
        self._publisher = publisher
        self._holdings = _Holdings(run_id)
        self._seen = SeenEvents()
        self._restored = RestoredRun()

    def handle(self, events: Sequence[Event]) -> None:
        signals: list[SignalGenerated] = []
        for event in self._seen.fresh(events):
            if isinstance(event, MarketData):
                for fill in self._restored.before(event.ts_event):
                    self._on_fill(fill)
                produced = self._strategy.on_market_data(event, self._holdings)
                if not is_warmup(event.source):  # history warms the strategy, never trades
                    signals += produced
                for fill in self._restored.through(event):
                    self._on_fill(fill)
            elif isinstance(event, OrderResultReported) and event.is_fill:
                for fill in self._restored.before(event.ts_event):
                    self._on_fill(fill)
                self._on_fill(Fill.from_result(event))
        if signals:
            self._publisher.publish_many(signals)

    def on_tick(self, now: datetime) -> None:
        """Strategies here act on market data only."""

    def restore(self, fills: Sequence[Fill]) -> None:
        """Take a resumed run's stored fills, applied as the market moves past each."""
        self._restored = RestoredRun(fills)

    def _on_fill(self, fill: Fill) -> None:
        position = self._holdings.positions.setdefault(fill.symbol, Position(fill.symbol))
        if position.apply(fill):
            self._strategy.on_fill(fill.symbol, fill.side, fill.quantity, fill.price, fill.ts)
