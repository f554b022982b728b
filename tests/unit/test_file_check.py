"""The check of a replay's files before a papertest starts (`check_market_data`).

Before it, a bad file was found only once the run was registered and backed up: a truncated
file stopped at `row 255: list index out of range`, a header-only file "completed" with no
data, NaN or negative prices and unsorted or duplicate rows surfaced as traceback fragments.
Now every row of every file is read first and each problem is one line naming the file and
the line; gaps between candles are a warning with their count.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.marketdata import file_check
from engine.marketdata.file_check import MarketDataCheck, check_market_data
from engine.marketdata.files import CANDLE_COLUMNS, QUOTE_COLUMNS, TRADE_COLUMNS, MarketFileError

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, epoch milliseconds
MINUTE = 60_000
HEADER = ",".join(CANDLE_COLUMNS)


def candle(symbol: str = "BTCUSDT", minute: int = 0, **cells: str) -> list[str]:
    """A good 1-minute candle row (MEXC's close time), some cells replaced."""
    opened = T0 + minute * MINUTE
    row = {
        "symbol": symbol,
        "open_time": str(opened),
        "open": "100",
        "high": "101",
        "low": "99",
        "close": "100.5",
        "volume": "2",
        "close_time": str(opened + MINUTE - 1),
        "quote_volume": "200",
    } | cells
    return [row[name] for name in CANDLE_COLUMNS]


def two_symbols(minutes: int) -> list[list[str]]:
    return [candle(s, m) for m in range(minutes) for s in ("BTCUSDT", "ETHUSDT")]


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = CANDLE_COLUMNS
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: Sequence[Sequence[Any]], types: dict[str, pa.DataType]) -> Path:
    """Candle rows as Parquet, each column of `types` (text where not named)."""
    schema = pa.schema([(name, types.get(name, pa.string())) for name in CANDLE_COLUMNS])
    columns = {name: [row[i] for row in rows] for i, name in enumerate(CANDLE_COLUMNS)}
    pq.write_table(pa.table(columns, schema=schema), path)
    return path


def only_problem(found: MarketDataCheck) -> str:
    (problem,) = found.problem_lines()
    return problem


# -- a bad file: one line each, its file and line -----------------------------------------


def test_empty_file_then_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "market.csv"
    path.write_text("")

    assert only_problem(check_market_data(path)) == f"{path}: the file is empty (no header row)"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_header_only_file_then_refused_as_nothing_to_replay(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"market{suffix}"
    if suffix == ".csv":
        write_csv(path, [])
    else:
        write_parquet(path, [], {})

    found = check_market_data(path)

    assert only_problem(found) == f"{path} line 1: only a header, no data rows (nothing to replay)"
    assert (found.rows, found.symbols) == (0, set())


def test_truncated_file_then_its_last_line_is_cut_short(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "market.csv", two_symbols(130))
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 30])  # mid-way the last row

    found = check_market_data(path)

    assert only_problem(found) == (
        f"{path} line 261: the row is cut short: 4 of the header's 9 fields"
    )
    assert found.rows == 260


def test_empty_line_inside_the_file_then_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "market.csv", [candle(minute=0), [], candle(minute=1)])

    assert only_problem(check_market_data(path)) == f"{path} line 3: an empty line"


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"open": "abc"}, "open 'abc' is not a decimal number"),
        ({"volume": ""}, "volume is missing"),
        ({"open_time": "2026-01-01"}, "open_time '2026-01-01' is not a time in epoch milliseconds"),
        ({"close": "NaN"}, "close is NaN"),
        ({"high": "inf"}, "high is infinite"),
        ({"low": "-Infinity"}, "low is infinite"),
        ({"low": "0"}, "low '0' is zero"),
        ({"open": "-100"}, "open '-100' is negative"),
        ({"volume": "-5"}, "volume '-5' is negative"),
        ({"high": "98"}, "high 98 is below low 99"),
        ({"open": "102"}, "open 102 is outside low..high (99..101)"),
        ({"close": "98.5"}, "close 98.5 is outside low..high (99..101)"),
        ({"close_time": str(T0)}, "close_time is not after open_time"),
        ({"symbol": "BTC USD"}, "symbol 'BTC USD' is not an exchange symbol like BTCUSDT"),
        ({"open": "1e40"}, "open '1e40' is too large (below 1E+20)"),
    ],
)
def test_bad_value_then_one_line_with_file_and_line(
    tmp_path: Path, cells: dict[str, str], problem: str
) -> None:
    rows = [candle(minute=0), candle(minute=1), candle(minute=2, **cells), candle(minute=3)]
    path = write_csv(tmp_path / "market.csv", rows)

    assert only_problem(check_market_data(path)) == f"{path} line 4: {problem}"


