"""Replay preflight figure: `check_market_data` over a year of 1-minute candles.

`python -m bench.file_check [--rows N]` writes 1,000,000 rows of 1-minute candles for two
symbols (500,000 minutes each, interleaved as a recording is) to a CSV file and to a Parquet
file in the `replay:PATH` layout, then times the check that `claire papertest start` runs on
a replay's files before anything is registered, beside a raw baseline over the same file:
`csv.reader` counting the rows, and pyarrow reading the Parquet file's batches into Python
values (what the row-wise check reads through). The row-wise check alone
(`columnwise=False`: what a file gets that the column-wise read cannot vouch for) is timed
too. Median of 3 of each, wall clock, in this process.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine.marketdata.file_check import check_market_data
from engine.marketdata.files import BATCH_ROWS, CANDLE_COLUMNS

ROWS = 1_000_000
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START_MS = 1_735_689_600_000  # 2025-01-01 00:00 UTC
MINUTE_MS = 60_000
TARGET_S = 3.0
REPEATS = 3


def candle_rows(rows: int, seed: int = 42) -> list[list[str | int]]:
    """`rows` candles, a seeded walk per symbol, one candle per symbol per minute."""
    draw = random.Random(seed)  # noqa: S311 - a reproducible walk, not cryptography
    prices = {"BTCUSDT": 95_000.0, "ETHUSDT": 3_300.0}
    out: list[list[str | int]] = []
    for i in range(rows):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        opened = START_MS + (i // len(SYMBOLS)) * MINUTE_MS
        open_ = prices[symbol]
        close = open_ * (1 + draw.gauss(0, 0.0008))
        high = max(open_, close) * (1 + abs(draw.gauss(0, 0.0003)))
        low = min(open_, close) * (1 - abs(draw.gauss(0, 0.0003)))
        volume = draw.uniform(0.5, 40)
        prices[symbol] = close
        out.append(
            [
                symbol,
                opened,
                f"{open_:.2f}",
                f"{high:.2f}",
                f"{low:.2f}",
                f"{close:.2f}",
                f"{volume:.4f}",
                opened + MINUTE_MS - 1,  # MEXC's close time: the minute's last millisecond
                f"{volume * close:.2f}",
            ]
        )
    return out


def write_files(directory: Path, rows: int) -> tuple[Path, Path]:
    """Write the CSV and Parquet files of `rows` candles; return their paths."""
    data = candle_rows(rows)
    csv_path = directory / "candles.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CANDLE_COLUMNS)
        writer.writerows(data)
    times = {"open_time", "close_time"}  # every other column is decimal text, as claire writes
    schema = pa.schema(
        [(name, pa.int64() if name in times else pa.string()) for name in CANDLE_COLUMNS]
    )
    parquet_path = directory / "candles.parquet"
    with pq.ParquetWriter(parquet_path, schema) as writer:
        for start in range(0, rows, BATCH_ROWS * 10):
            chunk = data[start : start + BATCH_ROWS * 10]
            columns = {name: [row[i] for row in chunk] for i, name in enumerate(CANDLE_COLUMNS)}
            writer.write_table(pa.table(columns, schema=schema))
    return csv_path, parquet_path


def raw_csv_rows(path: Path) -> int:
    """The baseline: `csv.reader` over the file, counting its rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def raw_parquet_rows(path: Path) -> int:
    """The baseline: the file's batches as Python values, rows counted."""
    count = 0
    with pq.ParquetFile(path) as file:
        for batch in file.iter_batches(batch_size=BATCH_ROWS):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            count += sum(1 for _ in zip(*columns, strict=True))
    return count


def checked_rows(path: Path, *, columnwise: bool = True) -> int:
    """The figure: the whole preflight check of the file; it must find nothing."""
    found = check_market_data(path, columnwise=columnwise)
    assert found.ok, found.problem_lines()
    assert found.symbols == set(SYMBOLS), found.symbols
    assert found.gap_warning() is None
    return found.rows


def row_wise_rows(path: Path) -> int:
    return checked_rows(path, columnwise=False)


def timed(work: Callable[[Path], int], path: Path, rows: int) -> float:
    """Median seconds of `REPEATS` calls of `work(path)`, each checked to see `rows` rows."""
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        seen = work(path)
        seconds.append(time.perf_counter() - started)
        assert seen == rows, (work.__name__, seen, rows)
    return statistics.median(seconds)


@dataclass(frozen=True)
class Preflight:
    """The medians of one run: `seconds[name]` for each kind (CSV, Parquet)."""

    rows: int
    seconds: dict[str, float]
    size_mb: dict[str, float]


def measure(rows: int = ROWS) -> Preflight:
    """Write the two files, then time the raw baseline, the check and the row-wise check."""
    with tempfile.TemporaryDirectory(prefix="claire-bench-check-") as scratch:
        csv_path, parquet_path = write_files(Path(scratch), rows)
        seconds = {}
        for kind, path, raw in (
            ("CSV", csv_path, raw_csv_rows),
            ("Parquet", parquet_path, raw_parquet_rows),
        ):
            seconds[f"raw baseline, {kind}"] = timed(raw, path, rows)
            seconds[f"check_market_data, {kind}"] = timed(checked_rows, path, rows)
            seconds[f"row-wise check only, {kind}"] = timed(row_wise_rows, path, rows)
        size_mb = {"CSV": csv_path.stat().st_size / 1e6}
        size_mb["Parquet"] = parquet_path.stat().st_size / 1e6
    return Preflight(rows, seconds, size_mb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=ROWS, help="candle rows (default 1,000,000)")
    rows = parser.parse_args().rows
    load_before = os.getloadavg()
    found = measure(rows)
    load_after = os.getloadavg()
    print(f"{rows:,} rows, 2 symbols; CSV {found.size_mb['CSV']:.0f} MB, Parquet"
          f" {found.size_mb['Parquet']:.0f} MB; median of {REPEATS}")  # fmt: skip
    for name, seconds in found.seconds.items():
        print(f"  {name:<36} {seconds:6.2f} s  ({rows / seconds:,.0f} rows/s)")
    for kind in ("CSV", "Parquet"):
        check = found.seconds[f"check_market_data, {kind}"]
        base = found.seconds[f"raw baseline, {kind}"]
        met = "yes" if check < TARGET_S else "NO"
        print(f"  {kind}: {check / base:.2f}x the raw baseline; target < {TARGET_S:.0f} s: {met}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}")


if __name__ == "__main__":
    main()
