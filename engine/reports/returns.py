"""Returns and what they are worth: daily returns, Sharpe, Sortino, PSR, bootstrap intervals.

Daily returns, UTC days: the equity of a day is that of its last snapshot, a day without a
snapshot carries the previous day's, and the series starts at the initial capital. A day
ends at midnight inclusive: the snapshot of the candle that closes at 00:00:00 is the last
of the day before (so a run from midnight to midnight has whole days, no empty last one).
Sharpe and Sortino are annualised with √365 (crypto trades every day), risk-free rate 0.
They, the returns and the annualised return are `Decimal` (28 significant digits). The
probabilistic Sharpe ratio (normal CDF, skewness, kurtosis) and the bootstrap use float
internally: they are estimates, shown rounded to `SHOWN_PLACES` places.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np

from engine.durations import format_duration
from engine.reports.metrics import (
    MATH,
    ONE,
    ZERO,
    EquityPoint,
    decimal_seconds,
    exact,
    max_drawdown,
    time_in_market,
)

DAYS_PER_YEAR = 365
DAY = timedelta(days=1)
#: Places the float estimates (PSR, moments, bootstrap bounds) are rounded to.
SHOWN_PLACES = 6
CONFIDENCE = 0.95


@dataclass(frozen=True)
class DailyReturn:
    """One UTC day of the run."""

    day: date
    equity: Decimal  # of the day's last snapshot, or carried from the day before
    value: Decimal  # equity / the previous day's equity - 1 (the first: / initial capital)
    snapshots: int
    covered: timedelta  # the part of the day inside the run
    partial: bool  # covered < 24 h


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile confidence interval around a point estimate."""

    estimate: Decimal
    low: Decimal
    high: Decimal
    samples: int  # the values resampled (round trips or days)


@dataclass
class Bootstrap:
    """Percentile intervals of the mean round-trip PnL and of the compounded total return."""

    resamples: int
    confidence: float
    mean_round_trip_pnl: Interval | None
    total_return: Interval | None
    seeds: dict[str, int] = field(default_factory=dict)


@dataclass
class Performance:
    """Returns, risk-adjusted ratios on daily returns, drawdown."""

    initial_capital: Decimal
    final_equity: Decimal
    total_pnl: Decimal
    total_return: Decimal
    annualised_return: Decimal | None
    annualised_note: str | None  # why there is none
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    psr: Decimal | None
    skewness: Decimal | None
    kurtosis: Decimal | None
    daily_mean: Decimal | None
    daily_stdev: Decimal | None
    basis: str
    max_drawdown: Decimal
    max_drawdown_duration: timedelta
    time_in_market: Decimal
    elapsed: timedelta  # how much event time the run covers
    daily: list[DailyReturn] = field(default_factory=list)
    bootstrap: Bootstrap | None = None

    @property
    def partial_days(self) -> list[date]:
        return [d.day for d in self.daily if d.partial]


def run_coverage(
    points: Sequence[EquityPoint], event_start: datetime | None, event_end: datetime | None
) -> timedelta:
    """How much event time the run covers: from event_start (else the first snapshot) to
    event_end (else, for a run still going, the last snapshot)."""
    start = event_start if event_start is not None else points[0].ts if points else None
    end = event_end if event_end is not None else points[-1].ts if points else None
    if start is None or end is None or end <= start:
        return timedelta()
    return end - start


def day_of(at: datetime) -> date:
    """The UTC day an instant closes: midnight belongs to the day before."""
    return (at.astimezone(UTC) - timedelta(microseconds=1)).date()


def daily_returns(
    points: Sequence[EquityPoint],
    initial_capital: Decimal,
    event_start: datetime | None = None,
    event_end: datetime | None = None,
) -> list[DailyReturn]:
    """Return one entry per UTC date from the run's first to its last (the run: from the
    earlier of event_start and the first snapshot to the later of event_end and the last)."""
    if not points:
        return []
    start = min(t for t in (event_start, points[0].ts) if t is not None)
    end = max(t for t in (event_end, points[-1].ts) if t is not None)
    first_day = start.astimezone(UTC).date()
    last_of_day: dict[date, Decimal] = {}
    counts: dict[date, int] = {}
    for point in points:
        day = max(first_day, day_of(point.ts))
        last_of_day[day] = point.equity
        counts[day] = counts.get(day, 0) + 1
    days: list[DailyReturn] = []
    previous = initial_capital
    day = first_day
    while day <= max(first_day, day_of(end)):
        midnight = datetime.combine(day, time(), UTC)
        covered = min(end, midnight + DAY) - max(start, midnight)
        equity = last_of_day.get(day, previous)
        value = MATH.subtract(MATH.divide(equity, previous), ONE) if previous > 0 else ZERO
        days.append(DailyReturn(day, equity, value, counts.get(day, 0), covered, covered < DAY))
        previous = equity
        day += DAY
    return days


def sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    """Mean over sample standard deviation of daily returns, x √365; None under 2 returns
    or without variation."""
    daily = daily_sharpe(returns)
    return None if daily is None else MATH.multiply(daily, Decimal(DAYS_PER_YEAR).sqrt(MATH))


def daily_sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    """Mean over sample standard deviation, not annualised."""
    if len(returns) < 2:
        return None
    deviation = statistics.stdev(returns)
    if deviation == 0:
        return None
    return MATH.divide(_mean(returns), deviation)


def sortino(returns: Sequence[Decimal]) -> Decimal | None:
    """Mean over downside deviation sqrt(Σ min(r, 0)² / n), x √365; None under 2 returns or
    without a losing day."""
    if len(returns) < 2:
        return None
    squares = sum((MATH.multiply(r, r) for r in returns if r < 0), ZERO)
    downside = MATH.divide(squares, Decimal(len(returns))).sqrt(MATH)
    if downside == 0:
        return None
    ratio = MATH.divide(_mean(returns), downside)
    return MATH.multiply(ratio, Decimal(DAYS_PER_YEAR).sqrt(MATH))


def moments(returns: Sequence[Decimal]) -> tuple[float, float] | None:
    """Population skewness and kurtosis (not excess: normal is 3); None without variation."""
    values = [float(r) for r in returns]
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    m2, m3, m4 = (math.fsum((v - mean) ** k for v in values) / len(values) for k in (2, 3, 4))
    if m2 <= 0:
        return None
    return m3 / m2**1.5, m4 / m2**2


def probabilistic_sharpe(returns: Sequence[Decimal]) -> float | None:
    """PSR against 0 (Bailey & López de Prado): Φ(SR √(n-1) / √(1 - g3 SR + (g4-1)/4 SR²)),
    SR the daily Sharpe (sample stdev), g3 and g4 the population skewness and kurtosis.
    None under 3 returns, without variation, or when the root's argument is not positive."""
    n = len(returns)
    ratio = daily_sharpe(returns)
    shape = moments(returns)
    if n < 3 or ratio is None or shape is None:
        return None
    sr, (skew, kurt) = float(ratio), shape
    argument = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if argument <= 0:
        return None
    z = sr * math.sqrt(n - 1) / math.sqrt(argument)
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def seed_of(run_id: str, what: str) -> int:
    """The bootstrap's seed: the first 8 bytes of sha256("<run id>:<what>"), big-endian."""
    return int.from_bytes(hashlib.sha256(f"{run_id}:{what}".encode()).digest()[:8], "big")


def bootstrap_interval(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float],
    resamples: int,
    seed: int,
    confidence: float = CONFIDENCE,
) -> tuple[float, float] | None:
    """Percentile interval of `statistic` over `resamples` resamples of `values` with
    replacement (`random.Random(seed).choices(values, k=n)` each); the bounds are the
    nearest-rank percentiles (1 - confidence)/2 and (1 + confidence)/2. None under 2 values."""
    if len(values) < 2:
        return None
    draws = sorted(statistic(sample) for sample in resamples_of(values, resamples, seed))
    low, high = percentile_ranks(resamples, confidence)
    return draws[low - 1], draws[high - 1]


def resamples_of(values: Sequence[float], count: int, seed: int) -> Iterator[list[float]]:
    """The `count` resamples `random.Random(seed).choices(values, k=len(values))` would draw
    one after another, drawn by numpy from the same Mersenne Twister state: the same
    `random()` stream (53-bit doubles from two 32-bit outputs), the same `floor(u * n)`
    index, at C speed (a year of round trips is millions of draws)."""
    python = random.Random(seed)  # noqa: S311 - a reproducible resample, not a secret
    _, state, _ = python.getstate()
    twister = np.random.RandomState()
    twister.set_state(("MT19937", np.array(state[:-1], dtype=np.uint32), state[-1], 0, 0.0))
    population = np.asarray(values, dtype=np.float64)
    n = len(values)
    for _ in range(count):
        picks = np.floor(twister.random_sample(n) * float(n)).astype(np.intp)
        yield population[picks].tolist()