def test_rows_out_of_time_order_then_refused(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "market.csv", [candle(minute=0), candle(minute=2), candle(minute=1)]
    )

    assert only_problem(check_market_data(path)) == (
        f"{path} line 4: time 2026-01-01T00:02:00+00:00 is before the previous row's"
        " (2026-01-01T00:03:00+00:00); rows must be in time order"
    )


def test_same_candle_twice_then_refused_naming_the_first(tmp_path: Path) -> None:
    rows = [candle("BTCUSDT", 0), candle("ETHUSDT", 0), candle("BTCUSDT", 0)]
    path = write_csv(tmp_path / "market.csv", rows)

    assert only_problem(check_market_data(path)) == (
        f"{path} line 4: the same BTCUSDT candle (opening 2026-01-01T00:00:00+00:00) as line 2"
    )


def test_not_utf8_then_the_line_it_is_on(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "market.csv", [candle(minute=0), candle("BTC\xe9USDT", 1)])
    path.write_bytes(path.read_bytes().replace("\xe9".encode(), b"\xe9"))

    assert only_problem(check_market_data(path)) == (
        f"{path} line 3: not UTF-8 text (invalid continuation byte)"
    )


def test_header_of_no_layout_then_refused_listing_the_layouts(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "market.csv", [["1", "2"]], header=["when", "price"])

    assert only_problem(check_market_data(path)).startswith(
        f"{path}: the header (when, price) is neither the candle layout"
    )


def test_many_bad_rows_then_ten_listed_and_the_rest_counted(tmp_path: Path) -> None:
    rows = [candle(minute=m, close="NaN") for m in range(25)]
    path = write_csv(tmp_path / "market.csv", rows)

    found = check_market_data(path)

    lines = found.problem_lines()
    assert lines[:2] == [f"{path} line 2: close is NaN", f"{path} line 3: close is NaN"]
    assert lines[10:] == [f"15 more problem(s) in {path}"]


def test_missing_path_then_refused_before_reading() -> None:
    with pytest.raises(MarketFileError, match="no such file or directory"):
        check_market_data(Path("/nonexistent/market.csv"))


# -- Parquet -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "close"),
    [({}, "NaN"), ({"close": pa.float64()}, float("nan"))],
    ids=["text", "float"],
)
def test_parquet_nan_close_then_its_line(
    tmp_path: Path, types: dict[str, pa.DataType], close: Any
) -> None:
    as_float = bool(types)
    rows: list[list[Any]] = []
    for m, row in enumerate(candle(minute=m) for m in range(3)):
        cells: dict[str, Any] = dict(zip(CANDLE_COLUMNS, row, strict=True))
        cells["open_time"], cells["close_time"] = int(row[1]), int(row[7])
        cells["close"] = close if m == 1 else float(row[5]) if as_float else row[5]
        rows.append([cells[name] for name in CANDLE_COLUMNS])
    times = {"open_time": pa.int64(), "close_time": pa.int64()}
    path = write_parquet(tmp_path / "market.parquet", rows, times | types)

    assert only_problem(check_market_data(path)) == f"{path} line 3: close is NaN"


