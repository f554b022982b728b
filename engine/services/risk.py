"""The risk stage: signals in, decisions and orders out; drawdown and stale-data alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.bus.base import Publisher
from engine.domain.fills import Fill
from engine.domain.market import MarketData, MarketState
from engine.domain.open_orders import CommittedPortfolio, OpenOrderBook
from engine.domain.portfolio import Portfolio
from engine.domain.risk import RiskEngine
from engine.events import Event, OrderResultReported, SignalGenerated
from engine.events.market_data import is_warmup
from engine.events.orders import OrderSide
from engine.services.base import RestoredRun, SeenEvents
from engine.storage.run_state import OpenOrder
from engine.streams import Stream


class RiskStage:
    """Decide on every signal against the portfolio risk keeps from fills and marks."""

    name: str = "risk"
    inputs: tuple[Stream, ...] = (Stream.MARKET_DATA, Stream.SIGNALS, Stream.ORDER_RESULTS)

    def __init__(
        self,
        engine: RiskEngine,
        portfolio: Portfolio,
        market: MarketState,
        publisher: Publisher,
        symbols: Sequence[str],
        *,
        restored: RestoredRun | None = None,
        open_orders: Sequence[OpenOrder] = (),
    ) -> None:
        self.engine = engine
        self._portfolio = portfolio
        self._market = market
        self._publisher = publisher
        self._symbols = list(symbols)
        self._seen = SeenEvents()
        self._open_orders = OpenOrderBook()
        for order in open_orders:  # a resumed run's: still committed until their results
            self._open_orders.restore(order.order_id, order.symbol, order.side, order.remaining)
        self._restored = restored or RestoredRun()

    def handle(self, events: Sequence[Event]) -> None:
        out: list[Event] = []
        for event in self._seen.fresh(events):
            if isinstance(event, MarketData):
                out += self._on_market_data(event)
            elif isinstance(event, SignalGenerated):
                out += self._on_signal(event)
            elif isinstance(event, OrderResultReported):
                self._open_orders.on_result(event)
                if event.is_fill:
                    self._catch_up(event.ts_event)
                    self._portfolio.apply_fill(Fill.from_result(event))
                    out += self.engine.check(self._portfolio, event.ts_event)
        if out:
            self._publisher.publish_many(out)

    def _on_signal(self, signal: SignalGenerated) -> list[Event]:
        # Orders approved but not yet filled count against the limits (and exits).
        view = CommittedPortfolio(
            self._portfolio, self._open_orders, self._market, exit=signal.side is OrderSide.SELL
        )
        outcome = self.engine.decide(signal, view, self._market, signal.ts_event)
        out: list[Event] = [outcome.decision]
        if outcome.order is not None:
            self._open_orders.on_order(outcome.order)
            out.append(outcome.order)
        return out + list(outcome.alerts)

    def on_tick(self, now: datetime) -> None:
        """Trip the circuit breaker when data stops arriving altogether (live runs)."""
        alerts = self.engine.check_market(self._market, self._symbols, now)
        if alerts:
            self._publisher.publish_many(alerts)

    def _catch_up(self, ts: datetime) -> None:
        for fill in self._restored.before(ts):
            self._portfolio.apply_fill(fill)

    def _on_market_data(self, event: MarketData) -> list[Event]:
        self._catch_up(event.ts_event)
        if not is_warmup(event.source) and (floors := self._restored.floors()) is not None:
            self._portfolio.raise_floors(*floors)
        self._market.apply(event)
        price = self._market.mark_price(event.symbol)
        if price is not None:
            self._portfolio.mark(event.symbol, price, event.ts_event)
        alerts: list[Event] = []
        alerts += self.engine.check_market(self._market, self._symbols, event.ts_event)
        alerts += self.engine.check(self._portfolio, event.ts_event)
        for fill in self._restored.through(event):  # as its result came the first time
            self._portfolio.apply_fill(fill)
            alerts += self.engine.check(self._portfolio, fill.ts)
        # History rebuilds the alert state; its alerts were raised (and sent) the first time.
        return [] if is_warmup(event.source) else alerts
