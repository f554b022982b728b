"""The signal stage: market data through the strategy; fills tell it what it holds.

A strategy that raises never kills the run: the exception is logged with the strategy's
file and line, a warning alert says so, and the event is skipped (the strategy saw it; what
it would have signalled is lost). After `error_limit` exceptions in a row the strategy is
halted with a critical alert, and the run ends with that reason (`halt_reason`).
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial

from engine.bus.base import Publisher
from engine.domain.fills import DEFAULT_QUOTE_CURRENCY, Fill
from engine.domain.market import MarketData
from engine.domain.portfolio import Portfolio
from engine.events import (
    AlertLevel,
    AlertRaised,
    Candle,
    Event,
    OrderResultReported,
    QuoteTick,
    SignalGenerated,
)
from engine.events.envelope import stamped
from engine.events.market_data import is_warmup
from engine.services.base import RestoredRun, SeenEvents
from engine.strategy import Strategy
from engine.streams import Stream

log = logging.getLogger("engine.signal")

#: The `source` of the alerts about the strategy.
SOURCE = "engine.signal"
ERROR_CODE = "strategy_error"
HALT_CODE = "strategy_halted"
#: Strategy exceptions in a row that halt it, unless told otherwise.
DEFAULT_ERROR_LIMIT = 10
#: A stage built without the run's capital (a test's): what its cash starts from.
DEFAULT_CAPITAL = Decimal(100_000)


class _Holdings:
    """The strategy's read-only view of the run: its positions, cash and equity, built from
    fills and marked to the newest market price of each symbol (read when asked)."""

    def __init__(self, run_id: str | None, capital: Decimal, quote_currency: str) -> None:
        self._run_id = run_id
        self.portfolio = Portfolio(capital, quote_currency)
        #: Each symbol's newest market event: the mark, worked out only when equity is read.
        self.latest: dict[str, MarketData] = {}

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def position(self, symbol: str) -> tuple[Decimal, Decimal]:
        held = self.portfolio.position(symbol)
        return (held.quantity, held.average_price) if held else (Decimal(0), Decimal(0))

    @property
    def cash(self) -> Decimal:
        return self.portfolio.cash

    @property
    def equity(self) -> Decimal:
        for symbol, event in self.latest.items():
            price = _mark_of(event)
            if self.portfolio.quantity(symbol) and price != self.portfolio.mark_price(symbol):
                self.portfolio.mark(symbol, price, event.ts_event, track=False)
        return self.portfolio.equity


def _mark_of(event: MarketData) -> Decimal:
    """What `event` values a holding at: a candle's close, a trade's price, a quote's mid."""
    if isinstance(event, Candle):
        return event.close
    if isinstance(event, QuoteTick):
        return (event.bid_price + event.ask_price) / 2
    return event.price


