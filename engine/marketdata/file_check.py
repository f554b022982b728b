"""Check a replay's market data files before a papertest is registered.

`check_market_data(path)` reads every row of every file `replay:PATH` plays (the layouts of
`engine.marketdata.files`), as a stream, and finds at once what would otherwise stop the
replay half-way or make a run of nothing: an empty or header-only file, a row cut short, a
number or time that does not parse, a price that is NaN, infinite, zero or negative, a
negative volume, a candle whose high is below its low (or whose open or close is outside
them), a crossed quote, rows out of time order, the same candle twice. Each problem is one
line, `FILE line N: ...`. Gaps between a symbol's 1-minute candles are counted, a warning.

Numbers are checked as floats; only a value a float cannot decide (near a bound, NaN or
infinity, a tie between two spellings) is read as a Decimal, the way the replay reads it.
Trades and quotes have no duplicate check: several can share a millisecond.

A candle file is first read column-wise (Arrow compute over batches of columns, no Python
per row: a year of candles in well under a second). That read only vouches for a file whose
every row passes the float checks; anything else (a problem, a value only a Decimal decides,
a column type it does not take) sends the file to the row-by-row check, the only code that
words a problem, so the messages are the same either way.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from pydantic import TypeAdapter, ValidationError

from engine.events.fields import MAX_MAGNITUDE, SMALLEST_AMOUNT, SideField, Symbol
from engine.marketdata.files import (
    BATCH_ROWS,
    PARQUET_ERRORS,
    WARMUP_PREFIX,
    Layout,
    MarketFileError,
    first_line_not_utf8,
    layout_of,
    market_files,
)

#: Problems listed; more are counted, and the check stops at MOST_PROBLEMS.
SHOWN_PROBLEMS = 10
MOST_PROBLEMS = 1_000
MINUTE_US = 60_000_000
_MEXC_CLOSE_US = MINUTE_US - 1_000  # MEXC's close time: the last millisecond of the minute
#: Floats decide inside these bounds (a factor of ten inside what storage keeps).
_LOW = float(SMALLEST_AMOUNT) * 10
_HIGH = float(MAX_MAGNITUDE) / 10
#: Times (microseconds) every platform converts: 1970 to 2100.
_LATEST_US = 4_102_444_800_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POSITIVE = frozenset(
    {"open", "high", "low", "close", "price", "quantity", "bid_price", "bid_quantity"}
    | {"ask_price", "ask_quantity"}
)
_TIMES = frozenset({"open_time", "close_time", "time"})
_SYMBOLS: TypeAdapter[str] = TypeAdapter(Symbol)
_SIDES: TypeAdapter[str] = TypeAdapter(SideField)
#: Distinct symbol or side spellings remembered per file (a garbage column is not kept).
_CACHE_LIMIT = 10_000


@dataclass
class SymbolGaps:
    """Holes between one symbol's consecutive 1-minute candles."""

    gaps: int = 0
    missing: int = 0


@dataclass
class MarketDataCheck:
    """What checking a replay's files found."""

    path: Path
    files: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    #: Problems found beyond the listed ones.
    unlisted: int = 0
    #: Symbols of the files that trade; `history`: symbols of warmup files only.
    symbols: set[str] = field(default_factory=set)
    history: set[str] = field(default_factory=set)
    gaps: dict[str, SymbolGaps] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def stopped(self) -> bool:
        """True when the check gave up reading: too many problems to go on."""
        return len(self.problems) + self.unlisted >= MOST_PROBLEMS

    def add(self, problem: str) -> None:
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(problem)
        else:
            self.unlisted += 1

    def problem_lines(self) -> list[str]:
        """The listed problems, then one line counting the others."""
        if not self.unlisted:
            return list(self.problems)
        stop = f" (the check stops at {MOST_PROBLEMS:,})" if self.stopped else ""
        return [*self.problems, f"{self.unlisted:,} more problem(s) in {self.path}{stop}"]

    def gap_warning(self, symbols: Collection[str] | None = None) -> str | None:
        """One line on the candle gaps of `symbols` (all: None), or None without a gap."""
        chosen = {s: g for s, g in sorted(self.gaps.items()) if symbols is None or s in symbols}
        if not chosen:
            return None
        count = sum(g.gaps for g in chosen.values())
        missing = sum(g.missing for g in chosen.values())
        each = ", ".join(f"{s} {g.missing:,} in {g.gaps:,}" for s, g in chosen.items())
        return (
            f"{self.path}: {missing:,} candle minute(s) missing in {count:,} gap(s) ({each});"
            f" the replay plays across them (claire data inspect {self.path} lists them)"
        )


