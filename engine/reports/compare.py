"""Runs side by side: each figure of each run, and of every run against the first, the
difference with its bootstrap confidence interval, and their round trips matched.

Every figure is the run's own report's, computed from the database. The differences are
B - A, A the first run given (the baseline), and their intervals answer "is B better than A,
or is it noise?":
- total return and Sharpe: a *paired* bootstrap over the UTC days both runs cover (the same
  days drawn for both, so that a market move both rode cancels out); each resample
  compounds each run's drawn daily returns (for Sharpe: their mean over their sample
  standard deviation, x √365) and takes B's minus A's;
- mean round-trip PnL and win rate: the round trips of each run drawn on their own (they are
  not the same trades), the difference of the resampled means;
- max drawdown, fills, fees: the difference alone (no interval: a drawdown is one path).
A difference is called better or worse only when its interval leaves 0 out; with fewer days
than the verdict asks for (`CLAIRE_VERDICT_MIN_DAYS`), it says that it is too short to tell.
Seeds come from the two run ids, so a comparison is the same each time it is made.

Round trips are matched by symbol and time: a trip of B matches the trip of A in the same
symbol whose holding overlaps it and whose entry is nearest; what is left is in one run only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from engine.reports.build import Report
from engine.reports.metrics import RoundTrip
from engine.reports.returns import (
    CONFIDENCE,
    DAYS_PER_YEAR,
    compounded,
    mean_of,
    percentile_ranks,
    resamples_of,
    seed_of,
    shown,
)

HIGHER_IS_BETTER = "higher"
LOWER_IS_BETTER = "lower"


@dataclass(frozen=True)
class Difference:
    """One figure of B against A: B - A, and its interval when it has one."""

    figure: str
    a: Decimal | None
    b: Decimal | None
    difference: Decimal | None
    low: Decimal | None = None
    high: Decimal | None = None
    #: What was resampled (days both cover, or each run's round trips), and how many.
    basis: str = ""
    #: `B better`, `A better`, `noise (the interval holds 0)`, `too short to tell …`, `n/a`.
    conclusion: str = ""


@dataclass(frozen=True)
class TripMatch:
    """A round trip of A and of B in the same symbol at about the same time (one of them
    None: that trip is in one run only)."""

    symbol: str
    a: RoundTrip | None
    b: RoundTrip | None

    @property
    def entry_shift(self) -> timedelta | None:
        """B's entry minus A's."""
        return None if self.a is None or self.b is None else self.b.opened - self.a.opened

    @property
    def pnl_difference(self) -> Decimal | None:
        return None if self.a is None or self.b is None else self.b.pnl - self.a.pnl


@dataclass
class Pair:
    """One run (B) against the baseline (A)."""

    a: str
    b: str
    differences: list[Difference]
    matches: list[TripMatch]
    common_days: int

    @property
    def matched(self) -> int:
        return sum(1 for m in self.matches if m.a is not None and m.b is not None)

    @property
    def only_a(self) -> int:
        return sum(1 for m in self.matches if m.b is None)

    @property
    def only_b(self) -> int:
        return sum(1 for m in self.matches if m.a is None)


@dataclass
class Comparison:
    """Every run's report, and every run against the first."""

    reports: list[Report]
    pairs: list[Pair]
    resamples: int
    confidence: float
    min_days: int
    #: What differs between the runs besides the strategy (another source, period, capital).
    warnings: list[str] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)


def compare(
    reports: Sequence[Report],
    *,
    resamples: int,
    min_days: int,
) -> Comparison:
    """Compare each report with the first (two at least)."""
    if len(reports) < 2:
        raise ValueError("a comparison needs two runs at least")
    base = reports[0]
    pairs = [_pair(base, other, resamples, min_days) for other in reports[1:]]
    return Comparison(
        reports=list(reports),
        pairs=pairs,
        resamples=resamples,
        confidence=CONFIDENCE,
        min_days=min_days,
        warnings=_market_warnings(reports),
    )


