"""Recorded market data files: CSV (with a header row) and Parquet, in two layouts.

- candles: `symbol,open_time,open,high,low,close,volume,close_time,quote_volume`
  (times in epoch milliseconds, as MEXC's kline rows);
- trade ticks: `symbol,time,price,quantity,side`;
- best bid/ask quotes: `symbol,time,bid_price,bid_quantity,ask_price,ask_quantity` (recorded
  too, because paper fills price from bid/ask when it is known: without them a replay of a
  live session would fill at other prices).

Numbers are written as decimal text (Parquet: string columns), so nothing passes through a
float. Files are read as a stream, a batch at a time: memory does not grow with the file.
A directory holds `candles.<ext>`, `trades.<ext>`, `quotes.<ext>`, read merged in time order.
A file whose name starts with `warmup` holds history the engine only learned from (start-up
history, back-filled candles): it replays as such (source suffix `.history`), never trading.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from engine.atomic import replaced_atomically
from engine.errors import PermanentError
from engine.events import Candle, QuoteTick, TradeTick
from engine.events.fields import (
    MAX_MAGNITUDE,
    SMALLEST_AMOUNT,
    decimal_text,
    is_plain_code,
    is_plain_identifier,
    is_plain_symbol,
)
from engine.events.market_data import candle_id, recorded_tick_id
from engine.events.orders import OrderSide
from engine.events.trusted import trusted

CANDLE_COLUMNS = (
    "symbol",
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
)
TRADE_COLUMNS = ("symbol", "time", "price", "quantity", "side")
QUOTE_COLUMNS = ("symbol", "time", "bid_price", "bid_quantity", "ask_price", "ask_quantity")
WARMUP_PREFIX = "warmup"
SUFFIXES = (".csv", ".parquet")
MINUTE = timedelta(minutes=1)
BATCH_ROWS = 10_000

Recorded = Candle | TradeTick | QuoteTick


class Layout(StrEnum):
    """What the rows of a file are."""

    CANDLES = "candles"
    TRADES = "trades"
    QUOTES = "quotes"

    @property
    def columns(self) -> tuple[str, ...]:
        return {
            Layout.CANDLES: CANDLE_COLUMNS,
            Layout.TRADES: TRADE_COLUMNS,
            Layout.QUOTES: QUOTE_COLUMNS,
        }[self]


class MarketFileError(PermanentError):
    """A market data file cannot be read: missing, wrong layout, or a bad row."""


def layout_of(columns: Sequence[str], path: Path) -> Layout:
    """Return the layout whose columns the header holds (extra columns are ignored)."""
    names = {c.strip().lower() for c in columns}
    for layout in (Layout.CANDLES, Layout.QUOTES, Layout.TRADES):
        if set(layout.columns) <= names:
            return layout
    raise MarketFileError(
        f"{path}: the header ({', '.join(columns)}) is neither the candle layout "
        f"({','.join(CANDLE_COLUMNS)}) nor the trade layout ({','.join(TRADE_COLUMNS)}) "
        f"nor the quote layout ({','.join(QUOTE_COLUMNS)})"
    )


# -- reading -------------------------------------------------------------------------------


def read_market_data(
    path: Path, *, source: str = "replay", symbols: Collection[str] | None = None
) -> Iterator[Recorded]:
    """Yield the events of a file, or of a directory's files merged by event time; with
    `symbols`, only theirs (the rows of other symbols are skipped unread)."""
    files = market_files(path)
    wanted = None if symbols is None else frozenset(symbols)
    streams = [_read_file(f, _source_of(f, source), wanted) for f in files]
    if len(streams) == 1:
        yield from streams[0]
        return
    yield from heapq.merge(*streams, key=replay_order)


_TYPE_ORDER = {"candle": 0, "quote_tick": 1, "trade_tick": 2}


def replay_order(event: Recorded) -> tuple[datetime, int, str]:
    """The order market events are played in: event time, then candle, quote, trade, then
    symbol. The live feed releases events in the same order, so a recording replays the
    same sequence the live run processed."""
    return (event.ts_event, _TYPE_ORDER.get(event.type, 3), event.symbol)


def _source_of(path: Path, source: str) -> str:
    return f"{source}.history" if path.name.lower().startswith(WARMUP_PREFIX) else source


def market_files(path: Path) -> list[Path]:
    """Return the data files `path` names: itself, or a directory's `.csv`/`.parquet` files."""
    if not path.exists():
        raise MarketFileError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise MarketFileError(f"{path}: expected a .csv or .parquet file")
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise MarketFileError(f"{path}: the directory holds no .csv or .parquet file")
    return files


