"""Fuzzing recorded market data files (the replay source and `claire data inspect`).

Whatever a CSV or Parquet file holds, reading it yields valid market events in time order or
raises `MarketFileError` naming the file (and the row); never another exception.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.events import Candle, QuoteTick, TradeTick, decode_event, encode_event
from engine.marketdata.files import (
    CANDLE_COLUMNS,
    QUOTE_COLUMNS,
    TRADE_COLUMNS,
    MarketFileError,
    inspect_market_data,
    read_market_data,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
LAYOUTS = (CANDLE_COLUMNS, TRADE_COLUMNS, QUOTE_COLUMNS)

# Times within 1830..2105 (epoch milliseconds): the files claire and MEXC write.
millis = st.integers(min_value=-(2**41), max_value=2**42)
good_times = st.integers(T0_MS, T0_MS + 10 * 86_400_000).map(lambda ms: ms - ms % 60_000)
good_amounts = st.decimals(min_value="0.0001", max_value=10**6, places=4).map(str)
wild_cells = st.one_of(
    st.sampled_from(["", " ", "-1", "0", "NaN", "inf", "1e999999", "1,5", "buy", "SELL", "x"]),
    st.just("1" * 131_073),  # longer than the csv module reads in one field
    millis.map(str),
    st.text(max_size=12),
)


@st.composite
def good_row(draw: st.DrawFn, columns: tuple[str, ...]) -> dict[str, Any]:
    """A row a recorder would write for `columns`' layout."""
    opened = draw(good_times)
    low, opening, closing, high = sorted(
        draw(st.lists(good_amounts, min_size=4, max_size=4)), key=float
    )
    bid, ask = sorted(draw(st.lists(good_amounts, min_size=2, max_size=2)), key=float)
    values = {
        "symbol": draw(st.sampled_from(["BTCUSDT", "ethusdt", " BTCUSDT "])),
        "open_time": opened,
        "close_time": opened + draw(st.sampled_from([60_000, 59_999])),
        "time": opened,
        "open": opening,
        "high": high,
        "low": low,
        "close": closing,
        "volume": draw(good_amounts),
        "quote_volume": draw(good_amounts),
        "price": draw(good_amounts),
        "quantity": draw(good_amounts),
        "side": draw(st.sampled_from(["buy", "sell", "BUY"])),
        "bid_price": bid,
        "bid_quantity": draw(good_amounts),
        "ask_price": ask,
        "ask_quantity": draw(good_amounts),
    }
    return {name: values[name] for name in columns}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[Any]]]:
    """A header and rows: a layout's (columns shuffled, dropped or added), cells made odd."""
    columns = draw(st.sampled_from(LAYOUTS))
    header = draw(st.permutations(list(columns)))
    if draw(st.booleans()):
        header = [name.upper() if draw(st.booleans()) else f" {name}" for name in header]
    if draw(st.integers(0, 4)) == 0:
        header.pop(draw(st.integers(0, len(header) - 1)))
    if draw(st.integers(0, 4)) == 0:
        header.append(draw(st.text(max_size=8)))
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        good = draw(good_row(columns))
        row = [good.get(name.strip().lower(), "") for name in header]
        for _ in range(draw(st.integers(0, 2))):
            if row:
                row[draw(st.integers(0, len(row) - 1))] = draw(wild_cells)
        if draw(st.integers(0, 6)) == 0:
            row = row[: draw(st.integers(0, len(row)))]
        rows.append(row)
    return header, rows


def csv_text(table: tuple[list[str], list[list[Any]]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table[0])
    writer.writerows(table[1])
    return out.getvalue()


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="claire-fuzz-files-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def read_or_refuse(path: Path) -> None:
    """Read `path` twice (replay, inspect): events in time order, or a MarketFileError."""
    try:
        events = list(read_market_data(path))
    except MarketFileError as exc:
        error = exc
    else:
        for event in events:
            assert isinstance(event, Candle | TradeTick | QuoteTick)
            assert decode_event(encode_event(event)) == event
        times = [event.ts_event for event in events]
        assert times == sorted(times)
        summary = inspect_market_data(path)
        assert summary.rows == len(events)
        return
    assert error.message.startswith(str(path))
    with pytest.raises(MarketFileError):
        inspect_market_data(path)


@FUZZ
@given(tables().map(csv_text) | st.text(max_size=300))
def test_fuzz_csv_text_then_events_or_market_file_error(scratch: Path, text: str) -> None:
    path = scratch / "fuzz.csv"
    path.write_text(text, encoding="utf-8")
    read_or_refuse(path)


@st.composite
def flipped(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with one to three bytes changed (a bad disk, a copy cut short and patched)."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if buffer:
            buffer[draw(st.integers(0, len(buffer) - 1))] ^= draw(st.integers(1, 255))
    return bytes(buffer)


@FUZZ
@given(st.one_of(st.binary(max_size=300), tables().map(csv_text).map(str.encode).flatmap(flipped)))
def test_fuzz_csv_bytes_then_events_or_market_file_error(scratch: Path, content: bytes) -> None:
    path = scratch / "bytes.csv"
    path.write_bytes(content)
    read_or_refuse(path)


def parquet_table(table: tuple[list[str], list[list[Any]]], kind: str) -> pa.Table:
    """The header and rows as a Parquet table whose columns are of `kind`."""
    header, rows = table
    names = list(dict.fromkeys(header))  # Parquet column names must be unique here
    width = len(names)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        cells = (row + [None] * width)[:width]
        for name, cell in zip(names, cells, strict=True):
            columns[name].append(_typed(cell, kind, name))
    return pa.table(columns)


parquet_kinds = st.sampled_from(["string", "int64", "double", "mixed"])


@FUZZ
@given(tables(), parquet_kinds)
def test_fuzz_parquet_columns_then_events_or_market_file_error(
    scratch: Path, table: tuple[list[str], list[list[Any]]], kind: str
) -> None:
    path = scratch / "fuzz.parquet"
    pq.write_table(parquet_table(table, kind), path)
    read_or_refuse(path)


def parquet_bytes(table: pa.Table) -> bytes:
    out = pa.BufferOutputStream()
    pq.write_table(table, out)
    return bytes(out.getvalue().to_pybytes())


@FUZZ
@given(st.builds(parquet_table, tables(), parquet_kinds).map(parquet_bytes).flatmap(flipped))
def test_fuzz_damaged_parquet_file_then_events_or_market_file_error(
    scratch: Path, content: bytes
) -> None:
    path = scratch / "damaged.parquet"
    path.write_bytes(content)
    read_or_refuse(path)


def _typed(cell: Any, kind: str, name: str) -> Any:
    """The cell as a Parquet column of `kind` holds it (None when it does not fit)."""
    if kind == "string" or (kind == "mixed" and "time" not in name.lower()):
        return None if cell is None else str(cell)
    try:
        number = float(cell) if kind == "double" else int(cell)
    except (TypeError, ValueError, OverflowError):
        return None
    if kind != "double" and not -(2**63) <= number < 2**63:
        return None
    return number


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_parquet_bytes_then_market_file_error(scratch: Path, content: bytes) -> None:
    path = scratch / "garbage.parquet"
    path.write_bytes(b"PAR1" + content if content[:1] == b"\x00" else content)
    read_or_refuse(path)
