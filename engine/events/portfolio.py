"""The portfolio snapshot event: cash, equity, PnL, exposure, drawdown and positions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.events.envelope import EventEnvelope
from engine.events.fields import (
    NonNegativeDecimal,
    PositiveDecimal,
    SignedDecimal,
    Symbol,
    rule_error,
)


class PositionSnapshot(BaseModel):
    """One position as it stood when the snapshot was taken (spot: long or flat)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol
    #: Base-asset units held.
    quantity: NonNegativeDecimal
    average_price: NonNegativeDecimal
    #: The latest price the position was marked at; absent when none was known.
    market_price: PositiveDecimal | None = None
    realized_pnl: SignedDecimal = Decimal(0)
    unrealized_pnl: SignedDecimal = Decimal(0)


class PortfolioSnapshotTaken(EventEnvelope):
    """The portfolio at `ts_event`, in the quote currency (USDT).

    `exposure` is the market value of the open positions; `daily_drawdown` and
    `max_drawdown` are fractions of peak equity (0.05 is 5 %).
    """

    type: Literal["portfolio_snapshot"] = "portfolio_snapshot"
    cash: SignedDecimal
    equity: SignedDecimal
    #: Sum of quantity x mark of the open positions (equity = cash + positions_value).
    positions_value: SignedDecimal
    realized_pnl: SignedDecimal
    unrealized_pnl: SignedDecimal
    exposure: NonNegativeDecimal
    #: exposure / equity, a fraction (0 when equity is not positive).
    exposure_pct: NonNegativeDecimal
    daily_drawdown: NonNegativeDecimal
    max_drawdown: NonNegativeDecimal
    positions: tuple[PositionSnapshot, ...] = ()
    #: The snapshot's number within its run: orders snapshots that share a timestamp.
    sequence: int = Field(default=0, ge=0, strict=True)

    @field_validator("positions")
    @classmethod
    def _one_position_per_symbol(
        cls, value: tuple[PositionSnapshot, ...]
    ) -> tuple[PositionSnapshot, ...]:
        symbols = [position.symbol for position in value]
        repeated = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
        if repeated:
            raise rule_error(f"must hold one position per symbol (repeated: {', '.join(repeated)})")
        return value

    @property
    def timestamp(self) -> datetime:
        """Return when the snapshot was taken (the `timestamp` column of the table)."""
        return self.ts_event