def content_digest(path: Path) -> str:
    """Return the SHA-256 of what `replay:PATH` plays: each data file's name and bytes, in
    order. Two recordings differ in it whenever one byte differs, wherever they live."""
    digest = hashlib.sha256()
    for file in market_files(path):
        digest.update(file.name.encode() + b"\0")
        try:
            with file.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise MarketFileError(f"{file}: cannot be read ({exc.strerror or exc})") from exc
        digest.update(b"\0")
    return digest.hexdigest()


def _read_file(path: Path, source: str, wanted: frozenset[str] | None) -> Iterator[Recorded]:
    fast = _parquet_columns(path, source, wanted) if path.suffix.lower() == ".parquet" else None
    last: datetime | None = None
    for number, event in fast or _row_events(path, source, wanted):
        if last is not None and event.ts_event < last:
            raise MarketFileError(
                f"{path}, row {number}: time {event.ts_event.isoformat()} is before the previous "
                f"row's ({last.isoformat()}); rows must be in time order"
            )
        last = event.ts_event
        yield event


def _row_events(
    path: Path, source: str, wanted: frozenset[str] | None
) -> Iterator[tuple[int, Recorded]]:
    """Each row's event with its row number (the header is row 1), read row by row."""
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _parquet_rows(path)
    header = next(rows, None)
    if header is None:
        raise MarketFileError(f"{path}: the file is empty (no header row)")
    layout = layout_of(header, path)
    index = {name.strip().lower(): i for i, name in enumerate(header)}
    converters: dict[Layout, Callable[[dict[str, Any], str, int], Recorded]] = {
        Layout.CANDLES: _candle,
        Layout.TRADES: _trade,
        Layout.QUOTES: _quote,
    }
    convert = converters[layout]
    for number, row in enumerate(rows, start=2):
        try:
            fields = {name: row[index[name]] for name in layout.columns}
        except IndexError as exc:  # a short row
            raise MarketFileError(f"{path}, row {number}: {_reason(exc)}") from exc
        event = _converted(path, number, fields, source=source, wanted=wanted, convert=convert)
        if event is not None:
            yield number, event


def _converted(
    path: Path,
    number: int,
    fields: dict[str, Any],
    *,
    source: str,
    wanted: frozenset[str] | None,
    convert: Callable[[dict[str, Any], str, int], Recorded],
) -> Recorded | None:
    """The row's event (None when its symbol is not wanted); raise MarketFileError naming
    the row and what is wrong with it."""
    try:
        if wanted is not None and str(fields["symbol"]).strip().upper() not in wanted:
            return None
        return convert(fields, source, number)
    except (KeyError, IndexError, ValueError, InvalidOperation, TypeError) as exc:
        raise MarketFileError(f"{path}, row {number}: {_reason(exc)}") from exc


def _parquet_columns(
    path: Path, source: str, wanted: frozenset[str] | None
) -> Iterator[tuple[int, Recorded]] | None:
    """A Parquet candle or trade file's events read a batch of columns at a time, when its
    columns are as claire writes them (symbol, side and amounts as text, times as
    integers); None for any other file (the row-wise reader takes it). A row that is not
    plainly good goes through the row-wise conversion, which words what is wrong with it."""
    plain = _plain_layout(path)
    if plain is None:
        return None
    layout, names = plain
    if layout is Layout.TRADES:
        return _trade_batches(path, [names[n] for n in TRADE_COLUMNS], source, wanted)
    return _candle_batches(path, [names[n] for n in _CANDLE_READ], source, wanted)


def _plain_layout(path: Path) -> tuple[Layout, dict[str, str]] | None:
    """The layout of a Parquet candle or trade file with its text and integer columns as
    claire writes them, and its column names by layout name; None for any other file."""
    try:
        with pq.ParquetFile(path) as file:
            schema = file.schema_arrow
    except PARQUET_ERRORS:
        return None  # the row-wise reader says what is wrong
    names = {name.strip().lower(): name for name in schema.names}
    try:
        layout = layout_of(list(names), path)
    except MarketFileError:
        return None
    kinds = {name: schema.field(names[name]).type for name in layout.columns}
    plain = layout is not Layout.QUOTES and all(
        pa.types.is_integer(kind) if name in _TIME_COLUMNS else pa.types.is_string(kind)
        for name, kind in kinds.items()
    )
    return (layout, names) if plain else None


