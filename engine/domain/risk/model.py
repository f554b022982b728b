"""Risk's vocabulary: reason codes, alert codes, what it reads and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from engine.events import AlertRaised, OrderSubmitted, RiskDecided


class RiskReason(StrEnum):
    """The reason code of every risk decision (stable: stored, counted in metrics)."""

    APPROVED = "approved"
    APPROVED_EXIT = "approved_exit"
    KILL_SWITCH = "kill_switch"
    HALTED = "halted"
    DAILY_DRAWDOWN = "daily_drawdown"
    NO_MARKET_PRICE = "no_market_price"
    STALE_MARKET_DATA = "stale_market_data"
    NO_EQUITY = "no_equity"
    MAX_POSITION = "max_position"
    MAX_EXPOSURE = "max_exposure"
    MIN_NOTIONAL = "min_notional"
    NOTHING_TO_SELL = "nothing_to_sell"


class RiskAlertCode(StrEnum):
    """The `code` of the alerts risk raises."""

    DRAWDOWN = "drawdown"
    ABORT_DRAWDOWN = "abort_drawdown"
    DAILY_DRAWDOWN = "daily_drawdown"
    MARKET_DATA_STALE = "market_data_stale"


class PortfolioView(Protocol):
    """What risk reads from the portfolio; amounts in the quote currency, drawdowns fractions."""

    @property
    def equity(self) -> Decimal: ...

    @property
    def exposure(self) -> Decimal:
        """Return the sum of |quantity x mark| over positions, in the quote currency."""
        ...

    @property
    def daily_drawdown(self) -> Decimal: ...

    @property
    def max_drawdown(self) -> Decimal: ...

    def quantity(self, symbol: str) -> Decimal:
        """Return the base units held of `symbol` (0 when flat)."""
        ...


@dataclass
class RiskState:
    """What risk remembers between calls; hand it back to `RiskEngine(state=...)` on restart."""

    halt_reason: str | None = None
    kill_switch_reason: str | None = None
    #: The UTC day on which the daily drawdown limit was hit (entries blocked that day).
    daily_limit_day: date | None = None
    drawdown_alerted: bool = False
    stale_symbols: set[str] = field(default_factory=set)
    #: Event time of the first check: a symbol never seen counts as stale `stale_after` later.
    watching_since: datetime | None = None


@dataclass(frozen=True)
class RiskOutcome:
    """One decision: the `RiskDecided` event, its order when approved, and any new alerts."""

    decision: RiskDecided
    order: OrderSubmitted | None = None
    alerts: tuple[AlertRaised, ...] = ()

    @property
    def approved(self) -> bool:
        return self.decision.approved

    @property
    def reason_code(self) -> str:
        return self.decision.reason_code
