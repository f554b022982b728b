"""The trades a trader reads: round trips, open positions, PnL per symbol, fees, and the
line that shows every unit of PnL is accounted for.

Money is summed exactly (`exact`); averages and shares are divided in 28 digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.reports.metrics import (
    MATH,
    ZERO,
    FillRow,
    OpenLeg,
    RoundTrip,
    decimal_seconds,
    exact,
    split_fills,
)

#: A reconciliation difference this small is the rounding of stored amounts to 18 places
#: (a snapshot rounds cash and positions value once each); anything larger is a fault.
RECONCILE_TOLERANCE = Decimal("1e-12")
FEE_SHARE_BASIS = "closed round trips: their fees / |their PnL before fees|"


@dataclass(frozen=True)
class PositionRow:
    """One position of the final snapshot's `positions` JSON."""

    symbol: str
    quantity: Decimal
    average_price: Decimal
    market_price: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal

    @property
    def mark(self) -> Decimal:
        """The price the snapshot valued it at: its market price, else its average price."""
        return self.market_price if self.market_price is not None else self.average_price


@dataclass(frozen=True)
class FinalSnapshot:
    """The last snapshot of the run (what it ended with)."""

    ts: datetime
    equity: Decimal
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    positions: tuple[PositionRow, ...] = ()


@dataclass(frozen=True)
class OpenPosition:
    """A position still open at the end, with what it cost since it was last flat."""

    symbol: str
    opened: datetime | None
    quantity: Decimal
    average_price: Decimal
    mark: Decimal
    value: Decimal  # quantity x mark
    cost: Decimal  # net cash put in since last flat, fees included
    fees: Decimal  # fees paid since last flat
    pnl: Decimal  # value - cost
    realized_pnl: Decimal  # as the snapshot holds it (cumulative for the symbol)
    unrealized_pnl: Decimal  # as the snapshot holds it: (mark - average price) x quantity


@dataclass(frozen=True)
class SymbolPnl:
    """What one symbol made: its round trips, its open position, the total."""

    symbol: str
    round_trips: int
    round_trip_pnl: Decimal
    fees: Decimal  # every fee paid in the symbol
    open_pnl: Decimal
    total: Decimal


@dataclass(frozen=True)
class Reconciliation:
    """Σ round trips' net PnL + Σ open positions' PnL against final equity - capital."""

    round_trip_pnl: Decimal
    open_pnl: Decimal
    accounted: Decimal
    total_pnl: Decimal
    difference: Decimal
    reconciled: bool
    snapshot_realized: Decimal
    snapshot_unrealized: Decimal
    snapshot_difference: Decimal  # total - (realized + unrealized)


@dataclass
class TradeStats:
    """What the round trips and fills say."""

    fills: int
    round_trips: int
    open_positions: int
    wins: int
    losses: int
    break_even: int
    win_rate: Decimal | None  # wins / round trips
    profit_factor: Decimal | None
    expectancy: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    average_holding: timedelta | None
    trades_per_day: Decimal
    fees: Decimal  # every fill's fee
    round_trip_fees: Decimal
    open_fees: Decimal
    gross_pnl: Decimal  # of the round trips, before fees
    fee_share_of_gross: Decimal | None
    fee_share_basis: str
    net_pnl: Decimal  # of the round trips, after fees
    trips: list[RoundTrip] = field(default_factory=list)
    open: list[OpenPosition] = field(default_factory=list)
    by_symbol: list[SymbolPnl] = field(default_factory=list)
    reconciliation: Reconciliation | None = None