def _market_warnings(reports: Sequence[Report]) -> list[str]:
    """Runs over other markets, periods or capitals are not like for like: say so."""
    base = reports[0].run
    warnings: list[str] = []
    for report in reports[1:]:
        run = report.run
        if run.data_source != base.data_source:
            warnings.append(
                f"{run.run_id} played {run.data_source}, {base.run_id} {base.data_source}:"
                " not the same market"
            )
        if (run.event_start, run.event_end) != (base.event_start, base.event_end):
            warnings.append(
                f"{run.run_id} covers {run.event_start} → {run.event_end}, {base.run_id}"
                f" {base.event_start} → {base.event_end}: the intervals use the days both cover"
            )
        if run.initial_capital != base.initial_capital:
            warnings.append(
                f"{run.run_id} started with {run.initial_capital}, {base.run_id} with"
                f" {base.initial_capital}: PnL figures are not like for like (returns are)"
            )
    return warnings


def _pair(a: Report, b: Report, resamples: int, min_days: int) -> Pair:
    days_a = {d.day: float(d.value) for d in a.performance.daily}
    days_b = {d.day: float(d.value) for d in b.performance.daily}
    common: list[date] = sorted(set(days_a) & set(days_b))
    paired = [(days_a[d], days_b[d]) for d in common]
    key = f"{a.run.run_id}|{b.run.run_id}"
    short = len(common) < min_days
    days_basis = f"{len(common)} days both cover, resampled in pairs"
    trips_a = [t.pnl for t in a.trades.trips]
    trips_b = [t.pnl for t in b.trades.trips]
    trips_basis = f"round trips resampled per run ({len(trips_a)} and {len(trips_b)})"
    pa, pb = a.performance, b.performance
    setup = Draws(resamples, short, min_days)
    differences = [
        paired_difference(
            "total return", pa.total_return, pb.total_return, paired, compounded,
            seed=seed_of(key, "total_return"), basis=days_basis, setup=setup,
        ),
        paired_difference(
            "Sharpe (daily, √365)", pa.sharpe, pb.sharpe, paired, annualised_sharpe,
            seed=seed_of(key, "sharpe"), basis=days_basis, setup=setup,
        ),
        unpaired_difference(
            "mean round-trip PnL", trips_a, trips_b, mean_of, key=key, basis=trips_basis,
            setup=setup,
        ),
        unpaired_difference(
            "win rate",
            [Decimal(1) if p > 0 else Decimal(0) for p in trips_a],
            [Decimal(1) if p > 0 else Decimal(0) for p in trips_b],
            mean_of, key=key, basis=trips_basis, setup=setup,
        ),
        _plain("max drawdown", pa.max_drawdown, pb.max_drawdown, better=LOWER_IS_BETTER),
        _plain("fills", Decimal(a.trades.fills), Decimal(b.trades.fills)),
        _plain("fees", a.trades.fees, b.trades.fees),
        _plain("net PnL", pa.total_pnl, pb.total_pnl),
    ]  # fmt: skip
    return Pair(
        a.run.run_id, b.run.run_id, differences, match_trips(a.trades.trips, b.trades.trips),
        len(common),
    )  # fmt: skip


Statistic = Callable[[Sequence[float]], float | None]


@dataclass(frozen=True)
class Draws:
    """How a pair's intervals are drawn: resamples, and whether the runs are too short."""

    resamples: int
    short: bool
    min_days: int


def paired_difference(
    figure: str,
    a: Decimal | None,
    b: Decimal | None,
    days: list[tuple[float, float]],
    statistic: Statistic,
    *,
    seed: int,
    basis: str,
    setup: Draws,
) -> Difference:
    """B - A of a figure of the days both runs cover (`days`: A's and B's return of each),
    with the interval of `statistic`(B's drawn days) - `statistic`(A's), the same days drawn
    for both, as `random.Random(seed).choices(range(len(days)), k=len(days))` would."""
    difference = None if a is None or b is None else b - a
    if len(days) < 2 or difference is None:
        return Difference(figure, a, b, difference, basis=basis, conclusion="n/a")
    draws: list[float] = []
    for picks in resamples_of(list(range(len(days))), setup.resamples, seed):
        chosen = [days[int(i)] for i in picks]
        sa, sb = statistic([x for x, _ in chosen]), statistic([y for _, y in chosen])
        if sa is not None and sb is not None:
            draws.append(sb - sa)
    return _judged(figure, a, b, difference, draws, basis=basis, setup=setup)


