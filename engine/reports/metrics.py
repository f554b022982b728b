"""The rows a report is computed from, and the figures every part of it shares.

Pure: rows in, figures out. Money (equity, cash, prices, quantities, fees, PnL) is `Decimal`
and summed exactly (`exact`: a context wide enough that no sum or product of stored
amounts rounds); a ratio is divided in `MATH`, 28 significant digits.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Context, Decimal

from engine.domain.drawdown import deepest_fall
from engine.domain.positions import exact

__all__ = [
    "MATH",
    "ONE",
    "ZERO",
    "BuyAndHold",
    "EquityPoint",
    "FillRow",
    "OpenLeg",
    "RoundTrip",
    "buy_and_hold",
    "decimal_seconds",
    "exact",
    "max_drawdown",
    "percentile",
    "round_trips",
    "split_fills",
    "time_in_market",
]

ZERO = Decimal(0)
ONE = Decimal(1)
#: Ratios (returns, shares, bps, averages): 28 significant digits.
MATH = Context(prec=28)


@dataclass(frozen=True)
class EquityPoint:
    """One stored snapshot, as the report needs it."""

    ts: datetime
    equity: Decimal
    cash: Decimal
    exposure_pct: Decimal
    #: The largest quantity x mark of one position (the mark: market_price, else the average
    #: price), in the quote currency; 0 when flat.
    largest_position: Decimal = ZERO


@dataclass(frozen=True)
class FillRow:
    """One row of `trades`."""

    ts: datetime
    symbol: str
    side: str  # buy | sell
    quantity: Decimal
    price: Decimal  # execution price, slippage included
    fee: Decimal
    slippage_bps: Decimal | None
    order_id: str
    #: The arrival price: the first market price observable after decision + latency.
    reference_price: Decimal | None = None
    trade_id: str = ""


@dataclass(frozen=True)
class RoundTrip:
    """A position opened from flat and closed back to flat, in one symbol."""

    symbol: str
    opened: datetime  # the first fill's time
    closed: datetime  # the fill that made it flat
    pnl: Decimal  # cash out - cash in, every fee of the trip included
    fees: Decimal
    quantity: Decimal = ZERO  # bought over the trip
    entry_price: Decimal = ZERO  # Σ quantity x price of the buys / Σ their quantity
    exit_price: Decimal = ZERO  # the same over the sells

    @property
    def holding(self) -> timedelta:
        return self.closed - self.opened

    @property
    def gross_pnl(self) -> Decimal:
        return self.pnl + self.fees


@dataclass
class OpenLeg:
    """What was done in one symbol since it was last flat (a trip not closed yet)."""

    symbol: str
    opened: datetime
    quantity: Decimal = ZERO
    cash: Decimal = ZERO  # cash received - cash paid, fees included (negative: put in)
    fees: Decimal = ZERO
    bought: Decimal = ZERO
    bought_value: Decimal = ZERO
    sold: Decimal = ZERO
    sold_value: Decimal = ZERO

    @exact
    def add(self, fill: FillRow) -> None:
        notional = fill.quantity * fill.price
        if fill.side == "buy":
            self.quantity += fill.quantity
            self.cash -= notional + fill.fee
            self.bought += fill.quantity
            self.bought_value += notional
        else:
            self.quantity -= fill.quantity
            self.cash += notional - fill.fee
            self.sold += fill.quantity
            self.sold_value += notional
        self.fees += fill.fee

    def close(self, at: datetime) -> RoundTrip:
        return RoundTrip(
            self.symbol,
            self.opened,
            at,
            self.cash,
            self.fees,
            self.bought,
            MATH.divide(self.bought_value, self.bought) if self.bought else ZERO,
            MATH.divide(self.sold_value, self.sold) if self.sold else ZERO,
        )


def split_fills(fills: Sequence[FillRow]) -> tuple[list[RoundTrip], dict[str, OpenLeg]]:
    """Pair fills (in time order) into flat-to-flat round trips per symbol; also return what
    is still open, by symbol."""
    legs: dict[str, OpenLeg] = {}
    trips: list[RoundTrip] = []
    for fill in sorted(fills, key=lambda f: f.ts):
        leg = legs.setdefault(fill.symbol, OpenLeg(fill.symbol, fill.ts))
        leg.add(fill)
        if leg.quantity <= 0:
            trips.append(leg.close(fill.ts))
            del legs[fill.symbol]
    return trips, legs


def round_trips(fills: Sequence[FillRow]) -> tuple[list[RoundTrip], int]:
    """Pair fills into flat-to-flat round trips per symbol; also return how many stay open."""
    trips, legs = split_fills(fills)
    return trips, len(legs)


def max_drawdown(
    points: Sequence[EquityPoint], initial_capital: Decimal
) -> tuple[Decimal, timedelta]:
    """Return the deepest fall of the equity curve from a peak (a fraction) and the longest
    time under water (`engine.domain.drawdown`; the peak starts at the initial capital)."""
    return deepest_fall(((point.ts, point.equity) for point in points), initial_capital)


def time_in_market(points: Sequence[EquityPoint]) -> Decimal:
    """Return the share of the run's time with something held (time-weighted: a snapshot's
    exposure holds until the next snapshot)."""
    total = held = timedelta()
    for a, b in itertools.pairwise(points):
        step = b.ts - a.ts
        total += step
        if a.exposure_pct > 0:
            held += step
    if total <= timedelta():
        return ZERO
    return MATH.divide(decimal_seconds(held), decimal_seconds(total))


def decimal_seconds(span: timedelta) -> Decimal:
    """Return the seconds of `span` exactly (microseconds included)."""
    return Decimal(span // timedelta(microseconds=1)).scaleb(-6)


def percentile(ordered: Sequence[Decimal], pct: int) -> Decimal | None:
    """Nearest-rank percentile of an ordered list: the value at rank ceil(pct/100 x n)."""
    if not ordered:
        return None
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


@dataclass
class BuyAndHold:
    """The capital split equally over the symbols, bought at the first candle's open of the
    run and held (no fees, no slippage)."""

    start: dict[str, tuple[datetime, Decimal]] = field(default_factory=dict)  # open time, open
    quantities: dict[str, Decimal] = field(default_factory=dict)
    values: list[Decimal | None] = field(default_factory=list)  # at each snapshot time
    final_value: Decimal | None = None
    total_return: Decimal | None = None


def buy_and_hold(
    opens: dict[str, tuple[datetime, Decimal]],
    closes: dict[str, list[tuple[datetime, Decimal]]],
    capital: Decimal,
    times: Sequence[datetime],
) -> BuyAndHold:
    """Value `capital / n` of each symbol bought at its first open, at each of `times` (each
    symbol at its latest close by then, at its open before its first close; None before
    every symbol has opened) and at the end (the last close of each)."""
    symbols = sorted(opens)
    if not symbols:
        return BuyAndHold(values=[None for _ in times])
    share = MATH.divide(capital, Decimal(len(symbols)))
    quantities = {s: MATH.divide(share, opens[s][1]) for s in symbols}
    cursor = dict.fromkeys(symbols, 0)
    latest: dict[str, Decimal] = {}
    values: list[Decimal | None] = []
    for at in times:
        for symbol in symbols:
            series = closes.get(symbol, [])
            while cursor[symbol] < len(series) and series[cursor[symbol]][0] <= at:
                latest[symbol] = series[cursor[symbol]][1]
                cursor[symbol] += 1
            if symbol not in latest and opens[symbol][0] <= at:
                latest[symbol] = opens[symbol][1]
        values.append(_value(quantities, latest) if len(latest) == len(symbols) else None)
    last = {s: (closes[s][-1][1] if closes.get(s) else opens[s][1]) for s in symbols}
    final = _value(quantities, last)
    return BuyAndHold(dict(opens), quantities, values, final, MATH.divide(final, capital) - ONE)


@exact
def _value(quantities: dict[str, Decimal], prices: dict[str, Decimal]) -> Decimal:
    return sum((quantities[s] * prices[s] for s in quantities), ZERO)
