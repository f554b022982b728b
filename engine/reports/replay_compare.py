"""A paper run against a replay of its own recorded market data: what differs, and why.

The replay plays the very minutes the paper run received (its recording) through the same
strategy, parameters and settings at full speed. Over recorded data without an outage the
two agree fill for fill; what the live run lived through and a replay does not (an outage,
a gap the feed back-filled, a restart of the engine, the time an order took to reach the
market) shows up as a difference, and each one is given its cause.

- **Fills** are matched by symbol and side, in order, each with the nearest one of the other
  run within `MATCH_WITHIN`: the same (time, price, quantity, fee), at another price or time,
  of another quantity, or in one run only.
- **PnL** is attributed per round trip (`engine.reports.compare.match_trips`). A trip whose
  entry or exit falls in an outage, gap or restart of the paper run (or up to
  `SETTLES_WITHIN` after it ended: the strategy's look-back recovers) is put down to it,
  whether it is in one run only or in both at other times. Else a trip in both with another
  PnL is put down to its legs (other quantity: partial or missing fills; other time:
  latency and arrival price; same times, other prices: slippage), and a trip in one run
  only is unexplained. The net PnL of each run is its report's accounted PnL (round trips
  plus the positions open at the end, marked to market: what reconciles with its final
  equity), so what is left of the difference is the open positions': the causes add up to
  the difference, by construction, to the last digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.reports.compare import TripMatch, match_trips
from engine.reports.metrics import RoundTrip

#: A fill is matched with one of the other run at most this far apart in event time.
MATCH_WITHIN = timedelta(minutes=5)
#: A trip in one run only is put down to an outage that ended at most this long before it.
SETTLES_WITHIN = timedelta(minutes=15)

LATENCY = "latency and arrival price"
SLIPPAGE = "slippage"
PARTIAL = "partial or missing fills"
OUTAGE = "outages and gaps"
RESTART = "restarts"
OPEN = "positions open at the end"
UNEXPLAINED = "unexplained"
CAUSES = (LATENCY, SLIPPAGE, PARTIAL, OUTAGE, RESTART, OPEN, UNEXPLAINED)

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillRow:
    """One fill as the `trades` table holds it."""

    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    at: datetime


@dataclass(frozen=True)
class Window:
    """Something the paper run lived through: an outage of a server, a gap in its market
    data, or an engine restart; `began`/`ended` in event time (a live run's is the clock)."""

    cause: str  # OUTAGE or RESTART
    what: str  # e.g. "redis down", "BTCUSDT disconnect gap"
    began: datetime
    ended: datetime

    def covers(self, at: datetime) -> bool:
        return self.began <= at <= self.ended + SETTLES_WITHIN


@dataclass(frozen=True)
class FillMatch:
    """A paper fill and its replay counterpart (either may be missing) and how they differ."""

    symbol: str
    side: str
    paper: FillRow | None
    replay: FillRow | None

    @property
    def how(self) -> str:
        p, r = self.paper, self.replay
        if p is None or r is None:
            return "replay only" if p is None else "paper only"
        if p == r:
            return "same"
        for differs, name in (
            (p.quantity != r.quantity, "other quantity"),
            (p.at != r.at, "other time"),
            (p.price != r.price, "other price"),
        ):
            if differs:
                return name
        return "other fee"


@dataclass(frozen=True)
class TripDifference:
    """A round trip whose PnL differs between the runs (or that one run only has)."""

    match: TripMatch  # a: the replay's, b: the paper run's
    effect: Decimal  # paper PnL - replay PnL of this trip
    cause: str
    why: str


@dataclass
class ReplayComparison:
    """The paper run against its replay."""

    paper_run: str
    replay_run: str
    fills: list[FillMatch]
    trips: list[TripDifference]
    paper_pnl: Decimal
    replay_pnl: Decimal
    attribution: dict[str, Decimal]
    windows: list[Window]
    warnings: list[str] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)

    @property
    def difference(self) -> Decimal:
        """Paper net PnL - replay net PnL: what the causes add up to."""
        return self.paper_pnl - self.replay_pnl

    @property
    def agrees(self) -> bool:
        """Trade for trade: every fill the same in both runs."""
        return all(m.how == "same" for m in self.fills)