def _candle_batches(
    path: Path, columns: list[str], source: str, wanted: frozenset[str] | None
) -> Iterator[tuple[int, Recorded]]:
    named: dict[str, str] = {}  # a row's symbol text -> the symbol, when plainly good
    plain_source = is_plain_code(source)
    for first, (symbols, opens, closes, *amounts) in _column_batches(path, columns):
        ids: dict[int, str] = {}
        for i, (raw, o_ms, c_ms) in enumerate(zip(symbols, opens, closes, strict=True)):
            symbol = _plain_symbol(raw, named)
            if wanted is not None and (symbol or str(raw).strip().upper()) not in wanted:
                continue
            cells = [a[i] for a in amounts]
            event: Recorded | None = None
            if plain_source and symbol is not None and o_ms is not None and c_ms is not None:
                event = _plain_candle(source, symbol, (o_ms, c_ms), cells, ids=ids)
            if event is None:  # the row-wise conversion words the problem
                fields = dict(zip(_CANDLE_READ, [raw, o_ms, c_ms, *cells], strict=True))
                event = _converted(
                    path, first + i, fields, source=source, wanted=wanted, convert=_candle
                )
            if event is not None:
                yield first + i, event


def _trade_batches(
    path: Path, columns: list[str], source: str, wanted: frozenset[str] | None
) -> Iterator[tuple[int, Recorded]]:
    """A trade file's events, read as `_candle_batches` reads candles."""
    named: dict[str, str] = {}
    plain_source = is_plain_code(source)
    for first, (symbols, times, prices, quantities, sides) in _column_batches(path, columns):
        for i, raw in enumerate(symbols):
            symbol = _plain_symbol(raw, named)
            if wanted is not None and (symbol or str(raw).strip().upper()) not in wanted:
                continue
            number = first + i
            event: Recorded | None = None
            cells = (times[i], prices[i], quantities[i], sides[i])
            if plain_source and symbol is not None and times[i] is not None:
                event = _plain_trade(source, symbol, number, cells)
            if event is None:  # the row-wise conversion words the problem
                fields = dict(zip(TRADE_COLUMNS, (raw, *cells), strict=True))
                event = _converted(
                    path, number, fields, source=source, wanted=wanted, convert=_trade
                )
            if event is not None:
                yield number, event


def _plain_symbol(raw: Any, named: dict[str, str]) -> str | None:
    """The symbol a row's text spells, when it is plainly good (`named`: those seen)."""
    if raw is None:
        return None
    symbol = named.get(raw)
    if symbol is None:
        symbol = str(raw).strip().upper()
        if not is_plain_symbol(symbol):
            return None
        named[raw] = symbol
    return symbol


def _plain_trade(
    source: str, symbol: str, number: int, cells: tuple[Any, Any, Any, Any]
) -> TradeTick | None:
    """The trade of a row (`cells`: its time, price, quantity and side) whose every value
    keeps the TradeTick rules, else None."""
    ms, price, quantity, side = cells
    try:
        at = datetime.fromtimestamp(ms / 1000, tz=UTC)
        amounts = Decimal(price), Decimal(quantity)
    except (ValueError, OverflowError, OSError, InvalidOperation, TypeError):
        return None
    aggressor = _SIDE_TEXT.get(side.strip().lower()) if isinstance(side, str) else None
    envelope = _tick_envelope("trade", source, symbol, at, number)
    plain = is_plain_identifier(envelope["event_id"]) and all(map(_plain_amount, amounts))
    if aggressor is None or not plain:
        return None
    return trusted(
        TradeTick,
        **envelope,
        price=amounts[0],
        quantity=amounts[1],
        side=aggressor,
    )


def _plain_amount(value: Decimal) -> bool:
    """Tell whether a price or quantity keeps the rules of one: finite, storable, > 0."""
    return value.is_finite() and SMALLEST_AMOUNT <= value < MAX_MAGNITUDE


#: A trade row's side as text, by what it spells once trimmed and in lower case.
_SIDE_TEXT = {side.value: side for side in OrderSide}
#: The columns of epoch-millisecond times; every other column is text.
_TIME_COLUMNS = frozenset({"time", "open_time", "close_time"})


