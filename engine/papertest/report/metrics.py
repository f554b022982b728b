"""The figures of a papertest report, computed from its stored snapshots and fills.

Pure: rows in, figures out, `Decimal` throughout (square roots in a 28-digit context).
Returns are taken at one-minute steps of event time (the last equity of each minute) and
annualised with 525,600 minutes a year; the risk-free rate is 0.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Context, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
MINUTES_PER_YEAR = Decimal(525_600)
YEAR = timedelta(days=365)
_MATH = Context(prec=28)


@dataclass(frozen=True)
class EquityPoint:
    """One stored snapshot, as the report needs it."""

    ts: datetime
    equity: Decimal
    cash: Decimal
    exposure_pct: Decimal


@dataclass(frozen=True)
class FillRow:
    """One row of `trades`."""

    ts: datetime
    symbol: str
    side: str  # buy | sell
    quantity: Decimal
    price: Decimal
    fee: Decimal
    slippage_bps: Decimal | None
    order_id: str


@dataclass(frozen=True)
class RoundTrip:
    """A position opened from flat and closed back to flat."""

    symbol: str
    opened: datetime
    closed: datetime
    pnl: Decimal  # after every fee of the trip
    fees: Decimal

    @property
    def holding(self) -> timedelta:
        return self.closed - self.opened


@dataclass
class Performance:
    """Returns, risk-adjusted ratios, drawdown."""

    initial_capital: Decimal
    final_equity: Decimal
    total_return: Decimal
    annualised_return: Decimal | None
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    max_drawdown: Decimal
    max_drawdown_duration: timedelta
    time_in_market: Decimal
    elapsed: timedelta


@dataclass
class TradeStats:
    """What the round trips and fills say."""

    fills: int
    round_trips: int
    open_positions: int
    win_rate: Decimal | None
    profit_factor: Decimal | None
    expectancy: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    average_holding: timedelta | None
    trades_per_day: Decimal
    fees: Decimal
    gross_pnl: Decimal
    fee_share_of_gross: Decimal | None
    net_pnl: Decimal


@dataclass
class ExecutionStats:
    """How orders were filled."""

    orders: int
    filled_orders: int
    partial_fills: int
    fill_ratio: Decimal | None
    slippage_bps: dict[str, Decimal | None] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)


def minute_equity(points: Sequence[EquityPoint]) -> list[EquityPoint]:
    """Keep the last snapshot of each minute of event time, in order."""
    by_minute: dict[datetime, EquityPoint] = {}
    for point in points:
        by_minute[point.ts.replace(second=0, microsecond=0)] = point
    return [by_minute[minute] for minute in sorted(by_minute)]


def minute_returns(points: Sequence[EquityPoint]) -> list[Decimal]:
    series = minute_equity(points)
    return [
        _MATH.divide(b.equity, a.equity) - ONE
        for a, b in itertools.pairwise(series)
        if a.equity > 0
    ]


def performance(points: Sequence[EquityPoint], initial_capital: Decimal) -> Performance:
    """Return the performance figures of an equity curve that starts at `initial_capital`."""
    final = points[-1].equity if points else initial_capital
    total = _MATH.divide(final, initial_capital) - ONE
    elapsed = points[-1].ts - points[0].ts if len(points) > 1 else timedelta()
    returns = minute_returns(points)
    drawdown, duration = max_drawdown(points, initial_capital)
    annual = _annualised(total, elapsed)
    return Performance(
        initial_capital=initial_capital,
        final_equity=final,
        total_return=total,
        annualised_return=annual,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        calmar=_MATH.divide(annual, drawdown) if annual is not None and drawdown > 0 else None,
        max_drawdown=drawdown,
        max_drawdown_duration=duration,
        time_in_market=time_in_market(points),
        elapsed=elapsed,
    )


def _annualised(total: Decimal, elapsed: timedelta) -> Decimal | None:
    """Compound `total` over a year; None for runs under a day (the figure would be noise)."""
    if elapsed < timedelta(days=1) or total <= -ONE:
        return None
    years = Decimal(elapsed.total_seconds()) / Decimal(YEAR.total_seconds())
    growth = _MATH.power(ONE + total, _MATH.divide(ONE, years))
    return growth - ONE


def sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    """Mean over standard deviation of minute returns, annualised; None without variation."""
    if len(returns) < 2:
        return None
    mean = _MATH.divide(sum(returns, ZERO), Decimal(len(returns)))
    deviation = statistics.stdev(returns)
    if deviation == 0:
        return None
    return _MATH.multiply(_MATH.divide(mean, deviation), MINUTES_PER_YEAR.sqrt(_MATH))


def sortino(returns: Sequence[Decimal]) -> Decimal | None:
    """Mean over downside deviation (root mean square of losses), annualised."""
    if len(returns) < 2:
        return None
    mean = _MATH.divide(sum(returns, ZERO), Decimal(len(returns)))
    squares = sum((r * r for r in returns if r < 0), ZERO)
    downside = _MATH.divide(squares, Decimal(len(returns))).sqrt(_MATH)
    if downside == 0:
        return None
    return _MATH.multiply(_MATH.divide(mean, downside), MINUTES_PER_YEAR.sqrt(_MATH))


def max_drawdown(
    points: Sequence[EquityPoint], initial_capital: Decimal
) -> tuple[Decimal, timedelta]:
    """Return the deepest fall from a peak (a fraction) and the longest time under water.

    Time under water runs from a peak until equity is back at it (or to the end of the run).
    """
    if not points:
        return ZERO, timedelta()
    peak, peak_at, under = initial_capital, points[0].ts, False
    worst, longest = ZERO, timedelta()
    for point in points:
        if point.equity >= peak:
            if under:
                longest = max(longest, point.ts - peak_at)
            peak, peak_at, under = point.equity, point.ts, False
            continue
        under = True
        worst = max(worst, _MATH.divide(peak - point.equity, peak))
    if under:
        longest = max(longest, points[-1].ts - peak_at)
    return worst, longest


def time_in_market(points: Sequence[EquityPoint]) -> Decimal:
    """Return the share of the run's time with something held (time-weighted)."""
    total = held = timedelta()
    for a, b in itertools.pairwise(points):
        step = b.ts - a.ts
        total += step
        if a.exposure_pct > 0:
            held += step
    if total <= timedelta():
        return ZERO
    return _MATH.divide(Decimal(held.total_seconds()), Decimal(total.total_seconds()))