def check_market_data(path: Path, *, columnwise: bool = True) -> MarketDataCheck:
    """Check every row of the files `replay:path` plays; raise only when there are none.

    A file of candles is read column-wise first (Arrow, no Python per row); only when that
    cannot vouch for every row is it read row by row, which finds and words each problem.
    `columnwise=False`: row by row only (what the column-wise read is tested against)."""
    found = MarketDataCheck(path)
    for file in market_files(path):
        if found.stopped:
            break
        found.files += 1
        trading = not file.name.lower().startswith(WARMUP_PREFIX)
        symbols = found.symbols if trading else found.history
        if file.suffix.lower() == ".csv":
            _check_csv(file, found, symbols, columnwise)
        else:
            _check_parquet(file, found, symbols, columnwise)
    found.history -= found.symbols
    return found


# -- files -----------------------------------------------------------------------------


class _Rows(Protocol):
    """Rows that know the line they ended on (a csv reader; `_ParquetRows`)."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[Sequence[Any]]: ...


def _check_csv(path: Path, found: MarketDataCheck, symbols: set[str], columnwise: bool) -> None:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader, None)
                if header is None:
                    found.add(f"{path}: the file is empty (no header row)")
                    return
                one_line = reader.line_num == 1  # Arrow skips the header as one line
                if (
                    columnwise
                    and one_line
                    and _good_candles(
                        path, header, lambda: _csv_batches(path, len(header)), found, symbols
                    )
                ):
                    return
                _check_rows(path, header, reader, found, symbols)
            except csv.Error as exc:  # e.g. a field over the csv module's limit (128 KiB)
                found.add(f"{path} line {reader.line_num}: {exc}")
    except UnicodeDecodeError as exc:
        found.add(f"{path} line {first_line_not_utf8(path)}: not UTF-8 text ({exc.reason})")
    except OSError as exc:
        found.add(f"{path}: cannot be read ({exc.strerror or exc})")


class _ParquetRows:
    """A Parquet file's rows, numbered as the replay numbers them (the header is line 1)."""

    def __init__(self, file: pq.ParquetFile, times: Collection[int]) -> None:
        self.file, self.times, self.line_num = file, times, 1

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for batch in self.file.iter_batches(batch_size=BATCH_ROWS):
            columns = [
                _cells(batch.column(i), time=i in self.times) for i in range(batch.num_columns)
            ]
            for row in zip(*columns, strict=True):
                self.line_num += 1
                yield row