def _column_batches(path: Path, columns: list[str]) -> Iterator[tuple[int, list[list[Any]]]]:
    """The file's columns a batch at a time, each batch with its first row's number (the
    header is row 1); raise MarketFileError naming the first row that cannot be read."""
    number = 2
    try:
        with pq.ParquetFile(path) as file:
            for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                yield number, [batch.column(c).to_pylist() for c in columns]
                number += batch.num_rows
    except PARQUET_ERRORS as exc:
        raise MarketFileError(f"{path}, row {number}: damaged, cannot be read ({exc})") from exc


def _plain_candle(
    source: str, symbol: str, times: tuple[int, int], cells: list[Any], *, ids: dict[int, str]
) -> Candle | None:
    """The candle of a row whose every value keeps the Candle rules, else None (`ids`:
    the event id's time stamp by open time, shared by a minute's symbols)."""
    o_ms, c_ms = times
    if c_ms - o_ms == _MEXC_CLOSE_MS:  # MEXC's closeTime style
        c_ms = o_ms + _MINUTE_MS
    try:
        opened = datetime.fromtimestamp(o_ms / 1000, tz=UTC)
        closed = datetime.fromtimestamp(c_ms / 1000, tz=UTC)
        o, h, low, c, volume, quote = map(Decimal, cells)
    except (ValueError, OverflowError, OSError, InvalidOperation, TypeError):
        return None
    minute = ids.get(o_ms)
    if minute is None:
        minute = ids[o_ms] = f"{opened:%Y%m%dT%H%M}"
    values = _candle_values(source, symbol, (opened, closed), (o, h, low, c, volume, quote), minute)
    return trusted(Candle, **values) if _vouched(values) else None


def _candle_values(
    source: str,
    symbol: str,
    window: tuple[datetime, datetime],
    amounts: Sequence[Decimal],
    minute: str | None = None,
) -> dict[str, Any]:
    """A recorded candle's fields: known at its close (`minute`: its open, written). Spelled
    out, not built from `stamped`: this runs once per row of a replay, and an id the plain
    check or the validation finds too long is refused there."""
    opened, closed = window
    o, h, low, c, volume, quote = amounts
    return {
        "event_id": candle_id(source, symbol, minute or opened),
        "ts_event": closed,
        "ts_init": closed,
        "source": source,
        "symbol": symbol,
        "open_time": opened,
        "close_time": closed,
        "open": o,
        "high": h,
        "low": low,
        "close": c,
        "volume": volume,
        "quote_volume": quote,
    }


def _tick_envelope(
    kind: Literal["trade", "quote"], source: str, symbol: str, at: datetime, row: int
) -> dict[str, Any]:
    """A recorded trade's or quote's envelope and symbol: known when it printed (spelled out
    for speed, as `_candle_values`)."""
    return {
        "event_id": recorded_tick_id(kind, source, symbol, int(at.timestamp() * 1000), row),
        "ts_event": at,
        "ts_init": at,
        "source": source,
        "symbol": symbol,
    }


_AMOUNTS = ("open", "high", "low", "close", "volume", "quote_volume")
#: The order `_candle_batches` reads a candle file's columns in.
_CANDLE_READ = ("symbol", "open_time", "close_time", *_AMOUNTS)
_MINUTE_MS = 60_000
_MEXC_CLOSE_MS = _MINUTE_MS - 1


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    if hasattr(exc, "errors"):  # a pydantic ValidationError: name every field problem
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return "; ".join(problems)
    return text or type(exc).__name__


