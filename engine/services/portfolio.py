"""The portfolio stage: marks and fills in, snapshots and invariant alerts out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from engine.bus.base import Publisher
from engine.domain.fills import Fill
from engine.domain.market import MarketData, MarketState
from engine.domain.portfolio import Portfolio
from engine.events import AlertLevel, AlertRaised, Event, FeedEnded, OrderResultReported
from engine.events.market_data import is_warmup
from engine.services.base import RestoredRun, SeenEvents
from engine.streams import Stream

SOURCE = "engine.portfolio"


class PortfolioStage:
    """Keep the run's portfolio; snapshot it every interval of event time, after fills, and
    once more when the run's feed ends (the final snapshot)."""

    name: str = "portfolio"
    inputs: tuple[Stream, ...] = (Stream.MARKET_DATA, Stream.ORDER_RESULTS)

    def __init__(
        self,
        portfolio: Portfolio,
        market: MarketState,
        publisher: Publisher,
        run_id: str | None,
        *,
        snapshot_every: timedelta = timedelta(minutes=1),
        last_sequence: int = 0,
        restored: RestoredRun | None = None,
    ) -> None:
        self.portfolio = portfolio
        self._market = market
        self._publisher = publisher
        self._run_id = run_id
        self._every = snapshot_every
        self._last_snapshot: datetime | None = None
        self._sequence = last_sequence
        self._seen = SeenEvents()
        self._restored = restored or RestoredRun()
        self.violations = 0

    def handle(self, events: Sequence[Event]) -> None:
        out: list[Event] = []
        for event in events:
            if not self._seen.first_time(event.event_id):
                continue
            if isinstance(event, MarketData):
                self._catch_up(self._restored.before(event.ts_event))
                if not is_warmup(event.source):
                    self._raise_floors()
                self._market.apply(event)
                price = self._market.mark_price(event.symbol)
                if price is not None:
                    self.portfolio.mark(event.symbol, price, event.ts_event)
                # History (a resumed run's warm-up) marks, never snapshots: the portfolio
                # already holds what came after it, a snapshot would date that in the past.
                if not is_warmup(event.source) and self._due(event.ts_event):
                    out += self._snapshot(event.ts_event, "minute")
                self._catch_up(self._restored.through(event))
            elif isinstance(event, OrderResultReported) and event.is_fill:
                self._catch_up(self._restored.before(event.ts_event))
                fill = Fill.from_result(event)
                if self.portfolio.apply_fill(fill):
                    out += self._snapshot(event.ts_event, fill.trade_id)
            elif isinstance(event, FeedEnded):
                self._catch_up(self._restored.rest())
                self._raise_floors()
                out += self._snapshot(event.ts_event, "final")
        if out:
            self._publisher.publish_many(out)

    def on_tick(self, now: datetime) -> None:
        """Snapshots follow event time; nothing to do on a wall-clock tick."""

    def _catch_up(self, fills: Sequence[Fill]) -> None:
        """Apply a resumed run's stored fills the market has moved past (no snapshot: the
        snapshots of their time are stored already)."""
        for fill in fills:
            self.portfolio.apply_fill(fill)

    def _raise_floors(self) -> None:
        floors = self._restored.floors()
        if floors is not None:
            self.portfolio.raise_floors(*floors)

    def _due(self, ts: datetime) -> bool:
        return self._last_snapshot is None or ts - self._last_snapshot >= self._every

    def _snapshot(self, ts: datetime, cause: str) -> list[Event]:
        self._last_snapshot = ts if cause == "minute" else self._last_snapshot or ts
        event_id = f"snap-{self._run_id or 'none'}-{ts:%Y%m%dT%H%M%S%f}-{cause}"
        self._sequence += 1
        snapshot = self.portfolio.to_snapshot(
            ts, run_id=self._run_id, event_id=event_id[:128], sequence=self._sequence
        )
        out: list[Event] = [snapshot]
        problem = self.portfolio.reconcile()
        if problem is not None:
            self.violations += 1
            out.append(
                AlertRaised(
                    event_id=f"alert-{self._run_id}-portfolio_invariant-{ts:%Y%m%dT%H%M%S%f}"[:128],
                    ts_event=ts,
                    ts_init=ts,
                    source=SOURCE,
                    run_id=self._run_id,
                    level=AlertLevel.CRITICAL,
                    code="portfolio_invariant",
                    message=f"portfolio does not reconcile: {problem}"[:2000],
                )
            )
        return out