@exact
def trade_stats(
    fills: Sequence[FillRow],
    elapsed: timedelta,
    final: FinalSnapshot | None = None,
    initial_capital: Decimal | None = None,
) -> TradeStats:
    """Return the round trips and their statistics, the open positions at `final`, PnL per
    symbol, fees, and (with `final` and `initial_capital`) the reconciliation."""
    trips, legs = split_fills(fills)
    wins = [t.pnl for t in trips if t.pnl > 0]
    losses = [t.pnl for t in trips if t.pnl < 0]
    net = sum((t.pnl for t in trips), ZERO)
    trip_fees = sum((t.fees for t in trips), ZERO)
    gross = net + trip_fees
    opened = open_positions(final, legs)
    days = MATH.divide(decimal_seconds(max(elapsed, timedelta(minutes=1))), Decimal(86_400))
    count = Decimal(len(trips))
    return TradeStats(
        fills=len(fills),
        round_trips=len(trips),
        open_positions=len(opened) if final is not None else len(legs),
        wins=len(wins),
        losses=len(losses),
        break_even=len(trips) - len(wins) - len(losses),
        win_rate=MATH.divide(Decimal(len(wins)), count) if trips else None,
        profit_factor=MATH.divide(sum(wins, ZERO), -sum(losses, ZERO)) if losses else None,
        expectancy=MATH.divide(net, count) if trips else None,
        average_win=MATH.divide(sum(wins, ZERO), Decimal(len(wins))) if wins else None,
        average_loss=MATH.divide(sum(losses, ZERO), Decimal(len(losses))) if losses else None,
        average_holding=sum((t.holding for t in trips), timedelta()) / len(trips)
        if trips
        else None,
        trades_per_day=MATH.divide(Decimal(len(fills)), days),
        fees=sum((f.fee for f in fills), ZERO),
        round_trip_fees=trip_fees,
        open_fees=sum((leg.fees for leg in legs.values()), ZERO),
        gross_pnl=gross,
        fee_share_of_gross=MATH.divide(trip_fees, abs(gross)) if gross else None,
        fee_share_basis=FEE_SHARE_BASIS,
        net_pnl=net,
        trips=trips,
        open=opened,
        by_symbol=by_symbol(trips, legs, opened),
        reconciliation=None
        if final is None or initial_capital is None
        else reconcile(trips, opened, final, initial_capital),
    )


@exact
def open_positions(final: FinalSnapshot | None, legs: dict[str, OpenLeg]) -> list[OpenPosition]:
    """The final snapshot's positions, each with the cash and fees of its fills since the
    symbol was last flat (none when the snapshot holds a position no fill opened)."""
    if final is None:
        return []
    result = []
    for row in sorted(final.positions, key=lambda p: p.symbol):
        leg = legs.get(row.symbol)
        cost = -leg.cash if leg else ZERO
        value = row.quantity * row.mark
        result.append(
            OpenPosition(
                symbol=row.symbol,
                opened=leg.opened if leg else None,
                quantity=row.quantity,
                average_price=row.average_price,
                mark=row.mark,
                value=value,
                cost=cost,
                fees=leg.fees if leg else ZERO,
                pnl=value - cost,
                realized_pnl=row.realized_pnl,
                unrealized_pnl=row.unrealized_pnl,
            )
        )
    return result


@exact
def by_symbol(
    trips: Sequence[RoundTrip], legs: dict[str, OpenLeg], opened: Sequence[OpenPosition]
) -> list[SymbolPnl]:
    """Round trips, their net PnL, every fee, the open PnL and the total, per symbol."""
    open_by_symbol = {p.symbol: p for p in opened}
    symbols = sorted({t.symbol for t in trips} | set(legs) | set(open_by_symbol))
    rows = []
    for symbol in symbols:
        mine = [t for t in trips if t.symbol == symbol]
        pnl = sum((t.pnl for t in mine), ZERO)
        leg = legs.get(symbol)
        fees = sum((t.fees for t in mine), ZERO) + (leg.fees if leg else ZERO)
        held = open_by_symbol.get(symbol)
        open_pnl = held.pnl if held else ZERO
        rows.append(SymbolPnl(symbol, len(mine), pnl, fees, open_pnl, pnl + open_pnl))
    return rows


@exact
def reconcile(
    trips: Sequence[RoundTrip],
    opened: Sequence[OpenPosition],
    final: FinalSnapshot,
    initial_capital: Decimal,
) -> Reconciliation:
    """Check Σ round trips + Σ open positions' PnL = final equity - initial capital."""
    trip_pnl = sum((t.pnl for t in trips), ZERO)
    open_pnl = sum((p.pnl for p in opened), ZERO)
    total = final.equity - initial_capital
    difference = total - (trip_pnl + open_pnl)
    return Reconciliation(
        round_trip_pnl=trip_pnl,
        open_pnl=open_pnl,
        accounted=trip_pnl + open_pnl,
        total_pnl=total,
        difference=difference,
        reconciled=abs(difference) <= RECONCILE_TOLERANCE,
        snapshot_realized=final.realized_pnl,
        snapshot_unrealized=final.unrealized_pnl,
        snapshot_difference=total - (final.realized_pnl + final.unrealized_pnl),
    )