def _csv_rows(path: Path) -> Generator[list[Any]]:
    """Yield the rows of a CSV file, header first; raise MarketFileError where one is unreadable."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            try:
                yield from reader
            except csv.Error as exc:  # e.g. a field over the csv module's limit (128 KiB)
                raise MarketFileError(f"{path}, line {reader.line_num}: {exc}") from exc
    except UnicodeDecodeError as exc:
        line = first_line_not_utf8(path)
        raise MarketFileError(f"{path}, line {line}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise MarketFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def first_line_not_utf8(path: Path) -> int:
    """Return the number of the first line of `path` that is not UTF-8 (0 if every one is)."""
    with path.open("rb") as handle:  # no UTF-8 sequence holds a newline byte: lines decode alone
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


#: What pyarrow raises for a damaged file (bad pages, a schema it cannot convert).
PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError, OverflowError)


def _parquet_rows(path: Path) -> Generator[list[Any]]:
    """Yield the rows of a Parquet file, header first; raise MarketFileError where one is
    unreadable (rows are numbered as in a CSV file: the header is row 1)."""
    try:
        table = pq.ParquetFile(path)
        names = table.schema_arrow.names
    except PARQUET_ERRORS as exc:
        raise MarketFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    with table:
        yield list(names)
        number = 2
        try:
            for batch in table.iter_batches(batch_size=BATCH_ROWS):
                columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                yield from (list(row) for row in zip(*columns, strict=True))
                number += batch.num_rows
        except PARQUET_ERRORS as exc:
            raise MarketFileError(f"{path}, row {number}: damaged, cannot be read ({exc})") from exc


def _number(row: dict[str, Any], name: str) -> Decimal:
    value = row[name]
    if isinstance(value, float):
        return Decimal(repr(value))  # a float column: its shortest exact spelling
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{name}: not a decimal number ({value!r})") from None


def _time(row: dict[str, Any], name: str) -> datetime:
    value = row[name]
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromtimestamp(int(str(value).strip()) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{name}: not a time in epoch milliseconds ({value!r})") from None


def _candle(row: dict[str, Any], source: str, number: int) -> Candle:
    opened = _time(row, "open_time")
    closed = _time(row, "close_time")
    if closed - opened == MINUTE - timedelta(milliseconds=1):  # MEXC's closeTime style
        closed = opened + MINUTE
    symbol = str(row["symbol"]).strip().upper()
    amounts = [_number(row, name) for name in _AMOUNTS]
    values = _candle_values(source, symbol, (opened, closed), amounts)
    if _vouched(values) and is_plain_code(source) and is_plain_symbol(symbol):
        return trusted(Candle, **values)
    return Candle(**values)  # validation words what is wrong


def _vouched(v: dict[str, Any]) -> bool:
    """Tell whether a candle's times and amounts keep every rule a Candle enforces."""
    o, h, low, c, volume, quote = (v[name] for name in _AMOUNTS)
    return (
        v["open_time"].tzinfo is UTC
        and v["close_time"].tzinfo is UTC
        and v["open_time"] < v["close_time"]
        and all(x.is_finite() for x in (o, h, low, c, volume, quote))
        and SMALLEST_AMOUNT <= low <= min(o, c)
        and max(o, c) <= h < MAX_MAGNITUDE
        and 0 <= volume < MAX_MAGNITUDE
        and 0 <= quote < MAX_MAGNITUDE
    )


def _trade(row: dict[str, Any], source: str, number: int) -> TradeTick:
    at = _time(row, "time")
    symbol = str(row["symbol"]).strip().upper()
    return TradeTick(
        **_tick_envelope("trade", source, symbol, at, number),
        price=_number(row, "price"),
        quantity=_number(row, "quantity"),
        side=str(row["side"]).strip().lower(),
    )


def _quote(row: dict[str, Any], source: str, number: int) -> QuoteTick:
    at = _time(row, "time")
    symbol = str(row["symbol"]).strip().upper()
    return QuoteTick(
        **_tick_envelope("quote", source, symbol, at, number),
        bid_price=_number(row, "bid_price"),
        bid_quantity=_number(row, "bid_quantity"),
        ask_price=_number(row, "ask_price"),
        ask_quantity=_number(row, "ask_quantity"),
    )


# -- writing -------------------------------------------------------------------------------


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def row_of(event: Recorded) -> list[str | int]:
    """Return the file row of a candle or trade tick."""
    if isinstance(event, Candle):
        return [
            event.symbol,
            _ms(event.open_time),
            decimal_text(event.open),
            decimal_text(event.high),
            decimal_text(event.low),
            decimal_text(event.close),
            decimal_text(event.volume),
            _ms(event.close_time),
            decimal_text(event.quote_volume),
        ]
    if isinstance(event, QuoteTick):
        return [
            event.symbol,
            _ms(event.ts_event),
            decimal_text(event.bid_price),
            decimal_text(event.bid_quantity),
            decimal_text(event.ask_price),
            decimal_text(event.ask_quantity),
        ]
    side = str(event.side)
    return [
        event.symbol,
        _ms(event.ts_event),
        decimal_text(event.price),
        decimal_text(event.quantity),
        side,
    ]


