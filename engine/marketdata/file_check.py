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
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
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


def check_market_data(path: Path) -> MarketDataCheck:
    """Check every row of the files `replay:path` plays; raise only when there are none."""
    found = MarketDataCheck(path)
    for file in market_files(path):
        if found.stopped:
            break
        found.files += 1
        trading = not file.name.lower().startswith(WARMUP_PREFIX)
        symbols = found.symbols if trading else found.history
        if file.suffix.lower() == ".csv":
            _check_csv(file, found, symbols)
        else:
            _check_parquet(file, found, symbols)
    found.history -= found.symbols
    return found


# -- files -----------------------------------------------------------------------------


class _Rows(Protocol):
    """Rows that know the line they ended on (a csv reader; `_ParquetRows`)."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[Sequence[Any]]: ...


def _check_csv(path: Path, found: MarketDataCheck, symbols: set[str]) -> None:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader, None)
                if header is None:
                    found.add(f"{path}: the file is empty (no header row)")
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


def _check_parquet(path: Path, found: MarketDataCheck, symbols: set[str]) -> None:
    try:
        file = pq.ParquetFile(path)
        names = list(file.schema_arrow.names)
    except PARQUET_ERRORS as exc:
        found.add(f"{path}: not a readable Parquet file ({exc})")
        return
    with file:
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
    if count == 0:
        found.add(f"{path} line 1: only a header, no data rows (nothing to replay)")


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
        last = -(2**63)  # the replay's time (a candle's close) of the previous row
        opened_at: dict[str, int] = {}
        line_at: dict[str, int] = {}
        count = 0
        for row in rows:
            count += 1
            try:
                s_, ot_, o_, h_, l_, c_, v_, ct_, q_ = cells(row)
                o, h, lo, c = float(o_), float(h_), float(l_), float(c_)
                v, q = float(v_), float(q_)
                opened, closed = int(ot_) * 1000, int(ct_) * 1000
                fast = (
                    _LOW < lo <= o <= h < _HIGH
                    and lo <= c <= h
                    and _LOW < v < _HIGH
                    and _LOW < q < _HIGH
                    and 0 <= opened < closed < _LATEST_US
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
            if closed - opened == _MEXC_CLOSE_US:
                closed = opened + MINUTE_US
            if closed < last:
                if self.problem(rows.line_num, _before(closed, last)):
                    return count
                continue
            last = closed
            before = opened_at.get(symbol)
            if before is not None and opened - before != MINUTE_US:
                wrong = _candle_step(symbol, opened, before, line_at[symbol], self.found.gaps)
                if wrong:
                    if self.problem(rows.line_num, wrong):
                        return count
                    continue
            opened_at[symbol] = opened
            line_at[symbol] = rows.line_num
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
