"""Market data sources behind one interface: recorded files, a seeded synthetic market, MEXC.

A source yields market events (candles, trades, quotes) and gap records in event-time order,
asynchronously, so the live exchange and a file replay feed the engine the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar, cast, runtime_checkable

from engine.events import AlertRaised, Candle, MarketDataGap, QuoteTick, TradeTick
from engine.events.market_data import as_warmup
from engine.marketdata.files import Recorded, content_digest, read_market_data
from engine.marketdata.synthetic import synthetic_candles

#: What a source yields: market events, gap records, and alerts (e.g. stale data).
MarketItem = Candle | TradeTick | QuoteTick | MarketDataGap | AlertRaised

#: Yield control to the event loop after this many events of a synchronous source.
_YIELD_EVERY = 500


class MarketSource(Protocol):
    """Where market events come from."""

    #: `mexc`, `replay` or `synthetic`: also the `source` of the events it yields.
    name: str

    def items(self) -> AsyncIterator[MarketItem]:
        """Yield events in event-time order until the source is exhausted or closed."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class RecordedSource(MarketSource, Protocol):
    """A source whose events are all there already (a file, the synthetic market): they can
    be read synchronously, without an await per event."""

    def events(self) -> Iterable[MarketItem]:
        """Every event, in event-time order."""
        ...


async def _paced(events: Iterable[MarketItem]) -> AsyncIterator[MarketItem]:
    for count, event in enumerate(events, start=1):
        yield event
        if count % _YIELD_EVERY == 0:
            await asyncio.sleep(0)


def replay_source_name(path: Path) -> str:
    """The `source` of a recording's events: `replay-` and its content's digest."""
    return f"replay-{content_digest(path)[:16]}"


Item = TypeVar("Item", bound=MarketItem)


def history_first(events: Iterable[Item], warmup: timedelta) -> Iterator[Item]:
    """`events` with the first `warmup` of them (by event time, from the first) marked as
    history: a strategy's warm-up, learned from and never traded on."""
    if warmup <= timedelta(0):
        yield from events
        return
    until: datetime | None = None
    for item in events:
        if until is None:
            until = item.ts_event + warmup
        if item.ts_event < until and isinstance(item, Candle | TradeTick | QuoteTick):
            yield cast(Item, as_warmup(item))
        else:
            yield item


class ReplaySource:
    """Events of a recorded file or directory (see `engine.marketdata.files`); with
    `symbols`, only those symbols' (a run's), the other rows skipped.

    Their `source` is `replay-<digest of the files' content>`, so two different recordings
    of the same hours stay apart in the database, even at one path, and one recording moved
    elsewhere is still itself. A run passes the `name` it was registered with (its files
    were hashed once, at the start).
    """

    def __init__(
        self,
        path: Path,
        symbols: Sequence[str] | None = None,
        *,
        name: str | None = None,
        warmup: timedelta = timedelta(0),
    ) -> None:
        self.path = path
        self.symbols = None if symbols is None else tuple(symbols)
        self.name = name or replay_source_name(path)
        #: The strategy's warm-up: the recording's first rows of this length are history.
        self.warmup = warmup

    def events(self) -> Iterator[Recorded]:
        rows = read_market_data(self.path, source=self.name, symbols=self.symbols)
        return history_first(rows, self.warmup)

    def items(self) -> AsyncIterator[MarketItem]:
        return _paced(self.events())

    async def close(self) -> None:
        """Files are closed as they are read to the end."""


class SyntheticSource:
    """A seeded synthetic market from `start` for `minutes` minutes (same seed, same data).

    Its events' `source` is `synthetic-<seed>-<start>-<symbols hash>`: the walk depends on
    the seed, where it starts and the symbols it draws for, so markets that differ in any of
    them stay apart in the database (the candles of one source are one market). A strategy's
    `warmup` starts the walk that much earlier, as history (the run still trades `minutes`
    from `start`), and is part of the name (`-w<minutes>`): another walk, another market.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        start: datetime,
        minutes: int,
        *,
        seed: int = 42,
        realistic: bool = True,
        warmup: timedelta = timedelta(0),
    ) -> None:
        self.symbols, self.start, self.minutes, self.seed = list(symbols), start, minutes, seed
        self.realistic = realistic
        self.warmup_minutes = max(0, math.ceil(warmup / timedelta(minutes=1)))
        drawn = hashlib.sha256(",".join(self.symbols).encode()).hexdigest()[:6]
        warm = f"-w{self.warmup_minutes}" if self.warmup_minutes else ""
        self.name = f"synthetic-{seed}-{start:%Y%m%d-%H%M}-{drawn}{warm}"

    def items(self) -> AsyncIterator[MarketItem]:
        return _paced(self.events())

    def events(self) -> Iterator[Candle]:
        warmup = timedelta(minutes=self.warmup_minutes)
        walk = synthetic_candles(
            self.symbols,
            self.start - warmup,
            self.minutes + self.warmup_minutes,
            seed=self.seed,
            source=self.name,
            volatility_regimes=self.realistic,
            jump_probability=0.002 if self.realistic else 0.0,
            gap_probability=0.0005 if self.realistic else 0.0,
        )
        return history_first(walk, warmup)

    async def close(self) -> None:
        """Nothing to release."""