def write_market_file(path: Path, events: Iterable[Recorded], layout: Layout) -> int:
    """Write `events` of one layout to `path` (.csv or .parquet) atomically; return the rows."""
    if path.suffix.lower() not in SUFFIXES:
        raise MarketFileError(f"{path}: choose a .csv or .parquet file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as partial:
        if path.suffix.lower() == ".csv":
            with partial.open("w", newline="", encoding="utf-8") as handle:
                return _write_csv(handle, events, layout)
        return _write_parquet(partial, events, layout)


def _write_csv(handle: TextIO, events: Iterable[Recorded], layout: Layout) -> int:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(layout.columns)
    rows = 0
    for event in events:
        writer.writerow(row_of(event))
        rows += 1
    return rows


def _parquet_schema(layout: Layout) -> pa.Schema:
    return pa.schema(
        [(name, pa.int64() if name in _TIME_COLUMNS else pa.string()) for name in layout.columns]
    )


def _write_parquet(path: Path, events: Iterable[Recorded], layout: Layout) -> int:
    schema = _parquet_schema(layout)
    rows = 0
    batch: list[list[str | int]] = []
    with pq.ParquetWriter(path, schema) as writer:
        for event in events:
            batch.append(row_of(event))
            rows += 1
            if len(batch) >= BATCH_ROWS:
                writer.write_table(_table(batch, schema))
                batch = []
        if batch or rows == 0:
            writer.write_table(_table(batch, schema))
    return rows


def _table(rows: list[list[str | int]], schema: pa.Schema) -> pa.Table:
    columns = {name: [row[i] for row in rows] for i, name in enumerate(schema.names)}
    return pa.table(columns, schema=schema)


class MarketRecorder:
    """Append what the engine receives to CSV files in `directory`, one per layout and symbol
    (`candles_BTCUSDT.csv`, `trades_...`, `quotes_...`; history it only learned from goes to
    `warmup_candles_<SYMBOL>.csv`).

    Flushed after every batch: a crash loses at most the batch in hand, and the files stay
    readable (the replay source reads exactly this directory). A resumed run appends to the
    files its first engine wrote; the market it plays again after its cut was recorded then,
    so a row older than a file's last one, or the same as one of its last time, is skipped,
    and so is the market before the cut it plays again as history (a history row no later
    than its live file's last: the live file holds that minute).
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._handles: dict[str, TextIO] = {}
        #: Per file appended to: its last row's time (ms) and the rows of that time.
        self._tails: dict[str, tuple[int, set[str]]] = {}
        #: Per live file: the time (ms) of its last row, as far as it is known.
        self._live_last: dict[str, int | None] = {}
        self.rows: dict[Layout, int] = dict.fromkeys(Layout, 0)
        self.skipped = 0

    def record(self, events: Iterable[object]) -> None:
        """Append the candles, trades and quotes among `events`; ignore everything else."""
        touched: set[str] = set()
        for event in events:
            if isinstance(event, Candle):
                layout = Layout.CANDLES
            elif isinstance(event, TradeTick):
                layout = Layout.TRADES
            elif isinstance(event, QuoteTick):
                layout = Layout.QUOTES
            else:
                continue
            # Back-filled candles are the market's minutes the run could not trade (it was
            # disconnected): recorded with the others, a replay of the recording trades them
            # as a backtest of the same minutes would. Only the start-up history is warm-up.
            history = event.source.endswith(".history")
            live = f"{layout}_{event.symbol}.csv"
            name = f"{WARMUP_PREFIX}_{live}" if history else live
            row = row_of(event)
            if history and int(row[1]) <= (self._last_live(live) or -1):
                self.skipped += 1
                continue
            handle = self._handle(name, layout)
            if name in self._tails and self._recorded_before(name, row):
                self.skipped += 1
                continue
            csv.writer(handle, lineterminator="\n").writerow(row)
            if not history:
                self._live_last[live] = int(row[1])
            self.rows[layout] += 1
            touched.add(name)
        for name in touched:
            self._handles[name].flush()

    def _last_live(self, name: str) -> int | None:
        if name not in self._live_last:
            path = self.directory / name
            tail = _last_rows(path) if path.exists() else None
            self._live_last[name] = None if tail is None else tail[0]
        return self._live_last[name]

    def _recorded_before(self, name: str, row: list[str | int]) -> bool:
        last, rows = self._tails[name]
        at = int(row[1])
        if at > last:  # past what the file held: nothing more to look at
            del self._tails[name]
            return False
        return at < last or _csv_line(row) in rows

    def _handle(self, name: str, layout: Layout) -> TextIO:
        if name not in self._handles:
            path = self.directory / name
            fresh = not path.exists() or path.stat().st_size == 0
            if not fresh:
                tail = _last_rows(path)
                if tail is not None:
                    self._tails[name] = tail
            handle = path.open("a", newline="", encoding="utf-8")
            if fresh:
                csv.writer(handle, lineterminator="\n").writerow(layout.columns)
            self._handles[name] = handle
        return self._handles[name]

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()


def _csv_line(row: list[str | int]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue().rstrip("\n")


def _last_rows(path: Path, window: int = 65_536) -> tuple[int, set[str]] | None:
    """A recorded file's last row time (ms) and its rows of that time (read from its end)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - window))
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    if size > window:
        lines = lines[1:]  # the first may be cut
    timed = [(int(cells[1]), line) for line in lines
             if len(cells := line.split(",")) > 1 and cells[1].isdigit()]  # fmt: skip
    if not timed:
        return None
    last = timed[-1][0]
    return last, {line for at, line in timed if at == last}


def recorded_range(directory: Path) -> tuple[datetime, datetime] | None:
    """The event times of a recording's (`MarketRecorder`'s) first and last rows, read from
    each file's first and last lines only (a week's recording is not parsed whole)."""
    times: list[int] = []
    for path in directory.glob("*.csv"):
        with path.open("rb") as handle:
            cells = (handle.read(4096).splitlines()[1:2] or [b""])[0].split(b",")
        if len(cells) > 1 and cells[1].isdigit():
            times.append(int(cells[1]))
        tail = _last_rows(path)
        if tail is not None:
            times.append(tail[0])
    if not times:
        return None
    first, last = min(times), max(times)
    return datetime.fromtimestamp(first / 1000, tz=UTC), datetime.fromtimestamp(last / 1000, tz=UTC)


# -- inspecting ----------------------------------------------------------------------------


@dataclass
class SymbolSummary:
    """What a file holds of one symbol."""

    symbol: str
    rows: int = 0
    first: datetime | None = None
    last: datetime | None = None
    gaps: list[tuple[datetime, datetime, int]] = field(default_factory=list)

    @property
    def missing_minutes(self) -> int:
        return sum(missing for _, _, missing in self.gaps)


@dataclass
class FileSummary:
    """What `claire data inspect` shows of a file or directory."""

    path: Path
    layouts: list[str]
    symbols: dict[str, SymbolSummary]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.symbols.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "layouts": self.layouts,
            "rows": self.rows,
            "symbols": [
                {
                    "symbol": s.symbol,
                    "rows": s.rows,
                    "first": s.first.isoformat() if s.first else None,
                    "last": s.last.isoformat() if s.last else None,
                    "missing_minutes": s.missing_minutes,
                    "gaps": [
                        {"from": a.isoformat(), "to": b.isoformat(), "missing": n}
                        for a, b, n in s.gaps
                    ],
                }
                for s in self.symbols.values()
            ],
        }