def _cells(column: pa.Array, *, time: bool) -> list[Any]:
    """A column's values as the replay takes them: numbers and text as they are; any other
    type (and a time that is not an integer) as its text, which the replay refuses."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    kept = text or pa.types.is_integer(kind) or pa.types.is_timestamp(kind)
    if not time:
        kept = kept or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    values: list[Any] = column.to_pylist()
    return values if kept else [None if v is None else str(v) for v in values]


def _check_parquet(path: Path, found: MarketDataCheck, symbols: set[str], columnwise: bool) -> None:
    try:
        file = pq.ParquetFile(path)
        names = list(file.schema_arrow.names)
    except PARQUET_ERRORS as exc:
        found.add(f"{path}: not a readable Parquet file ({exc})")
        return
    with file:
        batches = lambda: file.iter_batches(batch_size=_COLUMN_ROWS)  # noqa: E731
        if columnwise and _good_candles(path, names, batches, found, symbols):
            return
        times = [i for i, name in enumerate(names) if name.strip().lower() in _TIMES]
        rows = _ParquetRows(file, times)
        try:
            _check_rows(path, names, rows, found, symbols)
        except PARQUET_ERRORS as exc:
            found.add(f"{path} line {rows.line_num + 1}: damaged, cannot be read ({exc})")


def _check_rows(
    path: Path, header: Sequence[str], rows: _Rows, found: MarketDataCheck, symbols: set[str]
) -> None:
    try:
        layout = layout_of(header, path)
    except MarketFileError as exc:
        found.add(exc.message)
        return
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    checker = _Checker(str(path), layout, index, len(header), found)
    count = {Layout.CANDLES: checker.candles, Layout.TRADES: checker.trades}.get(
        layout, checker.quotes
    )(rows)
    found.rows += count
    symbols.update(s for s in checker.names.values() if s)
    symbols.update(checker.seen)
    if count == 0:
        found.add(f"{path} line 1: only a header, no data rows (nothing to replay)")


# -- column-wise: a file of good candles, read a batch of columns at a time -----------------

#: Rows of a batch read column-wise (Parquet), and bytes of a CSV block (about 200,000 rows).
_COLUMN_ROWS = 100_000
_CSV_BLOCK = 1 << 24
_MINUTE_MS = 60_000
_MEXC_CLOSE_MS = _MINUTE_MS - 1
_LATEST_MS = _LATEST_US // 1000
#: What reading a batch column-wise may raise: then the row-wise check decides.
_COLUMN_ERRORS = (pa.ArrowException, OSError, ValueError, OverflowError, TypeError, IndexError)


def _csv_batches(path: Path, width: int) -> Iterator[pa.RecordBatch]:
    """The rows after the header, every column as text: no value is converted or dropped;
    a row of another width, an empty line, a byte that is not UTF-8 or a field longer than
    the csv module reads (the row-wise check says where) raises."""
    names = [f"c{i}" for i in range(width)]
    limit = csv.field_size_limit()
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=_CSV_BLOCK),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    with reader:
        for batch in reader:
            if any(pc.max(pc.binary_length(column)).as_py() > limit for column in batch.columns):
                raise ValueError("a field over the csv module's limit")
            yield batch


def _good_candles(
    path: Path,
    header: Sequence[str],
    batches: Callable[[], Iterable[pa.RecordBatch]],
    found: MarketDataCheck,
    symbols: set[str],
) -> bool:
    """True when every row of a candle file is good, read column-wise (its rows, symbols and
    gaps then added to `found`); False for anything else: the row-wise check decides."""
    try:
        layout = layout_of(header, path)
    except MarketFileError:
        return False
    if layout is not Layout.CANDLES:
        return False
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    checker = _Checker(str(path), layout, index, len(header), found)
    columns = _CandleColumns(checker.at, checker.symbol)
    try:
        if not all(columns.add(batch) for batch in batches()) or columns.rows == 0:
            return False
    except _COLUMN_ERRORS:
        return False
    found.rows += columns.rows
    symbols.update(columns.symbols)
    for symbol, gaps in columns.gaps.items():
        total = found.gaps.setdefault(symbol, SymbolGaps())
        total.gaps += gaps.gaps
        total.missing += gaps.missing
    return True


class _CandleColumns:
    """Candle batches checked as columns (Arrow compute): each `add` is False as soon as a
    row might be wrong, or the columns are of a type the row-wise check reads otherwise."""

    def __init__(self, at: Sequence[int], symbol: Callable[[Any], str]) -> None:
        self.at, self.symbol = list(at), symbol
        self.rows = 0
        self.symbols: set[str] = set()
        self.gaps: dict[str, SymbolGaps] = {}
        self.last_close: int | None = None  # ms, MEXC's close style made a whole minute
        self.last_open: dict[str, int] = {}  # symbol -> ms of its last candle's open

    def add(self, batch: pa.RecordBatch) -> bool:
        if batch.num_rows == 0:
            return True
        used = [_decoded(batch.column(i)) for i in self.at]
        if any(column.null_count for column in used):
            return False
        symbol, opened, o, h, lo, c, v, closed, q = used
        amounts, times = _floats([o, h, lo, c, v, q]), _millis([opened, closed])
        named = self._symbols(symbol)
        if amounts is None or times is None or named is None:
            return False
        if not pc.all(_good_values(amounts, [o, h, lo, c], times)).as_py():
            return False
        opened_ms, closed_ms = times
        closed_ms = pc.if_else(
            pc.equal(pc.subtract(closed_ms, opened_ms), _MEXC_CLOSE_MS),
            pc.add(opened_ms, _MINUTE_MS),
            closed_ms,
        )
        if not (self._in_time_order(closed_ms) and self._steps(opened_ms, *named)):
            return False
        self.rows += batch.num_rows
        return True

    def _symbols(self, column: pa.Array) -> tuple[pa.Array, list[str]] | None:
        """Each row's symbol as a number, and the symbols they number; None for a cell
        that spells no symbol (or a column of another type than text)."""
        if not _is_text(column.type):
            return None
        encoded = column.dictionary_encode()
        names = [self.symbol(cell) for cell in encoded.dictionary.to_pylist()]
        if not all(names):
            return None
        chosen = sorted(set(names))
        number = {name: i for i, name in enumerate(chosen)}
        ids = pc.take(pa.array([number[n] for n in names], pa.int32()), encoded.indices)
        self.symbols.update(chosen)
        return ids, chosen

    def _in_time_order(self, closed: pa.Array) -> bool:
        """The replay's time (a candle's close) never goes back, within and across batches."""
        first, back = closed[0].as_py(), pc.min(pc.pairwise_diff(closed)).as_py()
        if (self.last_close is not None and first < self.last_close) or (back or 0) < 0:
            return False
        self.last_close = closed[-1].as_py()
        return True

    def _steps(self, opened: pa.Array, ids: pa.Array, names: list[str]) -> bool:
        """Each symbol's candles open later than its previous one's; holes counted as gaps."""
        order = pc.sort_indices(ids)  # stable: each symbol's candles stay in file order
        ids, opened = pc.take(ids, order), pc.take(opened, order)
        size = len(ids)
        same = pc.equal(ids.slice(1), ids.slice(0, size - 1))
        within = pc.filter(pc.pairwise_diff(opened).slice(1), same)
        if len(within) and pc.min(within).as_py() <= 0:
            return False  # the same candle twice, or out of order: the row-wise check says
        heads = [0, *(i + 1 for i in pc.indices_nonzero(pc.invert(same)).to_pylist())]
        steps: list[tuple[str, int]] = []
        for head, tail in zip(heads, [*heads[1:], size], strict=True):
            name = names[ids[head].as_py()]
            before = self.last_open.get(name)
            if before is not None:
                steps.append((name, opened[head].as_py() - before))
            self.last_open[name] = opened[tail - 1].as_py()
        wide = pc.greater(within, _MINUTE_MS)
        steps += zip(
            (names[i] for i in pc.filter(pc.filter(ids.slice(1), same), wide).to_pylist()),
            pc.filter(within, wide).to_pylist(),
            strict=True,
        )
        for name, step in steps:
            if step <= 0:
                return False
            if step > _MINUTE_MS:
                gap = self.gaps.setdefault(name, SymbolGaps())
                gap.gaps += 1
                gap.missing += step // _MINUTE_MS - 1
        return True


def _decoded(column: pa.Array) -> pa.Array:
    return column.dictionary_decode() if pa.types.is_dictionary(column.type) else column


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _floats(columns: list[pa.Array]) -> list[pa.Array] | None:
    """The amounts as floats: all text (Arrow parses a subset of what `float` does, to the
    same values) or all floating; None otherwise (ints, decimals: the row-wise check)."""
    if all(_is_text(c.type) for c in columns) or all(pa.types.is_floating(c.type) for c in columns):
        return [pc.cast(c, pa.float64()) for c in columns]
    return None


def _millis(columns: list[pa.Array]) -> list[pa.Array] | None:
    """The times as int64 epoch milliseconds: from text or integers only."""
    if all(_is_text(c.type) or pa.types.is_integer(c.type) for c in columns):
        return [pc.cast(c, pa.int64()) for c in columns]
    return None


def _good_values(amounts: list[pa.Array], spelt: list[pa.Array], times: list[pa.Array]) -> pa.Array:
    """Each row: True when its numbers pass the row-wise check's float test (NaN fails)."""
    o, h, lo, c, v, q = amounts
    opened, closed = times
    tests = [
        pc.greater(lo, _LOW),
        pc.less_equal(lo, o),
        pc.less_equal(o, h),
        pc.less(h, _HIGH),
        pc.less_equal(lo, c),
        pc.less_equal(c, h),
        *(pc.and_(pc.greater(x, _LOW), pc.less(x, _HIGH)) for x in (v, q)),
        pc.greater_equal(opened, 0),
        pc.less(opened, closed),
        pc.less(closed, _LATEST_MS),
    ]
    if _is_text(spelt[0].type):  # equal as floats, spelt differently: Decimal decides
        so, sh, sl, sc = spelt
        for (a, b), (ta, tb) in zip(
            ((o, h), (o, lo), (c, h), (c, lo)),
            ((so, sh), (so, sl), (sc, sh), (sc, sl)),
            strict=True,
        ):
            tests.append(pc.invert(pc.and_(pc.equal(a, b), pc.not_equal(ta, tb))))
    good = tests[0]
    for test in tests[1:]:
        good = pc.and_(good, test)
    return good


