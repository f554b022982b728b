"""Turn MEXC's push frames and REST rows into the engine's market events.

Pure functions (plus one small stateful assembler): no network, no clock. Prices and
quantities go from MEXC's strings straight to `Decimal`. Event ids are derived from the
market fact, so the same candle or trade seen on the websocket and over REST dedupes.
A frame that cannot be read raises `EventDecodeError` listing what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from engine.errors import EventDecodeError
from engine.events import Candle, CandleInterval, QuoteTick, TradeTick, describe_validation_errors
from engine.events.fields import decimal_text
from engine.events.market_data import INTERVAL_LENGTHS, candle_id
from engine.marketdata.mexc.proto import body_kind, parse_wrapper

SOURCE = "mexc"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Websocket kline interval names -> the engine's.
WS_INTERVALS: dict[str, CandleInterval] = {
    "Min1": "1m",
    "Min5": "5m",
    "Min15": "15m",
    "Min30": "30m",
    "Min60": "1h",
    "Hour4": "4h",
    "Day1": "1d",
}
#: The engine's intervals -> the names `/api/v3/klines` takes (MEXC refuses `1h`).
REST_INTERVALS: dict[CandleInterval, str] = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "60m",
    "4h": "4h",
    "1d": "1d",
}
_SIDES = {1: "buy", 2: "sell"}

MarketEvent = TradeTick | QuoteTick | Candle


def from_milliseconds(value: int, *, name: str = "time", raw: object = None) -> datetime:
    """Return the UTC time `value` milliseconds after the epoch (exact, no float).

    A time no datetime holds (outside the years 1 to 9999) raises EventDecodeError naming
    the field `name`.
    """
    return _after_epoch(value, timedelta(milliseconds=1), name, raw)


def _after_epoch(count: int, unit: timedelta, name: str, raw: object) -> datetime:
    try:
        return EPOCH + unit * count
    except OverflowError:
        problem = f"{name}: {count} is not a time between the years 1 and 9999"
        raise EventDecodeError([problem], raw=raw) from None


def _window_close(interval: CandleInterval, open_time: datetime, raw: object) -> datetime:
    """When a window opened at `open_time` closes; a decode error past the year 9999."""
    try:
        return open_time + INTERVAL_LENGTHS[interval]
    except OverflowError:  # a window opening in the last minutes of the year 9999
        problem = f"open_time: a {interval} candle opened at {open_time} closes after 9999"
        raise EventDecodeError([problem], raw=raw) from None


def to_milliseconds(value: datetime) -> int:
    """Return milliseconds since the epoch of an aware datetime (exact, no float)."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def candle_event_id(symbol: str, open_time: datetime) -> str:
    """Return the id of a MEXC candle: the same for websocket and REST."""
    return candle_id(SOURCE, symbol, open_time)


def trade_event_id(symbol: str, trade_id: str | None, fact: Sequence[object]) -> str:
    """Return the id of a MEXC trade: from its trade id, else a stable hash of `fact`."""
    if trade_id:
        return f"trade-{SOURCE}-{symbol}-{trade_id}"
    digest = hashlib.sha256("|".join(str(part) for part in fact).encode()).hexdigest()
    return f"trade-{SOURCE}-{symbol}-h{digest[:32]}"


def decode_frame(data: bytes) -> Any:
    """Parse a binary websocket frame into a PushDataV3ApiWrapper, or raise EventDecodeError."""
    try:
        wrapper = parse_wrapper(data)
    except Exception as exc:  # protobuf's DecodeError has no stable import path across backends
        raise EventDecodeError([f"frame: not a PushDataV3ApiWrapper ({exc})"], raw=data) from exc
    if body_kind(wrapper) is None:
        raise EventDecodeError([f"frame: no known body (channel {wrapper.channel!r})"], raw=data)
    return wrapper


def wrapper_symbol(wrapper: Any) -> str:
    """Return the wrapper's symbol, falling back to the one named in its channel."""
    symbol = str(wrapper.symbol)
    if not symbol:
        parts = [p for p in str(wrapper.channel).split("@") if p.isupper() and p.isalnum()]
        symbol = parts[-1] if parts else ""
    if not symbol:
        raise EventDecodeError(["symbol: missing from the frame and its channel"], raw=wrapper)
    return symbol.upper()