def inspect_market_data(path: Path, *, silence: timedelta = timedelta(minutes=5)) -> FileSummary:
    """Read a file (or directory) once: rows, range and gaps per symbol.

    A candle gap is a jump of more than one minute between consecutive candles of a symbol;
    for trade ticks, a silence longer than `silence`.
    """
    layouts = sorted({_layout_of_file(f).value for f in market_files(path)})
    symbols: dict[str, SymbolSummary] = {}
    previous: dict[tuple[str, str], datetime] = {}
    for event in read_market_data(path):
        summary = symbols.setdefault(event.symbol, SymbolSummary(event.symbol))
        summary.rows += 1
        at = event.open_time if isinstance(event, Candle) else event.ts_event
        summary.first = at if summary.first is None else min(summary.first, at)
        summary.last = at if summary.last is None else max(summary.last, at)
        key = (event.symbol, event.type)
        before = previous.get(key)
        step = MINUTE if isinstance(event, Candle) else silence
        if before is not None and at - before > step:
            missing = int((at - before) / MINUTE) - 1 if isinstance(event, Candle) else 0
            summary.gaps.append((before, at, missing))
        previous[key] = at
    return FileSummary(path, layouts, dict(sorted(symbols.items())))


def _layout_of_file(path: Path) -> Layout:
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _parquet_rows(path)
    with closing(rows):
        header = next(rows, None)
    if header is None:
        raise MarketFileError(f"{path}: the file is empty (no header row)")
    return layout_of(header, path)
