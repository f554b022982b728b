"""The run's data quality from what is stored, whatever the cause of a loss.

A recorded gap (`market_gaps`) says why data is missing when the feed knew; the candles
say what is missing, always: a file's hole, a feed that dropped, an outage or a stall all
leave minutes without a candle. So the missing minutes are counted here from the candles
of the run's own source over the event time it covered, per symbol, and each hole is named
by the recorded gap that explains it where there is one. Stale-data episodes are read from
the alerts (raised, then cleared), resumes from the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MINUTE = timedelta(minutes=1)
#: MEXC closes a minute at its last millisecond: a close this close to the next minute is it.
_CLOSE_SLACK = timedelta(milliseconds=1)
STALE_CODE = "market_data_stale"


@dataclass(frozen=True)
class Hole:
    """Consecutive minutes of one symbol with no candle: [start, end)."""

    symbol: str
    start: datetime
    end: datetime
    cause: str  # a recorded gap's cause, or `no candle` when nothing recorded one

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / MINUTE)


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def candle_holes(
    closes: Mapping[str, Sequence[tuple[datetime, Any]]],
    symbols: Iterable[str],
    start: datetime,
    end: datetime,
    recorded: Sequence[Mapping[str, Any]] = (),
) -> list[Hole] | None:
    """Every minute in [start, end) whose candle a symbol lacks, as holes; None when the run
    has no candle at all (a feed of trades or quotes only: minutes are not its unit).

    A minute is expected when it closes by `end` (the run's last market event); a candle is
    counted by the minute it opened in (its close, less MEXC's last millisecond)."""
    if not any(closes.get(symbol) for symbol in symbols):
        return None
    first, last = expected_minutes(start, end)
    # Minutes counted as whole minutes since `first` (a year of candles is a million).
    origin = first + _CLOSE_SLACK
    count = (last - first) // MINUTE + 1

    def at(minute: int) -> datetime:
        return first + minute * MINUTE

    holes: list[Hole] = []
    for symbol in symbols:
        held = sorted({(close - origin) // MINUTE for close, _ in closes.get(symbol, ())})
        expected = 0
        for opened in [*(m for m in held if 0 <= m < count), count]:
            if opened > expected:
                start_at = at(expected)
                cause = _cause(symbol, start_at, recorded)
                holes.append(Hole(symbol, start_at, at(opened), cause))
            expected = max(expected, opened + 1)
    return sorted(holes, key=lambda h: (h.start, h.symbol))


def expected_minutes(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The first and last minute (open times) a run over [start, end] should hold a candle
    of: from the first whole minute to the last one closed by `end`."""
    first = start if start == minute_of(start) else minute_of(start) + MINUTE
    return first, minute_of(end + _CLOSE_SLACK) - MINUTE


def _cause(symbol: str, at: datetime, recorded: Sequence[Mapping[str, Any]]) -> str:
    for gap in recorded:
        if explains(gap, symbol, at):
            return str(gap["cause"])
    return "no candle"


def explains(gap: Mapping[str, Any], symbol: str, at: datetime) -> bool:
    """Whether a recorded gap covers a hole of `symbol` beginning at `at` (a gap starts at
    the last candle held, or at the first one missing)."""
    return bool(gap["symbol"] == symbol and gap["gap_start"] - MINUTE <= at <= gap["gap_end"])


@dataclass(frozen=True)
class StaleEpisode:
    """A stretch in which a symbol's data was stale: from the first alert to its clearing."""

    symbol: str
    began: datetime
    ended: datetime | None  # None: still stale when the run ended

    def seconds(self, run_end: datetime | None) -> float | None:
        until = self.ended or run_end
        return None if until is None else (until - self.began).total_seconds()


def stale_episodes(alerts: Iterable[Mapping[str, Any]]) -> list[StaleEpisode]:
    """The stale-data episodes in the alerts (in time order). Two sources (the feed and
    risk) may both raise one for a symbol; a symbol is stale from its first raise until a
    clearing with no raise still open, so they count as one episode."""
    open_since: dict[str, datetime] = {}
    raised: dict[str, int] = {}
    episodes: list[StaleEpisode] = []
    for alert in sorted(alerts, key=lambda a: a["ts_event"]):
        if alert["code"] != STALE_CODE:
            continue
        symbol = str(alert.get("symbol") or "all")
        if not alert["cleared"]:
            open_since.setdefault(symbol, alert["ts_event"])
            raised[symbol] = raised.get(symbol, 0) + 1
        elif symbol in open_since:
            raised[symbol] -= 1
            if raised[symbol] <= 0:
                episodes.append(StaleEpisode(symbol, open_since.pop(symbol), alert["ts_event"]))
                raised.pop(symbol)
    episodes += [StaleEpisode(symbol, began, None) for symbol, began in open_since.items()]
    return sorted(episodes, key=lambda e: (e.began, e.symbol))