def round_trips(fills: Sequence[FillRow]) -> tuple[list[RoundTrip], int]:
    """Pair fills into flat-to-flat round trips per symbol; also return how many stay open."""
    open_: dict[str, tuple[datetime, Decimal, Decimal, Decimal]] = {}  # opened, qty, cash, fees
    trips: list[RoundTrip] = []
    for fill in sorted(fills, key=lambda f: f.ts):
        opened, quantity, cash, fees = open_.get(fill.symbol, (fill.ts, ZERO, ZERO, ZERO))
        notional = fill.quantity * fill.price
        if fill.side == "buy":
            quantity, cash = quantity + fill.quantity, cash - notional - fill.fee
        else:
            quantity, cash = quantity - fill.quantity, cash + notional - fill.fee
        fees += fill.fee
        if quantity <= 0:
            trips.append(RoundTrip(fill.symbol, opened, fill.ts, cash, fees))
            open_.pop(fill.symbol, None)
        else:
            open_[fill.symbol] = (opened, quantity, cash, fees)
    return trips, len(open_)


def trade_stats(fills: Sequence[FillRow], elapsed: timedelta) -> TradeStats:
    """Return win rate, profit factor, expectancy, holding time and fees."""
    trips, still_open = round_trips(fills)
    wins = [t.pnl for t in trips if t.pnl > 0]
    losses = [t.pnl for t in trips if t.pnl <= 0]
    fees = sum((f.fee for f in fills), ZERO)
    net = sum((t.pnl for t in trips), ZERO)
    gross = net + sum((t.fees for t in trips), ZERO)
    days = Decimal(max(elapsed, timedelta(minutes=1)).total_seconds()) / Decimal(86_400)
    count = Decimal(len(trips))
    return TradeStats(
        fills=len(fills),
        round_trips=len(trips),
        open_positions=still_open,
        win_rate=_MATH.divide(Decimal(len(wins)), count) if trips else None,
        profit_factor=_MATH.divide(sum(wins, ZERO), -sum(losses, ZERO))
        if losses and sum(losses, ZERO) < 0
        else None,
        expectancy=_MATH.divide(net, count) if trips else None,
        average_win=_MATH.divide(sum(wins, ZERO), Decimal(len(wins))) if wins else None,
        average_loss=_MATH.divide(sum(losses, ZERO), Decimal(len(losses))) if losses else None,
        average_holding=sum((t.holding for t in trips), timedelta()) / len(trips)
        if trips
        else None,
        trades_per_day=_MATH.divide(Decimal(len(fills)), days),
        fees=fees,
        gross_pnl=gross,
        fee_share_of_gross=_MATH.divide(sum((t.fees for t in trips), ZERO), abs(gross))
        if gross
        else None,
        net_pnl=net,
    )


