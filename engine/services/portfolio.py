"""The portfolio stage: marks and fills in, snapshots and invariant alerts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.bus.base import Publisher
from engine.domain.fills import Fill
from engine.domain.market import MarketData, MarketState
from engine.domain.portfolio import Portfolio
from engine.events import AlertLevel, AlertRaised, Event, FeedEnded, OrderResultReported
from engine.events.envelope import bounded_id, stamped
from engine.events.market_data import is_warmup
from engine.services.base import RestoredRun, SeenEvents
from engine.streams import Stream

SOURCE = "engine.portfolio"


@dataclass
class Instant:
    """One moment of event time while it is open: whether live data came in it (not only
    history), and the fills it had."""

    at: datetime | None = None
    live: bool = False
    fills: list[str] = field(default_factory=list)


class PortfolioStage:
    """Keep the run's portfolio; snapshot it every interval of event time, after fills, and
    once more when the run's feed ends (the final snapshot).

    Snapshots are taken as of one instant: every market event (and fill) with the same event
    time is applied before the snapshot of that time, taken when event time moves past it, so
    every symbol is valued at its price of that same instant. The drawdowns count the equity
    of whole instants only, never a state halfway through one.
    """

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
        self._instant = Instant()
        self.violations = 0

    def handle(self, events: Sequence[Event]) -> None:
        out: list[Event] = []
        for event in self._seen.fresh(events):
            if isinstance(event, MarketData):
                self._catch_up(self._restored.before(event.ts_event))
                out += self._enter(event.ts_event)
                if not is_warmup(event.source):
                    self._raise_floors()
                    self._instant.live = True
                self._market.apply(event)
                price = self._market.mark_price(event.symbol)
                if price is not None:
                    self.portfolio.mark(event.symbol, price, event.ts_event, track=False)
                self._catch_up(self._restored.through(event))
            elif isinstance(event, OrderResultReported) and event.is_fill:
                self._catch_up(self._restored.before(event.ts_event))
                out += self._enter(event.ts_event)
                fill = Fill.from_result(event)
                if self.portfolio.apply_fill(fill, track=False):
                    self._instant.fills.append(fill.trade_id)
            elif isinstance(event, FeedEnded):
                self._catch_up(self._restored.rest())
                out += self._close_instant()
                self._raise_floors()
                self.portfolio.track(event.ts_event)
                out += self._snapshot(event.ts_event, "final")
        if out:
            self._publisher.publish_many(out)

    def on_tick(self, now: datetime) -> None:
        """Snapshots follow event time; nothing to do on a wall-clock tick."""

    def _enter(self, ts: datetime) -> list[Event]:
        """Move event time to `ts`: close the instant before it (a later one is the same or
        an earlier time: it belongs to the instant still open)."""
        if self._instant.at is not None and ts <= self._instant.at:
            return []
        out = self._close_instant()
        self._instant = Instant(ts)
        return out

    def _close_instant(self) -> list[Event]:
        """Count the instant's equity; snapshot it when a minute is due or it had fills.
        History (a resumed run's warm-up) never snapshots: the portfolio already holds what
        came after it, a snapshot would date that in the past."""
        instant, self._instant = self._instant, Instant()
        if instant.at is None:
            return []
        self.portfolio.track(instant.at)
        if not instant.live:
            return []
        if self._due(instant.at):
            return self._snapshot(instant.at, "minute")
        if instant.fills:
            return self._snapshot(instant.at, instant.fills[-1])
        return []

    def _catch_up(self, fills: Sequence[Fill]) -> None:
        """Apply a resumed run's stored fills the market has moved past (no snapshot: the
        snapshots of their time are stored already)."""
        for fill in fills:
            self.portfolio.apply_fill(fill, track=False)

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
            ts, run_id=self._run_id, event_id=bounded_id(event_id), sequence=self._sequence
        )
        out: list[Event] = [snapshot]
        problem = self.portfolio.reconcile()
        if problem is not None:
            self.violations += 1
            out.append(
                AlertRaised(
                    **stamped(
                        f"alert-{self._run_id}-portfolio_invariant-{ts:%Y%m%dT%H%M%S%f}",
                        ts,
                        SOURCE,
                        self._run_id,
                    ),
                    level=AlertLevel.CRITICAL,
                    code="portfolio_invariant",
                    message=f"portfolio does not reconcile: {problem}"[:2000],
                )
            )
        return out