def build_event(model: type[MarketEvent], raw: object, **fields: Any) -> Any:
    """Build an event model, turning a validation failure into EventDecodeError."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = [f"{model.__name__}: {line}" for line in describe_validation_errors(exc)]
        raise EventDecodeError(problems, raw=raw) from exc


def trade_ticks(wrapper: Any, *, ts_init: datetime) -> list[TradeTick]:
    """Return one TradeTick per deal of a `publicAggreDeals` frame."""
    symbol = wrapper_symbol(wrapper)
    ticks: list[TradeTick] = []
    for index, deal in enumerate(wrapper.publicAggreDeals.deals):
        side = _SIDES.get(int(deal.tradeType))
        problems = [] if side else [f"deals[{index}].tradeType: {deal.tradeType} is not 1 or 2"]
        if deal.time <= 0:
            problems.append(f"deals[{index}].time: missing")
        if problems:
            raise EventDecodeError(problems, raw=wrapper)
        fact = (symbol, deal.time, deal.price, deal.quantity, side, index)
        trade_id = str(deal.tradeId) or None
        tick = build_event(
            TradeTick,
            wrapper,
            event_id=trade_event_id(symbol, trade_id, fact),
            ts_event=from_milliseconds(int(deal.time), name=f"deals[{index}].time", raw=wrapper),
            ts_init=ts_init,
            source=SOURCE,
            symbol=symbol,
            price=str(deal.price),
            quantity=str(deal.quantity),
            side=side,
            trade_id=trade_id,
        )
        ticks.append(tick)
    return ticks


def quote_tick(wrapper: Any, *, ts_init: datetime) -> QuoteTick:
    """Return the QuoteTick of a `publicAggreBookTicker` frame, stamped with its send time."""
    book = wrapper.publicAggreBookTicker
    sides = (book.bidPrice, book.bidQuantity, book.askPrice, book.askQuantity)
    return _quote(wrapper, *(str(value) for value in sides), ts_init=ts_init)


def _quote(
    wrapper: Any, bid: str, bid_quantity: str, ask: str, ask_quantity: str, *, ts_init: datetime
) -> QuoteTick:
    sent = int(wrapper.sendTime) or int(wrapper.createTime)
    quote: QuoteTick = build_event(
        QuoteTick,
        wrapper,
        ts_event=from_milliseconds(sent, name="sendTime", raw=wrapper) if sent > 0 else ts_init,
        ts_init=ts_init,
        source=SOURCE,
        symbol=wrapper_symbol(wrapper),
        bid_price=bid,
        bid_quantity=bid_quantity,
        ask_price=ask,
        ask_quantity=ask_quantity,
    )
    return quote


class QuoteKeeper:
    """Turn book-ticker frames into quotes, keeping the side a frame leaves empty.

    MEXC sometimes sends one side of the best bid/ask as `""` (nothing, on the wire) while
    the other side carries news. A QuoteTick holds both sides, so the empty side keeps the
    last value MEXC sent for it, and the side that moved is not lost. That value is only
    as old as the symbol's previous quote on the same connection (`forget` is called when
    a connection ends), and it is never invented: with no earlier value for the side, or
    when the kept side would cross the fresh one (it is out of date, then), the frame
    yields no quote and the kept side is forgotten. A side with a price but no quantity
    (or the reverse) is malformed: EventDecodeError.
    """

    def __init__(self) -> None:
        self._last: dict[str, QuoteTick] = {}

    def quotes(self, wrapper: Any, *, ts_init: datetime) -> list[QuoteTick]:
        """Return the quote of one `publicAggreBookTicker` frame (none, or one)."""
        book = wrapper.publicAggreBookTicker
        bid = _side("bid", str(book.bidPrice), str(book.bidQuantity), wrapper)
        ask = _side("ask", str(book.askPrice), str(book.askQuantity), wrapper)
        symbol = wrapper_symbol(wrapper)
        if bid is None or ask is None:
            last = self._last.get(symbol)
            if last is None:
                return []
            bid = bid or (decimal_text(last.bid_price), decimal_text(last.bid_quantity))
            ask = ask or (decimal_text(last.ask_price), decimal_text(last.ask_quantity))
            if _crossed(bid[0], ask[0]):
                del self._last[symbol]  # the kept side is out of date
                return []
        quote = _quote(wrapper, *bid, *ask, ts_init=ts_init)
        self._last[symbol] = quote
        return [quote]

    def forget(self, symbols: Sequence[str]) -> None:
        """Drop what is known of `symbols`' quotes (their connection ended)."""
        for symbol in symbols:
            self._last.pop(symbol.upper(), None)