def test_parquet_duplicate_candle_then_refused(tmp_path: Path) -> None:
    rows = [candle(minute=0), candle(minute=1), candle(minute=1)]
    path = write_parquet(tmp_path / "market.parquet", rows, {})

    assert only_problem(check_market_data(path)) == (
        f"{path} line 4: the same BTCUSDT candle (opening 2026-01-01T00:01:00+00:00) as line 3"
    )


def test_parquet_truncated_then_not_readable(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "market.parquet", two_symbols(50), {})
    path.write_bytes(path.read_bytes()[:-100])

    assert only_problem(check_market_data(path)).startswith(
        f"{path}: not a readable Parquet file ("
    )


# -- good files ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_good_file_then_passes_with_its_rows_and_symbols(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"market{suffix}"
    if suffix == ".csv":
        write_csv(path, two_symbols(90))
    else:
        write_parquet(path, two_symbols(90), {})

    found = check_market_data(path)

    assert found.ok
    assert found.problem_lines() == []
    assert (found.files, found.rows, found.symbols) == (1, 180, {"BTCUSDT", "ETHUSDT"})
    assert found.gap_warning() is None


def test_gaps_then_a_warning_with_their_count_per_symbol(tmp_path: Path) -> None:
    minutes = {"BTCUSDT": [0, 1, 5, 6, 20], "ETHUSDT": [0, 1, 2, 3, 4, 5, 6, 20]}
    rows = sorted(
        (candle(s, m) for s, ms in minutes.items() for m in ms), key=lambda r: (r[1], r[0])
    )
    path = write_csv(tmp_path / "market.csv", rows)

    found = check_market_data(path)

    assert found.ok
    assert found.gap_warning() == (
        f"{path}: 29 candle minute(s) missing in 3 gap(s) (BTCUSDT 16 in 2, ETHUSDT 13 in 1);"
        f" the replay plays across them (claire data inspect {path} lists them)"
    )
    assert found.gap_warning(["ETHUSDT"]) == (
        f"{path}: 13 candle minute(s) missing in 1 gap(s) (ETHUSDT 13 in 1);"
        f" the replay plays across them (claire data inspect {path} lists them)"
    )
    assert found.gap_warning(["SOLUSDT"]) is None


def test_symbol_of_rows_the_float_test_leaves_to_decimal_then_still_found(tmp_path: Path) -> None:
    # ETH trades nothing (volume 0) and spells its open as its high differently: read exactly
    rows = [candle("BTCUSDT", 0), candle("ETHUSDT", 0, volume="0", open="101.0")]
    path = write_csv(tmp_path / "market.csv", rows)

    found = check_market_data(path)

    assert found.ok
    assert found.symbols == {"BTCUSDT", "ETHUSDT"}


def test_directory_then_every_file_and_warmup_symbols_kept_apart(tmp_path: Path) -> None:
    write_csv(tmp_path / "candles.csv", [candle("ETHUSDT", m) for m in range(10, 20)])
    write_csv(tmp_path / "warmup_candles.csv", [candle("SOLUSDT", m) for m in range(10)])

    found = check_market_data(tmp_path)

    assert found.ok
    assert (found.files, found.rows) == (2, 20)
    assert (found.symbols, found.history) == ({"ETHUSDT"}, {"SOLUSDT"})


# -- trades and quotes ---------------------------------------------------------------------


def test_trades_then_bad_side_bad_price_and_order_each_a_line(tmp_path: Path) -> None:
    rows = [
        ["BTCUSDT", str(T0), "100", "1", "buy"],
        ["BTCUSDT", str(T0 + 1), "100", "1", "hold"],
        ["BTCUSDT", str(T0 + 2), "-1", "1", "sell"],
        ["BTCUSDT", str(T0 - 5), "100", "1", "buy"],
        ["BTCUSDT", str(T0), "100", "0.5", "SELL"],  # same millisecond as line 2: fine
    ]
    path = write_csv(tmp_path / "trades.csv", rows, header=TRADE_COLUMNS)

    found = check_market_data(path)

    assert found.problem_lines() == [
        f"{path} line 3: side 'hold' is neither buy nor sell",
        f"{path} line 4: price '-1' is negative",
        f"{path} line 5: time 2025-12-31T23:59:59.995000+00:00 is before the previous row's"
        " (2026-01-01T00:00:00+00:00); rows must be in time order",
    ]
    assert found.symbols == {"BTCUSDT"}