def execution_stats(
    fills: Sequence[FillRow], order_statuses: Sequence[str], rejection_reasons: Sequence[str]
) -> ExecutionStats:
    """Return fill ratio, partial fills, slippage distribution and rejections by reason."""
    slippage = sorted(f.slippage_bps for f in fills if f.slippage_bps is not None)
    filled = sum(1 for s in order_statuses if s in ("filled", "partially_filled"))
    return ExecutionStats(
        orders=len(order_statuses),
        filled_orders=filled,
        partial_fills=sum(1 for s in order_statuses if s == "partially_filled"),
        fill_ratio=_MATH.divide(Decimal(filled), Decimal(len(order_statuses)))
        if order_statuses
        else None,
        slippage_bps={
            "min": slippage[0] if slippage else None,
            "p50": _percentile(slippage, 50),
            "p90": _percentile(slippage, 90),
            "p99": _percentile(slippage, 99),
            "max": slippage[-1] if slippage else None,
            "mean": _MATH.divide(sum(slippage, ZERO), Decimal(len(slippage))) if slippage else None,
        },
        rejections=dict(sorted(Counter(rejection_reasons).items())),
    )


def _percentile(ordered: Sequence[Decimal], pct: int) -> Decimal | None:
    """Nearest-rank percentile of an ordered list."""
    if not ordered:
        return None
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


def buy_and_hold(
    closes: dict[str, list[tuple[datetime, Decimal]]],
    capital: Decimal,
    times: Sequence[datetime],
) -> list[Decimal | None]:
    """Value at each of `times` of `capital` split equally over the symbols at their first
    close and held (no fees): the benchmark of the equity curve. None before any close."""
    symbols = [s for s in sorted(closes) if closes[s]]
    if not symbols:
        return [None for _ in times]
    share = _MATH.divide(capital, Decimal(len(symbols)))
    quantities = {s: _MATH.divide(share, closes[s][0][1]) for s in symbols}
    cursor = dict.fromkeys(symbols, 0)
    latest: dict[str, Decimal] = {}
    values: list[Decimal | None] = []
    for at in times:
        for symbol in symbols:
            series = closes[symbol]
            while cursor[symbol] < len(series) and series[cursor[symbol]][0] <= at:
                latest[symbol] = series[cursor[symbol]][1]
                cursor[symbol] += 1
        if len(latest) < len(symbols):
            values.append(None)
            continue
        values.append(sum((quantities[s] * latest[s] for s in symbols), ZERO))
    return values