def _side(name: str, price: str, quantity: str, raw: object) -> tuple[str, str] | None:
    """Return a book side's (price, quantity), None when it is empty; a half side raises."""
    if not price and not quantity:
        return None
    if not price or not quantity:
        missing = f"{name}Price" if not price else f"{name}Quantity"
        problem = f"{missing}: missing while the other half of the side is set"
        raise EventDecodeError([problem], raw=raw)
    return price, quantity


def _crossed(bid: str, ask: str) -> bool:
    """Whether `ask` is below `bid` (False when either is not a number: the model says)."""
    try:
        return Decimal(ask) < Decimal(bid)
    except (InvalidOperation, ValueError):
        return False


def _candle(
    symbol: str,
    interval: CandleInterval,
    open_time: datetime,
    prices: tuple[object, object, object, object, object, object],
    *,
    ts_init: datetime,
    raw: object,
) -> Candle:
    """Build a Candle from (open, high, low, close, volume, quote volume); close = open + length."""
    opening, high, low, closing, volume, quote_volume = prices
    close_time = _window_close(interval, open_time, raw)
    candle: Candle = build_event(
        Candle,
        raw,
        event_id=candle_event_id(symbol, open_time),
        ts_event=close_time,
        ts_init=ts_init,
        source=SOURCE,
        symbol=symbol,
        interval=interval,
        open_time=open_time,
        close_time=close_time,
        open=opening,
        high=high,
        low=low,
        close=closing,
        volume=volume,
        quote_volume=quote_volume,
    )
    return candle


def kline_candle(wrapper: Any, *, ts_init: datetime) -> Candle:
    """Return the candle a `publicSpotKline` frame describes (complete or not)."""
    kline = wrapper.publicSpotKline
    interval = WS_INTERVALS.get(str(kline.interval))
    problems = [] if interval else [f"interval: {kline.interval!r} is not one claire keeps"]
    if kline.windowStart <= 0:
        problems.append("windowStart: missing")
    elif kline.windowEnd and kline.windowEnd <= kline.windowStart:
        problems.append(f"windowEnd: {kline.windowEnd} is not after {kline.windowStart}")
    if problems or interval is None:
        raise EventDecodeError(problems, raw=wrapper)
    prices = (
        str(kline.openingPrice),
        str(kline.highestPrice),
        str(kline.lowestPrice),
        str(kline.closingPrice),
        str(kline.volume),
        str(kline.amount),
    )
    opened = _after_epoch(int(kline.windowStart), timedelta(seconds=1), "windowStart", wrapper)
    return _candle(wrapper_symbol(wrapper), interval, opened, prices, ts_init=ts_init, raw=wrapper)


def rest_candle(
    symbol: str, interval: CandleInterval, row: Sequence[Any], *, ts_init: datetime
) -> Candle:
    """Return the Candle of one `/api/v3/klines` row.

    A row is `[openTime ms, open, high, low, close, volume, closeTime ms, quoteVolume]`;
    MEXC's closeTime is one millisecond before the next open, so close_time is set to
    open_time + interval, as on the websocket.
    """
    if not isinstance(row, Sequence) or isinstance(row, str) or len(row) < 8:
        raise EventDecodeError(["row: expected 8 columns"], raw=row)
    if not isinstance(row[0], int) or isinstance(row[0], bool):
        raise EventDecodeError([f"openTime: {row[0]!r} is not milliseconds"], raw=row)
    opened = from_milliseconds(row[0], name="openTime", raw=row)
    prices = (row[1], row[2], row[3], row[4], row[5], row[7])
    return _candle(symbol.upper(), interval, opened, prices, ts_init=ts_init, raw=row)