def compare_with_replay(
    paper_run: str,
    replay_run: str,
    *,
    paper_fills: Sequence[FillRow],
    replay_fills: Sequence[FillRow],
    paper_trips: Sequence[RoundTrip],
    replay_trips: Sequence[RoundTrip],
    paper_pnl: Decimal,
    replay_pnl: Decimal,
    windows: Sequence[Window],
) -> ReplayComparison:
    """Match the fills and the round trips, and attribute the net PnL difference."""
    fills = match_fills(paper_fills, replay_fills)
    trips = [
        difference
        for m in match_trips(replay_trips, paper_trips)
        if (difference := _trip_difference(m, windows)) is not None
    ]
    attribution = dict.fromkeys(CAUSES, ZERO)
    for trip in trips:
        attribution[trip.cause] += trip.effect
    attribution[OPEN] = (paper_pnl - replay_pnl) - sum(attribution.values(), ZERO)
    return ReplayComparison(
        paper_run, replay_run, fills, trips, paper_pnl, replay_pnl, attribution, list(windows)
    )


def match_fills(paper: Sequence[FillRow], replay: Sequence[FillRow]) -> list[FillMatch]:
    """Pair each paper fill with the unmatched replay fill of its symbol and side nearest in
    time (within `MATCH_WITHIN`; an equal one first); the rest are in one run only."""
    free = list(replay)
    matches: list[FillMatch] = []
    for fill in sorted(paper, key=lambda f: (f.at, f.symbol)):
        near = [
            other
            for other in free
            if (other.symbol, other.side) == (fill.symbol, fill.side)
            and abs(other.at - fill.at) <= MATCH_WITHIN
        ]
        if near:
            best = min(near, key=lambda o: (o != fill, abs(o.at - fill.at), o.at))
            free.remove(best)
            matches.append(FillMatch(fill.symbol, fill.side, fill, best))
        else:
            matches.append(FillMatch(fill.symbol, fill.side, fill, None))
    matches += [FillMatch(f.symbol, f.side, None, f) for f in free]
    return sorted(matches, key=_fill_time)


def _fill_time(match: FillMatch) -> tuple[datetime, str]:
    fill = match.paper or match.replay
    assert fill is not None
    return fill.at, match.symbol


def _trip_difference(match: TripMatch, windows: Sequence[Window]) -> TripDifference | None:
    replay, paper = match.a, match.b
    if replay is not None and paper is not None:
        return _in_both(match, paper, replay, windows)
    trip = paper or replay
    assert trip is not None
    effect = trip.pnl if paper is not None else -trip.pnl
    where = "on paper only" if paper is not None else "in the replay only"
    window = _covering(windows, trip)
    if window is not None:
        return TripDifference(match, effect, window.cause, f"{where}: {window.what}")
    return TripDifference(match, effect, UNEXPLAINED, f"{where}: no outage or gap near it")


def _in_both(
    match: TripMatch, paper: RoundTrip, replay: RoundTrip, windows: Sequence[Window]
) -> TripDifference | None:
    if paper.pnl == replay.pnl:
        return None
    effect = paper.pnl - replay.pnl
    window = _covering(windows, paper, replay)
    if window is not None:  # an outage moved or resized it
        cause, why = window.cause, f"{window.what}: " + _moved(paper, replay)
    elif paper.quantity != replay.quantity:
        cause, why = PARTIAL, f"bought {paper.quantity} on paper, {replay.quantity} in the replay"
    elif (paper.opened, paper.closed) != (replay.opened, replay.closed):
        cause, why = LATENCY, "filled at other times: " + _moved(paper, replay)
    else:
        cause = SLIPPAGE
        why = (
            f"same times, prices {paper.entry_price}→{paper.exit_price} on paper, "
            f"{replay.entry_price}→{replay.exit_price} in the replay"
        )
    return TripDifference(match, effect, cause, why)


def _covering(windows: Sequence[Window], *trips: RoundTrip) -> Window | None:
    """The first outage, gap or restart any of `trips`' entries or exits falls in."""
    for window in windows:
        if any(window.covers(t.opened) or window.covers(t.closed) for t in trips):
            return window
    return None


def _moved(paper: RoundTrip, replay: RoundTrip) -> str:
    entry = (paper.opened - replay.opened).total_seconds()
    exit_ = (paper.closed - replay.closed).total_seconds()
    return f"entry {entry:+g} s, exit {exit_:+g} s on paper"