class SignalStage:
    """Ask the strategy what each market event means; publish its signals."""

    name: str = "signal"
    inputs: tuple[Stream, ...] = (Stream.MARKET_DATA, Stream.ORDER_RESULTS)

    def __init__(
        self,
        strategy: Strategy,
        publisher: Publisher,
        run_id: str | None,
        *,
        error_limit: int = DEFAULT_ERROR_LIMIT,
        capital: Decimal = DEFAULT_CAPITAL,
        quote_currency: str = DEFAULT_QUOTE_CURRENCY,
    ) -> None:
        self._strategy = strategy
        self._publisher = publisher
        self._run_id = run_id
        self._holdings = _Holdings(run_id, capital, quote_currency)
        self._seen = SeenEvents()
        self._restored = RestoredRun()
        self._error_limit = error_limit
        self._errors_in_a_row = 0
        self._alerts: list[Event] = []
        #: The strategy's exceptions so far, and why it was halted (None: it runs).
        self.errors = 0
        self.halt_reason: str | None = None

    @property
    def strategy(self) -> Strategy:
        """The strategy this stage asks."""
        return self._strategy

    def handle(self, events: Sequence[Event]) -> None:
        signals: list[Event] = []
        for event in self._seen.fresh(events):
            if isinstance(event, MarketData):
                for fill in self._restored.before(event.ts_event):
                    self._on_fill(fill)
                self._holdings.latest[event.symbol] = event
                produced = self._ask(
                    partial(self._strategy.on_market_data, event, self._holdings), event
                )
                if not is_warmup(event.source):  # history warms the strategy, never trades
                    signals += produced
                for fill in self._restored.through(event):
                    self._on_fill(fill)
            elif isinstance(event, OrderResultReported) and event.is_fill:
                for fill in self._restored.before(event.ts_event):
                    self._on_fill(fill)
                self._on_fill(Fill.from_result(event))
        signals += self._alerts
        self._alerts = []
        if signals:
            self._publisher.publish_many(signals)

    def on_tick(self, now: datetime) -> None:
        """Strategies here act on market data only."""

    def restore(self, fills: Sequence[Fill]) -> None:
        """Take a resumed run's stored fills, applied as the market moves past each."""
        self._restored = RestoredRun(fills)

    def _on_fill(self, fill: Fill) -> None:
        if self._holdings.portfolio.apply_fill(fill, track=False):
            self._ask(
                partial(
                    self._strategy.on_fill,
                    fill.symbol,
                    fill.side,
                    fill.quantity,
                    fill.price,
                    fill.ts,
                ),
                fill,
            )

    def _ask(
        self, call: Callable[[], list[SignalGenerated] | None], subject: MarketData | Fill
    ) -> list[SignalGenerated]:
        """The strategy's answer to `call` about `subject`; [] when it is halted or raises
        (then alerted)."""
        if self.halt_reason is not None:
            return []
        try:
            answer = call()
        except Exception as exc:
            self._failed(exc, subject)
            return []
        if not isinstance(subject, Fill):  # "in a row" counts market events answered
            self._errors_in_a_row = 0
        return answer or []

    def _failed(self, exc: Exception, subject: MarketData | Fill) -> None:
        if isinstance(subject, Fill):
            at, key = subject.ts, subject.trade_id
            what = f"the fill {subject.trade_id} of {subject.symbol}"
        else:
            at, key = subject.ts_event, subject.event_id
            what = f"{subject.symbol} at {subject.ts_event.isoformat()}"
        self.errors += 1
        self._errors_in_a_row += 1
        name = self._strategy.name
        said = f"strategy {name} raised {type(exc).__name__}: {exc} at {self._where(exc)} on {what}"
        log.error("%s; the event is skipped", said, exc_info=exc)
        self._alerts.append(
            self._alert(ERROR_CODE, key, at, AlertLevel.WARNING, f"{said}; the event is skipped")
        )
        if self._errors_in_a_row >= self._error_limit:
            self.halt_reason = (
                f"strategy {name} halted after {self._errors_in_a_row} exceptions in a row"
                f" (the last: {type(exc).__name__}: {exc} at {self._where(exc)})"
            )
            log.critical("%s", self.halt_reason)
            self._alerts.append(
                self._alert(HALT_CODE, key, at, AlertLevel.CRITICAL, self.halt_reason)
            )

    def _alert(
        self, code: str, key: str, at: datetime, level: AlertLevel, message: str
    ) -> AlertRaised:
        return AlertRaised(
            **stamped(f"alert-{self._run_id}-{code}-{key}", at, SOURCE, self._run_id),
            level=level,
            code=code,
            message=message[:2000],
        )

    def _where(self, exc: Exception) -> str:
        """The strategy's file and line the exception came from (else its innermost frame)."""
        frames = traceback.extract_tb(exc.__traceback__)
        try:
            source = inspect.getsourcefile(type(self._strategy))
        except TypeError:
            source = None
        mine = [frame for frame in frames if frame.filename == source]
        frame = (mine or frames)[-1] if frames else None
        return f"{frame.filename}:{frame.lineno}" if frame else "?"