def test_quotes_then_crossed_quote_refused_and_good_ones_pass(tmp_path: Path) -> None:
    good = [["ETHUSDT", str(T0 + i), "100", "1", "100.5", "2"] for i in range(3)]
    path = write_csv(tmp_path / "quotes.csv", good, header=QUOTE_COLUMNS)
    crossed = write_csv(
        tmp_path / "crossed.csv",
        [*good, ["ETHUSDT", str(T0 + 9), "102", "1", "101", "1"]],
        header=QUOTE_COLUMNS,
    )

    assert check_market_data(path).ok
    assert only_problem(check_market_data(crossed)) == (
        f"{crossed} line 5: ask_price 101 is below bid_price 102 (crossed)"
    )


# -- the column-wise read: it vouches only for good files, and finds what row by row finds ---


def outcome(found: MarketDataCheck) -> tuple[Any, ...]:
    return found.problem_lines(), found.rows, found.symbols, found.history, found.gaps


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_good_candles_then_vouched_for_column_wise(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"market{suffix}"
    rows = [r for r in two_symbols(40) if not (r[0] == "ETHUSDT" and r[1] == str(T0 + MINUTE))]
    found, symbols = MarketDataCheck(path), set[str]()
    if suffix == ".csv":
        write_csv(path, rows)
        batches = lambda: file_check._csv_batches(path, len(CANDLE_COLUMNS))  # noqa: E731
        vouched = file_check._good_candles(path, CANDLE_COLUMNS, batches, found, symbols)
    else:
        write_parquet(path, rows, {})
        with pq.ParquetFile(path) as file:
            vouched = file_check._good_candles(
                path, CANDLE_COLUMNS, file.iter_batches, found, symbols
            )

    assert vouched
    assert (found.rows, symbols) == (79, {"BTCUSDT", "ETHUSDT"})
    assert (found.gaps["ETHUSDT"].gaps, found.gaps["ETHUSDT"].missing) == (1, 1)
    assert outcome(check_market_data(path)) == outcome(check_market_data(path, columnwise=False))


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few rows, so a file of tens of rows crosses many batch edges."""
    monkeypatch.setattr(file_check, "_COLUMN_ROWS", 3)
    monkeypatch.setattr(file_check, "_CSV_BLOCK", 256)


SPELLINGS = {
    "open": ["100.0", "1e2", "101", "101.00", "98.99999999999999999", "NaN", "-1", "", "x", " 1"],
    "high": ["101.0", "1.01e2", "100", "99", "inf", "+101"],
    "low": ["99.0", "99.00000000000000001", "100", "101", "0", "1e-30", "99_0"],
    "close": ["100", "102", "101.00000000000000001", "0.1000000000000000055511151231257827"],
    "volume": ["0", "-0", "1e-19", "2.5", "-2"],
    "symbol": [" ethusdt", "btcusdt", "BTC USD"],
    "open_time": ["+1", " 1767225600000", "x"],
}
ODD_ROWS = ["the same row again", "swapped with the next", "cut short", "empty", "whole minute"]


@st.composite
def candle_files(draw: st.DrawFn) -> list[list[str]]:
    """Two symbols' minutes, some missing (gaps), then a few odd rows: a cell spelt
    otherwise (good or bad), a row twice, two rows swapped, a row cut short, an empty line."""
    minutes = draw(st.integers(2, 30))
    held = draw(st.lists(st.integers(0, 6), min_size=2 * minutes, max_size=2 * minutes))
    rows = [
        candle(symbol, m)
        for m in range(minutes)
        for j, symbol in enumerate(("BTCUSDT", "ETHUSDT"))
        if held[2 * m + j] != 6  # one in seven missing
    ]
    for _ in range(draw(st.integers(0, 3)) if rows else 0):
        i = draw(st.integers(0, len(rows) - 1))
        odd = draw(st.sampled_from([*SPELLINGS, *ODD_ROWS, *ODD_ROWS]))
        if odd in SPELLINGS and len(rows[i]) == len(CANDLE_COLUMNS):
            rows[i] = list(rows[i])
            rows[i][CANDLE_COLUMNS.index(odd)] = draw(st.sampled_from(SPELLINGS[odd]))
        elif odd == "the same row again":
            rows.insert(i, list(rows[i]))
        elif odd == "swapped with the next" and i + 1 < len(rows):
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
        elif odd == "cut short":
            rows[i] = rows[i][:4]
        elif odd == "empty":
            rows[i] = []
        elif odd == "whole minute" and len(rows[i]) == len(CANDLE_COLUMNS) and rows[i][1].isdigit():
            rows[i] = [*rows[i][:7], str(int(rows[i][1]) + MINUTE), rows[i][8]]  # not MEXC's
    return rows


@pytest.mark.usefixtures("small_batches")
@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=candle_files(), parquet=st.booleans())
def test_any_candle_file_then_column_wise_and_row_wise_find_the_same(
    rows: list[list[str]], parquet: bool
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / ("market.parquet" if parquet else "market.csv")
        if parquet:
            full = [r for r in rows if len(r) == len(CANDLE_COLUMNS)]
            write_parquet(path, full, {})
        else:
            write_csv(path, rows)

        fast, exact = check_market_data(path), check_market_data(path, columnwise=False)

    assert outcome(fast) == outcome(exact)


@pytest.mark.usefixtures("small_batches")
def test_gap_across_a_batch_edge_then_counted_once(tmp_path: Path) -> None:
    rows = [candle("BTCUSDT", m) for m in (*range(10), *range(15, 30))]
    path = write_csv(tmp_path / "market.csv", rows)

    found = check_market_data(path)

    assert found.ok
    assert (found.gaps["BTCUSDT"].gaps, found.gaps["BTCUSDT"].missing) == (1, 5)
    assert outcome(found) == outcome(check_market_data(path, columnwise=False))


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([candle("BTCUSDT", 0), candle("BTCUSDT", 1), candle("ETHUSDT", 0)], "line 4: time"),
        ([candle(minute=0), candle(minute=1, open="98.99999999999999999")], "line 3: open 98."),
        ([candle(minute=0), candle(minute=1, close="101.00000000000000001")], "line 3: close"),
        ([candle(minute=0), candle(minute=1, close="102")], "line 3: close 102 is outside"),
        (
            [candle(minute=0), candle(minute=1, open="99", low="99.000000000000000001")],
            "line 3: open",
        ),
        ([*two_symbols(3), candle("ETHUSDT", 2)], "line 8: the same ETHUSDT candle"),
        ([candle(minute=m) for m in (0, 1, 2, 3, 3)], "line 6: the same BTCUSDT candle"),
        ([candle(minute=0), candle(minute=1, close_time=str(T0 + 2 * MINUTE))], ""),
        ([candle(minute=0, close_time=str(T0 + MINUTE)), candle(minute=1)], ""),
    ],
    ids=[
        "time back across symbols",
        "open below low, equal as floats",
        "close above high, equal as floats",
        "close above high",
        "low above open, equal as floats",
        "duplicate in a later batch",
        "duplicate at a batch edge",
        "whole-minute close after MEXC's",
        "MEXC's close after a whole-minute one",
    ],
)
def test_edge_file_then_column_wise_finds_what_row_wise_finds(
    tmp_path: Path, rows: list[list[str]], problem: str
) -> None:
    path = write_csv(tmp_path / "market.csv", rows)

    found = check_market_data(path)

    assert outcome(found) == outcome(check_market_data(path, columnwise=False))
    if problem:
        assert only_problem(found).startswith(f"{path} {problem}")
    else:
        assert found.ok
