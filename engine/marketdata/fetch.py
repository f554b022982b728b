"""Download candle history from MEXC's REST API into a file the replay source reads.

Resumable: each symbol is fetched in chunks of 480 candles (one request each), every chunk
written atomically into `<out>.parts/<SYMBOL>/`; a second run reuses the chunks it finds.
When all are there, they are merged in replay order into `out` (CSV or Parquet) and the
parts are removed. Only closed candles are kept.
"""

from __future__ import annotations

import heapq
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.events import Candle, CandleInterval
from engine.events.market_data import INTERVAL_LENGTHS
from engine.marketdata.files import Layout, read_market_data, replay_order, write_market_file
from engine.marketdata.mexc import MexcRest

CHUNK_CANDLES = 480
INTERVALS: Mapping[str, timedelta] = {str(k): v for k, v in INTERVAL_LENGTHS.items()}

#: Called after each chunk with (symbol, candles so far for the symbol, candles expected).
Progress = Callable[[str, int, int], None]


@dataclass
class FetchResult:
    """What a fetch wrote and how much it had to download."""

    path: Path
    start: datetime
    end: datetime
    rows: dict[str, int] = field(default_factory=dict)
    chunks_downloaded: int = 0
    chunks_reused: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "chunks_downloaded": self.chunks_downloaded,
            "chunks_reused": self.chunks_reused,
        }


def window(days: float, interval: str, now: datetime) -> tuple[datetime, datetime]:
    """Return [start, end) covering the last `days` up to the last closed candle."""
    step = INTERVALS[interval]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    end = epoch + ((now - epoch) // step) * step
    return end - timedelta(days=days), end


async def fetch_history(
    rest: MexcRest,
    symbols: Sequence[str],
    interval: CandleInterval,
    *,
    start: datetime,
    end: datetime,
    out: Path,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch [start, end) of every symbol into `out`; resume from the parts a previous run left."""
    await rest.validate_symbols(symbols)
    step = INTERVALS[interval]
    parts = out.with_name(out.name + ".parts")
    result = FetchResult(out, start, end)
    expected = int((end - start) / step)
    for symbol in symbols:
        fetched = 0
        for chunk_start, chunk_end in _chunks(start, end, step):
            part = parts / symbol / f"{chunk_start:%Y%m%dT%H%M%S}.csv"
            if part.exists():
                result.chunks_reused += 1
                fetched += _rows(part)
            else:
                candles = await rest.klines(symbol, interval, chunk_start, chunk_end)
                closed = [c for c in candles if c.close_time <= end]
                write_market_file(part, closed, Layout.CANDLES)
                result.chunks_downloaded += 1
                fetched += len(closed)
            if progress is not None:
                progress(symbol, fetched, expected)
        result.rows[symbol] = fetched
    write_market_file(out, _merged(parts, symbols), Layout.CANDLES)
    shutil.rmtree(parts, ignore_errors=True)
    return result


def _chunks(start: datetime, end: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    size = step * CHUNK_CANDLES
    at = start
    while at < end:
        yield at, min(at + size, end)
        at += size


def _rows(part: Path) -> int:
    with part.open(encoding="utf-8") as handle:
        return max(0, sum(1 for _ in handle) - 1)


def _merged(parts: Path, symbols: Sequence[str]) -> Iterator[Candle]:
    """Every symbol's chunks in order, merged across symbols in replay order."""
    streams = [_symbol_candles(parts / symbol) for symbol in symbols]
    return heapq.merge(*streams, key=replay_order)


def _symbol_candles(directory: Path) -> Iterator[Candle]:
    for part in sorted(directory.glob("*.csv")):
        for event in read_market_data(part):
            if isinstance(event, Candle):
                yield event