def unpaired_difference(
    figure: str,
    a: Sequence[Decimal],
    b: Sequence[Decimal],
    statistic: Statistic,
    *,
    key: str,
    basis: str,
    setup: Draws,
) -> Difference:
    """B's mean of `b` - A's mean of `a` (values of each run's round trips), with the
    interval of the difference of means of each run's own resamples."""
    mean_a = sum(a, Decimal(0)) / len(a) if a else None
    mean_b = sum(b, Decimal(0)) / len(b) if b else None
    difference = None if mean_a is None or mean_b is None else mean_b - mean_a
    if len(a) < 2 or len(b) < 2 or difference is None:
        return Difference(figure, mean_a, mean_b, difference, basis=basis, conclusion="n/a")
    left = resamples_of([float(v) for v in a], setup.resamples, seed_of(key, f"{figure}:a"))
    right = resamples_of([float(v) for v in b], setup.resamples, seed_of(key, f"{figure}:b"))
    draws = []
    for sample_a, sample_b in zip(left, right, strict=True):
        sa, sb = statistic(sample_a), statistic(sample_b)
        if sa is not None and sb is not None:
            draws.append(sb - sa)
    return _judged(figure, mean_a, mean_b, difference, draws, basis=basis, setup=setup)


def _judged(
    figure: str,
    a: Decimal | None,
    b: Decimal | None,
    difference: Decimal,
    draws: list[float],
    *,
    basis: str,
    setup: Draws,
    better: str = HIGHER_IS_BETTER,
) -> Difference:
    if len(draws) < 2:
        return Difference(figure, a, b, difference, basis=basis, conclusion="n/a")
    draws.sort()
    low_rank, high_rank = percentile_ranks(len(draws))
    low, high = shown(draws[low_rank - 1]), shown(draws[high_rank - 1])
    if low <= 0 <= high:
        conclusion = "noise: the interval holds 0"
    else:
        up = low > 0
        conclusion = "B better" if up == (better == HIGHER_IS_BETTER) else "A better"
    if setup.short and not conclusion.startswith("noise"):
        conclusion = f"too short to tell ({conclusion} on fewer than {setup.min_days} days)"
    return Difference(figure, a, b, difference, low, high, basis, conclusion)


def _plain(figure: str, a: Decimal, b: Decimal, *, better: str = "") -> Difference:
    """A difference without an interval (`better`: which way is better, when one is)."""
    return Difference(figure, a, b, b - a, basis="one value per run", conclusion="")


def annualised_sharpe(values: Sequence[float]) -> float | None:
    """Mean over sample standard deviation, x √365 (None without variation)."""
    n = len(values)
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return None if variance <= 0 else mean / math.sqrt(variance) * math.sqrt(DAYS_PER_YEAR)


def match_trips(a: Sequence[RoundTrip], b: Sequence[RoundTrip]) -> list[TripMatch]:
    """Pair each trip of B with the unmatched trip of A in its symbol whose holding overlaps
    it and whose entry is nearest; the rest are in one run only. In order of entry."""
    free = list(a)
    matches: list[TripMatch] = []
    for trip in sorted(b, key=lambda t: (t.opened, t.symbol)):
        near = [
            other
            for other in free
            if other.symbol == trip.symbol
            and other.opened <= trip.closed
            and trip.opened <= other.closed
        ]
        if near:
            best = min(near, key=lambda o: (abs(o.opened - trip.opened), o.opened))
            free.remove(best)
            matches.append(TripMatch(trip.symbol, best, trip))
        else:
            matches.append(TripMatch(trip.symbol, None, trip))
    matches += [TripMatch(trip.symbol, trip, None) for trip in free]

    def entry(m: TripMatch) -> tuple[object, str]:
        trip = m.a if m.a is not None else m.b
        assert trip is not None
        return trip.opened, m.symbol

    return sorted(matches, key=entry)