def quiet_window(kline: Any) -> bool:
    """Whether a kline push describes a window without trades and without prices.

    A window nothing traded in has no price to tell; MEXC may push it with zero volume and
    empty or zero prices. That is not a malformed frame (nor a lost candle): there is just
    no candle to make of it.
    """
    if _number(str(kline.volume)) != 0 or _number(str(kline.amount)) != 0:
        return False
    prices = (kline.openingPrice, kline.closingPrice, kline.highestPrice, kline.lowestPrice)
    return any(_number(str(price)) == 0 for price in prices)


def _number(text: str) -> Decimal | None:
    """Read MEXC's number text; "" is zero, and what is not a number (NaN too) None."""
    try:
        value = Decimal(text) if text else Decimal(0)
    except (InvalidOperation, ValueError):
        return None
    return None if value.is_nan() else value


class CandleAssembler:
    """Emit each kline window once, when it is complete.

    MEXC pushes the still-open window about every second; a window is complete when a push
    for a later window arrives, or when `flush(now)` is called at or after its close. A push
    of a window without trades or prices (`quiet_window`) makes no candle, but it does close
    the window before it.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], Candle] = {}
        self._emitted: dict[tuple[str, str], datetime] = {}

    def push(self, wrapper: Any, *, ts_init: datetime) -> list[Candle]:
        """Take one kline frame; return the candle it completes, if any."""
        if quiet_window(wrapper.publicSpotKline):
            return self._quiet(wrapper, ts_init)
        candle = kline_candle(wrapper, ts_init=ts_init)
        key = (candle.symbol, candle.interval)
        done = self._emitted.get(key)
        current = self._open.get(key)
        if (done is not None and candle.open_time <= done) or (
            current is not None and candle.open_time < current.open_time
        ):
            return []  # a late push for a window already emitted or superseded
        self._open[key] = candle
        if current is not None and candle.open_time > current.open_time:
            return [self._emit(key, current, ts_init)]
        return []

    def _quiet(self, wrapper: Any, ts_init: datetime) -> list[Candle]:
        """Close the open window of a quiet window's symbol if the quiet one is later."""
        kline = wrapper.publicSpotKline
        interval = WS_INTERVALS.get(str(kline.interval))
        if interval is None or kline.windowStart <= 0:
            return []
        key = (wrapper_symbol(wrapper), interval)
        opened = _after_epoch(int(kline.windowStart), timedelta(seconds=1), "windowStart", wrapper)
        _window_close(interval, opened, wrapper)  # a window that cannot close is malformed
        current = self._open.get(key)
        if current is None or opened <= current.open_time:
            return []
        del self._open[key]
        return [self._emit(key, current, ts_init)]

    def flush(self, now: datetime, *, ts_init: datetime | None = None) -> list[Candle]:
        """Return the open windows that have closed by `now` (exchange time)."""
        closed = [key for key, candle in self._open.items() if now >= candle.close_time]
        emitted = [self._emit(key, self._open.pop(key), ts_init or now) for key in closed]
        return sorted(emitted, key=lambda candle: (candle.close_time, candle.symbol))

    def _emit(self, key: tuple[str, str], candle: Candle, ts_init: datetime) -> Candle:
        self._emitted[key] = candle.open_time
        return candle.model_copy(update={"ts_init": ts_init})

    @property
    def pending(self) -> int:
        """Return how many windows are open."""
        return len(self._open)


def frame_events(
    wrapper: Any,
    assembler: CandleAssembler,
    *,
    ts_init: datetime,
    quotes: QuoteKeeper | None = None,
) -> list[MarketEvent]:
    """Return the events of one decoded frame (a kline frame yields only completed candles).

    `quotes` keeps the last quote of each symbol, to complete a book-ticker frame with an
    empty side (see QuoteKeeper); without it such a frame yields no quote.
    """
    kind = body_kind(wrapper)
    if kind == "publicAggreDeals":
        return list(trade_ticks(wrapper, ts_init=ts_init))
    if kind == "publicAggreBookTicker":
        return list((quotes or QuoteKeeper()).quotes(wrapper, ts_init=ts_init))
    if kind == "publicSpotKline":
        return list(assembler.push(wrapper, ts_init=ts_init))
    raise EventDecodeError([f"frame: unsupported body {kind!r}"], raw=wrapper)