# -- rows ------------------------------------------------------------------------------


def _time_text(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


class _Checker:
    """The rows of one file: fast float checks, exact ones where a float cannot decide."""

    def __init__(
        self,
        where: str,
        layout: Layout,
        index: dict[str, int],
        width: int,
        found: MarketDataCheck,
    ) -> None:
        self.where, self.layout, self.width, self.found = where, layout, width, found
        self.at = [index[name] for name in layout.columns]
        self.needed = max(self.at) + 1
        self.names: dict[Any, str] = {}  # a symbol cell -> its symbol ("" when not one)
        #: Symbols of good rows not in `names`: read exactly, or past the cache's limit.
        self.seen: set[str] = set()
        self.sides: dict[Any, bool] = {}

    def symbol(self, cell: Any) -> str:
        """The symbol a cell spells, or "" when it spells none."""
        name = self.names.get(cell)
        if name is None:
            try:
                name = _SYMBOLS.validate_python(str(cell).strip().upper())
            except ValidationError:
                name = ""
            if len(self.names) < _CACHE_LIMIT:
                self.names[cell] = name
            elif name:
                self.seen.add(name)
        return name

    def side(self, cell: Any) -> bool:
        known = self.sides.get(cell)
        if known is None:
            try:
                _SIDES.validate_python(str(cell).strip().lower())
                known = True
            except ValidationError:
                known = False
            if len(self.sides) < _CACHE_LIMIT:
                self.sides[cell] = known
        return known

    def problem(self, line: int, text: str) -> bool:
        """Record a problem; True when the check must stop."""
        self.found.add(f"{self.where} line {line}: {text}")
        return self.found.stopped

    def exact(self, row: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """What is wrong with a row ("" for nothing), and its values as the replay reads them."""
        if len(row) < self.needed:
            if not row or (len(row) == 1 and not str(row[0]).strip()):
                return "an empty line", {}
            return f"the row is cut short: {len(row)} of the header's {self.width} fields", {}
        return _row_problems(
            self.layout, dict(zip(self.layout.columns, (row[i] for i in self.at), strict=True))
        )

    def candles(self, rows: _Rows) -> int:
        """Check candle rows; return how many there were."""
        cells = itemgetter(*self.at)
        known = self.names.get
        # Locals, not globals and builtins: this loop runs once a row.
        number, integer = float, int
        low_bound, high_bound, latest = _LOW, _HIGH, _LATEST_US
        minute, mexc_close = MINUTE_US, _MEXC_CLOSE_US
        last = -(2**63)  # the replay's time (a candle's close) of the previous row
        previous: dict[str, tuple[int, int]] = {}  # symbol -> (open, line) of its last candle
        count = 0
        for row in rows:
            count += 1
            try:
                s_, ot_, o_, h_, l_, c_, v_, ct_, q_ = cells(row)
                o, h, lo, c = number(o_), number(h_), number(l_), number(c_)
                v, q = number(v_), number(q_)
                opened, closed = integer(ot_) * 1000, integer(ct_) * 1000
                fast = (
                    low_bound < lo <= o <= h < high_bound
                    and lo <= c <= h
                    and low_bound < v < high_bound
                    and low_bound < q < high_bound
                    and 0 <= opened < closed < latest
                    and not (  # equal as floats, spelt differently: Decimal decides
                        (o == h and o_ != h_)
                        or (o == lo and o_ != l_)
                        or (c == h and c_ != h_)
                        or (c == lo and c_ != l_)
                    )
                )
                symbol = (known(s_) or self.symbol(s_)) if fast else ""
            except (IndexError, ValueError, TypeError, OverflowError):
                symbol = ""
            if not symbol:
                wrong, values = self.exact(row)
                if wrong:
                    if self.problem(rows.line_num, wrong):
                        return count
                    continue
                symbol, opened, closed = values["symbol"], values["open_time"], values["close_time"]
                self.seen.add(symbol)
            if closed - opened == mexc_close:
                closed = opened + minute
            if closed < last:
                if self.problem(rows.line_num, _before(closed, last)):
                    return count
                continue
            last = closed
            before = previous.get(symbol)
            if before is not None and opened - before[0] != minute:
                wrong = _candle_step(symbol, opened, *before, self.found.gaps)
                if wrong:
                    if self.problem(rows.line_num, wrong):
                        return count
                    continue
            previous[symbol] = (opened, rows.line_num)
        return count

    def trades(self, rows: _Rows) -> int:
        """Check trade rows; return how many there were."""
        i_s, i_t, i_p, i_q, i_side = self.at
        return self._ticks(rows, i_t, lambda row: (
            _LOW < float(row[i_p]) < _HIGH
            and _LOW < float(row[i_q]) < _HIGH
            and bool(self.symbol(row[i_s]))
            and self.side(row[i_side])
        ))  # fmt: skip

    def quotes(self, rows: _Rows) -> int:
        """Check quote rows; return how many there were."""
        i_s, i_t, i_bp, i_bq, i_ap, i_aq = self.at

        def fast(row: Sequence[Any]) -> bool:
            bid, ask = float(row[i_bp]), float(row[i_ap])
            return (
                _LOW < bid <= ask < _HIGH
                and not (bid == ask and row[i_bp] != row[i_ap])
                and _LOW < float(row[i_bq]) < _HIGH
                and _LOW < float(row[i_aq]) < _HIGH
                and bool(self.symbol(row[i_s]))
            )

        return self._ticks(rows, i_t, fast)

    def _ticks(self, rows: _Rows, i_t: int, fast: Callable[[Sequence[Any]], bool]) -> int:
        last = -(2**63)
        count = 0
        for row in rows:
            count += 1
            try:
                at = int(row[i_t]) * 1000
                good = 0 <= at < _LATEST_US and fast(row)
            except (IndexError, ValueError, TypeError, OverflowError):
                good = False
            if not good:
                wrong, values = self.exact(row)
                if wrong:
                    if self.problem(rows.line_num, wrong):
                        return count
                    continue
                at = values["time"]
                self.seen.add(values["symbol"])
            if at < last:
                if self.problem(rows.line_num, _before(at, last)):
                    return count
                continue
            last = at
        return count


def _before(at: int, last: int) -> str:
    return (
        f"time {_time_text(at)} is before the previous row's ({_time_text(last)});"
        " rows must be in time order"
    )


def _candle_step(
    symbol: str, opened: int, before: int, line: int, gaps: dict[str, SymbolGaps]
) -> str:
    """A candle's open after the previous one of its symbol: a problem, or a gap counted."""
    if opened == before:
        return f"the same {symbol} candle (opening {_time_text(opened)}) as line {line}"
    if opened < before:
        return (
            f"{symbol} candle opening {_time_text(opened)} after the one of line {line}"
            f" (opening {_time_text(before)}); rows must be in time order"
        )
    if opened - before > MINUTE_US:
        gap = gaps.setdefault(symbol, SymbolGaps())
        gap.gaps += 1
        gap.missing += (opened - before) // MINUTE_US - 1
    return ""


# -- exact checks: a row as the replay reads it ---------------------------------------------


def _row_problems(layout: Layout, cells: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Every problem of one row ("; "-joined), and its values (times in microseconds)."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, cell in cells.items():
        if name == "symbol":
            text = str(cell).strip().upper()
            try:
                values[name] = _SYMBOLS.validate_python(text)
            except ValidationError:
                problems.append(f"symbol {_shown(cell)} is not an exchange symbol like BTCUSDT")
            continue
        if name == "side":
            try:
                _SIDES.validate_python(str(cell).strip().lower())
            except ValidationError:
                problems.append(f"side {_shown(cell)} is neither buy nor sell")
            continue
        read = _time if name in _TIMES else _amount
        try:
            values[name] = read(name, cell)
        except ValueError as exc:
            problems.append(str(exc))
    if not problems:
        problems += _relations(layout, values)
    return "; ".join(problems), values


def _shown(cell: Any) -> str:
    text = repr(cell)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _amount(name: str, cell: Any) -> Decimal:
    """Read an amount as the replay does; raise ValueError saying what is wrong with it."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise ValueError(f"{name} is missing")
    try:
        if isinstance(cell, float):
            value = Decimal(repr(cell))
        elif isinstance(cell, Decimal):
            value = cell
        else:
            value = Decimal(str(cell).strip())
    except InvalidOperation:
        raise ValueError(f"{name} {_shown(cell)} is not a decimal number") from None
    if value.is_nan():
        raise ValueError(f"{name} is NaN")
    if value.is_infinite():
        raise ValueError(f"{name} is infinite")
    if value < 0 or (value == 0 and name in _POSITIVE):
        raise ValueError(f"{name} {_shown(cell)} is {'zero' if value == 0 else 'negative'}")
    if name in _POSITIVE and value < SMALLEST_AMOUNT:
        raise ValueError(f"{name} {_shown(cell)} is below {SMALLEST_AMOUNT} (stored as 0)")
    if value >= MAX_MAGNITUDE:
        raise ValueError(f"{name} {_shown(cell)} is too large (below {MAX_MAGNITUDE:.0E})")
    return value


def _time(name: str, cell: Any) -> int:
    """Read a time as the replay does, in microseconds since the epoch."""
    if isinstance(cell, datetime):
        at = cell if cell.tzinfo else cell.replace(tzinfo=UTC)
        return (at - _EPOCH) // timedelta(microseconds=1)
    try:
        millis = int(str(cell).strip())
        datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{name} {_shown(cell)} is not a time in epoch milliseconds") from None
    return millis * 1000


def _relations(layout: Layout, v: dict[str, Any]) -> list[str]:
    """What a candle's prices and times, or a quote's bid and ask, must be to one another."""
    if layout is Layout.QUOTES and v["ask_price"] < v["bid_price"]:
        return [f"ask_price {v['ask_price']} is below bid_price {v['bid_price']} (crossed)"]
    if layout is not Layout.CANDLES:
        return []
    low, high = v["low"], v["high"]
    problems = []
    if high < low:
        problems.append(f"high {high} is below low {low}")
    else:
        problems += [
            f"{name} {v[name]} is outside low..high ({low}..{high})"
            for name in ("open", "close")
            if not low <= v[name] <= high
        ]
    if v["close_time"] <= v["open_time"]:
        problems.append("close_time is not after open_time")
    return problems