def percentile_ranks(count: int, confidence: float = CONFIDENCE) -> tuple[int, int]:
    """The 1-based nearest ranks of the (1 - confidence)/2 and (1 + confidence)/2 percentiles
    among `count` sorted values: ceil(p x count), computed on the decimal value of `confidence`
    so that 0.95 of 2000 gives ranks 50 and 1950 (binary floats would give 51)."""
    share = Fraction(str(confidence))
    low = math.ceil((1 - share) / 2 * count)
    high = math.ceil((1 + share) / 2 * count)
    return max(1, low), max(1, min(count, high))


def mean_of(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def compounded(values: Sequence[float]) -> float:
    return math.prod(1 + v for v in values) - 1


def shown(value: float) -> Decimal:
    """A float estimate as the Decimal shown: rounded half-even to `SHOWN_PLACES` places."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-SHOWN_PLACES))


def bootstrap(
    run_id: str,
    trip_pnls: Sequence[Decimal],
    days: Sequence[DailyReturn],
    total_return: Decimal,
    resamples: int,
) -> Bootstrap:
    """Intervals of the mean round-trip net PnL (round trips resampled) and of the total
    return (daily returns resampled and compounded), seeded from the run id."""
    seeds = {
        "mean_round_trip_pnl": seed_of(run_id, "round_trips"),
        "total_return": seed_of(run_id, "daily_returns"),
    }
    pnls = [float(p) for p in trip_pnls]
    trips = bootstrap_interval(pnls, mean_of, resamples, seeds["mean_round_trip_pnl"])
    returns = [float(d.value) for d in days]
    total = bootstrap_interval(returns, compounded, resamples, seeds["total_return"])
    return Bootstrap(
        resamples=resamples,
        confidence=CONFIDENCE,
        mean_round_trip_pnl=None
        if trips is None
        else Interval(_mean(trip_pnls), shown(trips[0]), shown(trips[1]), len(pnls)),
        total_return=None
        if total is None
        else Interval(total_return, shown(total[0]), shown(total[1]), len(returns)),
        seeds=seeds,
    )


def annualised(
    total: Decimal, covered: timedelta, min_days: int
) -> tuple[Decimal | None, str | None]:
    """(1 + total)^(365 days / covered) - 1, or None and why when the run covers less than
    `min_days` days (or lost everything)."""
    if decimal_seconds(covered) < min_days * 86_400:
        return None, (f"n/a — needs {min_days} days (this run covers {format_duration(covered)})")
    if total <= -ONE:
        return None, "n/a — the run lost all its capital"
    exponent = MATH.divide(Decimal(DAYS_PER_YEAR * 86_400), decimal_seconds(covered))
    return MATH.subtract(MATH.power(ONE + total, exponent), ONE), None


def performance(
    points: Sequence[EquityPoint],
    initial_capital: Decimal,
    *,
    event_start: datetime | None = None,
    event_end: datetime | None = None,
    annualise_min_days: int = 30,
) -> Performance:
    """Return the performance figures of an equity curve that starts at `initial_capital`."""
    final = points[-1].equity if points else initial_capital
    total = MATH.subtract(MATH.divide(final, initial_capital), ONE)
    covered = run_coverage(points, event_start, event_end)
    days = daily_returns(points, initial_capital, event_start, event_end)
    returns = [d.value for d in days]
    drawdown, duration = max_drawdown(points, initial_capital)
    annual, note = annualised(total, covered, annualise_min_days)
    psr, shape = probabilistic_sharpe(returns), moments(returns)
    return Performance(
        initial_capital=initial_capital,
        final_equity=final,
        total_pnl=final - initial_capital,
        total_return=total,
        annualised_return=annual,
        annualised_note=note,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        calmar=MATH.divide(annual, drawdown) if annual is not None and drawdown > 0 else None,
        psr=None if psr is None else shown(psr),
        skewness=None if shape is None else shown(shape[0]),
        kurtosis=None if shape is None else shown(shape[1]),
        daily_mean=_mean(returns) if returns else None,
        daily_stdev=statistics.stdev(returns) if len(returns) > 1 else None,
        basis=f"daily returns, UTC days, √365, {len(days)} days",
        max_drawdown=drawdown,
        max_drawdown_duration=duration,
        time_in_market=time_in_market(points),
        elapsed=covered,
        daily=days,
    )


@exact
def _mean(values: Sequence[Decimal]) -> Decimal:
    """Σ values (exact) / n (28 digits)."""
    return MATH.divide(sum(values, ZERO), Decimal(len(values)))
