"""Fuzzing MEXC's inputs: websocket protobuf frames, control text and REST JSON answers.

Whatever MEXC (or a proxy, or a bit flip) sends, the decoders return valid events or raise
the engine's own errors (`EventDecodeError`, or an exchange error saying what MEXC refused);
the websocket reader counts a bad frame and carries on.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ClaireError, EventDecodeError
from engine.events import Candle, QuoteTick, TradeTick, decode_event, encode_event
from engine.marketdata.mexc import proto
from engine.marketdata.mexc.convert import (
    REST_INTERVALS,
    WS_INTERVALS,
    CandleAssembler,
    decode_frame,
    frame_events,
    rest_candle,
)
from engine.marketdata.mexc.rest import (
    BOOK_TICKER,
    EXCHANGE_INFO,
    KLINES,
    MexcRest,
    SymbolInfo,
    parse_symbol_info,
)
from engine.marketdata.mexc.websocket import (
    ConnectionChange,
    MexcWebsocket,
    SubscriptionRefused,
    _Link,
)

FUZZ = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
FUZZ_SEQUENCES = settings(FUZZ, max_examples=100)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
HOUR = timedelta(hours=1)
T = TypeVar("T")

# Times MEXC's clocks can plausibly send (roughly 1830..2105), and any other int64 a frame
# can carry: most of those are past the year 9999, where no datetime goes.
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
far_times = INT64 | st.sampled_from([2**62, 2**63 - 1, 253_402_300_800_000, 253_402_300_740])
millis = st.integers(min_value=-(2**41), max_value=2**42) | far_times
seconds = st.integers(min_value=-(2**32), max_value=2**32) | far_times
wild_amounts = st.one_of(
    st.sampled_from(["", "0", "-1", "NaN", "Infinity", "1e999999", "1E-30", " 1", "1_0", "x"]),
    st.text(max_size=12),
)
good_amounts = st.decimals(min_value="0.00000001", max_value=10**9, places=8).map(str)
wild_symbols = st.sampled_from(["ethusdt", "", "BTC/USDT", "B"]) | st.text(max_size=12)
wild_channels = st.sampled_from(["", "@@@", "spot@public.kline.v3.api.pb@Min1"]) | st.text(
    max_size=40
)
CHANNEL = {
    "publicAggreDeals": "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT",
    "publicSpotKline": "spot@public.kline.v3.api.pb@BTCUSDT@Min1",
    "publicAggreBookTicker": "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
}


@st.composite
def wrappers(draw: st.DrawFn) -> Any:
    """A push frame of each body kind: valid, or with any of its fields made absurd."""
    wild = draw(st.booleans())

    def pick(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        return draw(bad) if wild and draw(st.integers(0, 3)) == 0 else draw(good)

    kind = draw(st.sampled_from([*proto.BODY_FIELDS, None]))
    wrapper = proto.PushDataV3ApiWrapper(
        channel=pick(st.just(CHANNEL.get(kind or "", "")), wild_channels),
        symbol=pick(st.just("BTCUSDT"), wild_symbols),
        sendTime=pick(st.just(NOW_S * 1000), millis),
        createTime=pick(st.just(NOW_S * 1000), millis),
    )
    if kind == "publicAggreDeals":
        for _ in range(draw(st.integers(0, 4))):
            wrapper.publicAggreDeals.deals.add(
                price=pick(good_amounts, wild_amounts),
                quantity=pick(good_amounts, wild_amounts),
                tradeType=pick(st.sampled_from([1, 2]), st.integers(-1, 3)),
                time=pick(st.integers(1, 2**42), millis),
                tradeId=pick(st.from_regex(r"[0-9]{1,8}", fullmatch=True), st.text(max_size=8)),
            )
    elif kind == "publicAggreBookTicker":
        book = wrapper.publicAggreBookTicker
        bid, ask = sorted(draw(st.lists(good_amounts.map(float), min_size=2, max_size=2)))
        book.bidPrice, book.askPrice = (
            pick(st.just(str(bid)), wild_amounts),
            pick(st.just(str(ask)), wild_amounts),
        )
        book.bidQuantity = pick(good_amounts, wild_amounts)
        book.askQuantity = pick(good_amounts, wild_amounts)
    elif kind == "publicSpotKline":
        kline = wrapper.publicSpotKline
        kline.interval = pick(st.just("Min1"), st.sampled_from([*WS_INTERVALS, "Min2", ""]))
        kline.windowStart = pick(st.integers(NOW_S, NOW_S + 600).map(lambda s: s - s % 60), seconds)
        end = min(kline.windowStart + 60, 2**63 - 1)  # a far start's end still fits an int64
        kline.windowEnd = pick(st.just(end), seconds)
        low, opening, closing, high = sorted(
            draw(st.lists(good_amounts, min_size=4, max_size=4)), key=float
        )
        kline.openingPrice = pick(st.just(opening), wild_amounts)
        kline.closingPrice = pick(st.just(closing), wild_amounts)
        kline.highestPrice = pick(st.just(high), wild_amounts)
        kline.lowestPrice = pick(st.just(low), wild_amounts)
        kline.volume = pick(good_amounts, wild_amounts)
        kline.amount = pick(good_amounts, wild_amounts)
    return wrapper


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, inserted, deleted, or cut off."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, len(buffer)))
        if action == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif buffer and action == "flip":
            buffer[min(at, len(buffer) - 1)] ^= draw(st.integers(1, 255))
        elif action == "delete":
            del buffer[at : at + draw(st.integers(1, 4))]
        else:
            del buffer[at:]
    return bytes(buffer)


@st.composite
def retimed(draw: st.DrawFn, wrapper: Any) -> Any:
    """`wrapper` with every time it carries replaced by any int64."""
    wrapper.sendTime, wrapper.createTime = draw(far_times), draw(far_times)
    for deal in wrapper.publicAggreDeals.deals:
        deal.time = draw(far_times)
    kline = wrapper.publicSpotKline
    kline.windowStart = draw(far_times)
    kline.windowEnd = draw(st.just(min(kline.windowStart + 60, 2**63 - 1)) | far_times)
    return wrapper


frames = st.one_of(
    st.binary(max_size=200),
    wrappers().map(lambda w: w.SerializeToString()),
    wrappers().flatmap(lambda w: mutated(w.SerializeToString())),
    wrappers().flatmap(retimed).map(lambda w: w.SerializeToString()),
)


def assert_market_event(event: object) -> None:
    assert isinstance(event, TradeTick | QuoteTick | Candle)
    assert decode_event(encode_event(event)) == event


def returned_or_raised(
    call: Callable[[], T], error: type[ClaireError] = EventDecodeError
) -> T | Any:
    """Return what `call` returns, or the `error` it raised; any other exception fails."""
    try:
        return call()
    except error as exc:
        return exc


def assert_clear(error: ClaireError) -> None:
    assert error.message.strip()
    if isinstance(error, EventDecodeError):
        assert error.problems
        assert all(isinstance(problem, str) and problem for problem in error.problems)


def events_or_decode_error(data: bytes, assembler: CandleAssembler) -> list[Any]:
    wrapper = returned_or_raised(lambda: decode_frame(data))
    if isinstance(wrapper, EventDecodeError):
        assert_clear(wrapper)
        return []
    events = returned_or_raised(lambda: frame_events(wrapper, assembler, ts_init=NOW))
    if isinstance(events, EventDecodeError):
        assert_clear(events)
        return []
    return list(events)


# -- websocket ------------------------------------------------------------------------------


@FUZZ
@given(frames)
def test_fuzz_frame_then_market_events_or_decode_error(data: bytes) -> None:
    for event in events_or_decode_error(data, CandleAssembler()):
        assert_market_event(event)


@FUZZ_SEQUENCES
@given(st.lists(frames, max_size=8), st.integers(0, 3 * 3600))
def test_fuzz_frame_sequence_through_one_assembler_then_flush_never_raises(
    data: list[bytes], flush_after: int
) -> None:
    assembler = CandleAssembler()
    for frame in data:
        for event in events_or_decode_error(frame, assembler):
            assert_market_event(event)
    for candle in assembler.flush(NOW + timedelta(seconds=flush_after)):
        assert_market_event(candle)


def websocket() -> MexcWebsocket:
    return MexcWebsocket(
        "ws://127.0.0.1:9", ["BTCUSDT"], clock=lambda: NOW, on_decode_error=lambda _: None
    )


@FUZZ_SEQUENCES
@given(st.lists(frames, min_size=1, max_size=6))
def test_fuzz_websocket_binary_frames_then_counted_or_queued_never_raised(
    data: list[bytes],
) -> None:
    ws = websocket()

    async def feed() -> None:
        for frame in data:
            await ws._on_binary(frame)

    asyncio.run(feed())
    assert 0 <= ws.decode_errors <= len(data)
    while not ws._queue.empty():
        assert_market_event(ws._queue.get_nowait())


json_leaves = (
    st.none()
    | st.booleans()
    | millis
    | st.floats()  # Python's json reads and writes NaN and Infinity (1e400 reads as Infinity)
    | st.text(max_size=12)
)
#: JSON nested deeper than Python's parser recurses.
deep_json = st.integers(1_000, 100_000).flatmap(
    lambda depth: st.sampled_from(["[" * depth, '{"msg":' * depth, "[" * depth + "]" * depth])
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
control_texts = st.one_of(
    st.text(max_size=80),
    deep_json,
    json_values.map(json.dumps),
    st.fixed_dictionaries({"msg": st.text(max_size=60) | json_values}).map(json.dumps),
    st.sampled_from(
        [
            '{"id":0,"code":0,"msg":"PONG"}',
            '{"id":0,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"}',
            '{"msg":"Not Subscribed successfully! [spot@x].  Reason\\uff1a Blocked!"}',
            '{"msg":"Not Subscribed successfully!"}',
        ]
    ),
)


@FUZZ
@given(control_texts)
def test_fuzz_websocket_text_frame_then_handled_or_refusal(text: str) -> None:
    ws = websocket()
    asked = list(ws._channels_of(["BTCUSDT"]))
    link = _Link(0, ("BTCUSDT",), list(asked))
    asyncio.run(ws._on_text(link, text))  # never raises: a refusal is an item on the feed
    queued = []
    while not ws._queue.empty():
        queued.append(ws._queue.get_nowait())
    refusals = [item for item in queued if isinstance(item, SubscriptionRefused)]
    changes = [item for item in queued if isinstance(item, ConnectionChange)]
    assert len(refusals) + len(changes) == len(queued)  # refusals, or the connection's news
    assert all(change.kind == "connected" for change in changes)
    assert len(changes) <= 1
    assert link.connected == bool(changes)
    refused = [channel for item in refusals for channel in item.channels]
    assert set(refused) <= set(asked)
    assert len(refused) == len(set(refused))
    assert not set(refused) & set(link.channels)  # a refused channel is dropped for good
    assert all(item.reason for item in refusals)


# -- REST -----------------------------------------------------------------------------------

KLINE_ROW: list[Any] = [
    NOW_S * 1000,
    "100",
    "102",
    "99",
    "101",
    "1.5",
    NOW_S * 1000 + 59_999,
    "150",
]
SYMBOL_INFO: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "status": "1",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 2,
    "baseSizePrecision": "0.000001",
    "quoteAmountPrecision": "5",
    "makerCommission": "0",
    "takerCommission": "0.0005",
}
BOOK: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "bidPrice": "100",
    "bidQty": "2",
    "askPrice": "100.5",
    "askQty": "3",
}


@st.composite
def near(draw: st.DrawFn, valid: Any) -> Any:
    """`valid` (a JSON list or object) with one element replaced, deleted or added."""
    value = json.loads(json.dumps(valid))
    keys = list(range(len(value))) if isinstance(value, list) else sorted(value)
    action = draw(st.sampled_from(["replace", "delete", "add", "keep"]))
    if action == "replace" and keys:
        value[draw(st.sampled_from(keys))] = draw(json_values)
    elif action == "delete" and keys:
        del value[draw(st.sampled_from(keys))]
    elif action == "add":
        if isinstance(value, list):
            value.append(draw(json_values))
        else:
            value[draw(st.text(max_size=8))] = draw(json_values)
    return value


rows = near(KLINE_ROW) | json_values | far_times.map(lambda at: [at, *KLINE_ROW[1:]])
#: Numbers Python's json reads that no int holds, or that are absurdly large.
odd_numbers = st.sampled_from([math.inf, -math.inf, math.nan, 1e300, 2**62])
symbol_infos = near(SYMBOL_INFO) | st.builds(
    lambda key, number: {**SYMBOL_INFO, key: number},
    st.sampled_from(sorted(SYMBOL_INFO)),
    odd_numbers,
)


@FUZZ
@given(rows, st.sampled_from(sorted(REST_INTERVALS)))
def test_fuzz_rest_kline_row_then_candle_or_decode_error(row: Any, interval: Any) -> None:
    candle = returned_or_raised(lambda: rest_candle("BTCUSDT", interval, row, ts_init=NOW))
    if isinstance(candle, EventDecodeError):
        assert_clear(candle)
    else:
        assert_market_event(candle)


@FUZZ
@given(symbol_infos | json_values)
def test_fuzz_exchange_info_entry_then_symbol_info_or_decode_error(entry: Any) -> None:
    info = returned_or_raised(lambda: parse_symbol_info(entry))
    if isinstance(info, EventDecodeError):
        assert_clear(info)
    else:
        assert isinstance(info, SymbolInfo)


class ScriptedRest(MexcRest):
    """MexcRest answering every request with one (status, body): no network."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__("http://mexc.invalid", sleep=_no_wait, max_attempts=2, now=lambda: NOW)
        self.answer = (status, None, body)

    async def _fetch(
        self, path: str, params: Mapping[str, str | int] | None
    ) -> tuple[int, float | None, str]:
        return self.answer


async def _no_wait(_: float) -> None:
    return None


statuses = st.sampled_from([200, 200, 200, 400, 403, 404, 418, 429, 500, 503])
bodies = {
    EXCHANGE_INFO: st.one_of(
        st.lists(symbol_infos, max_size=3).map(lambda s: json.dumps({"symbols": s})),
        near({"timezone": "CST", "symbols": [SYMBOL_INFO]}).map(json.dumps),
    ),
    KLINES: st.lists(rows, max_size=4).map(json.dumps),
    BOOK_TICKER: near(BOOK).map(json.dumps),
}
anything = st.one_of(
    st.text(max_size=60),
    deep_json,
    json_values.map(json.dumps),
    st.fixed_dictionaries({"code": json_values, "msg": json_values}).map(json.dumps),
)


@pytest.mark.parametrize("path", [EXCHANGE_INFO, KLINES, BOOK_TICKER])
@FUZZ
@given(data=st.data())
def test_fuzz_rest_answer_then_decoded_or_claire_error(path: str, data: st.DataObject) -> None:
    status = data.draw(statuses, label="status")
    body = data.draw(bodies[path] | anything, label="body")
    rest = ScriptedRest(status, body)

    async def ask() -> list[Any]:
        if path == EXCHANGE_INFO:
            return list((await rest.exchange_info(["BTCUSDT"])).values())
        if path == KLINES:
            return list(await rest.klines("BTCUSDT", "1m", NOW - HOUR, NOW + HOUR))
        return [await rest.book_ticker("BTCUSDT")]

    result = returned_or_raised(lambda: asyncio.run(ask()), ClaireError)
    if isinstance(result, ClaireError):
        assert_clear(result)
        return
    for item in result:
        if path == EXCHANGE_INFO:
            assert isinstance(item, SymbolInfo)
        else:
            assert_market_event(item)


# -- what the fuzzers found, kept as examples ---------------------------------------------


def test_trade_time_beyond_the_year_9999_then_decode_error_not_overflow() -> None:
    wrapper = proto.PushDataV3ApiWrapper(symbol="BTCUSDT")
    wrapper.publicAggreDeals.deals.add(price="1", quantity="1", tradeType=1, time=2**62)

    with pytest.raises(EventDecodeError) as caught:
        frame_events(decode_frame(wrapper.SerializeToString()), CandleAssembler(), ts_init=NOW)

    assert caught.value.problems == [
        f"deals[0].time: {2**62} is not a time between the years 1 and 9999"
    ]


@pytest.mark.parametrize(
    ("window_start", "problem"),
    [
        (2**40, f"windowStart: {2**40} is not a time between the years 1 and 9999"),
        (253_402_300_740, "open_time: a 1m candle opened at 9999-12-31 23:59:00+00:00 closes"),
    ],
)
def test_kline_window_beyond_the_year_9999_then_decode_error(
    window_start: int, problem: str
) -> None:
    wrapper = proto.PushDataV3ApiWrapper(symbol="BTCUSDT")
    wrapper.publicSpotKline.interval = "Min1"
    wrapper.publicSpotKline.windowStart = window_start

    with pytest.raises(EventDecodeError) as caught:
        CandleAssembler().push(wrapper, ts_init=NOW)

    assert caught.value.problems[0].startswith(problem)


def test_websocket_frame_with_an_impossible_time_then_counted_and_the_feed_goes_on() -> None:
    bad = proto.PushDataV3ApiWrapper(symbol="BTCUSDT")
    bad.publicAggreDeals.deals.add(price="1", quantity="1", tradeType=1, time=2**62)
    good = proto.PushDataV3ApiWrapper(symbol="BTCUSDT")
    good.publicAggreDeals.deals.add(price="1", quantity="1", tradeType=1, time=NOW_S * 1000)
    ws = websocket()

    async def feed() -> None:
        await ws._on_binary(bad.SerializeToString())
        await ws._on_binary(good.SerializeToString())

    asyncio.run(feed())

    assert ws.decode_errors == 1
    assert isinstance(ws._queue.get_nowait(), TradeTick)


def test_rest_row_opened_beyond_the_year_9999_then_decode_error() -> None:
    row = [2**62, "1", "1", "1", "1", "1", 0, "1"]

    with pytest.raises(EventDecodeError) as caught:
        rest_candle("BTCUSDT", "1m", row, ts_init=NOW)

    assert caught.value.problems == [
        f"openTime: {2**62} is not a time between the years 1 and 9999"
    ]


@pytest.mark.parametrize("precision", ["1e400", "Infinity", "-Infinity", "NaN"])
def test_exchange_info_precision_not_a_finite_number_then_decode_error(precision: str) -> None:
    text = json.dumps({**SYMBOL_INFO, "baseAssetPrecision": "PRECISION"})
    entry = json.loads(text.replace('"PRECISION"', precision))  # as MEXC's JSON would spell it

    with pytest.raises(EventDecodeError) as caught:
        parse_symbol_info(entry)

    assert caught.value.message.startswith("invalid event: exchangeInfo BTCUSDT: ")


def test_rest_answer_nested_too_deeply_then_decode_error_not_recursion_error() -> None:
    with pytest.raises(EventDecodeError) as caught:
        asyncio.run(ScriptedRest(200, "[" * 100_000).book_ticker("BTCUSDT"))

    assert caught.value.problems == [f"{BOOK_TICKER}: the answer is JSON nested too deeply to read"]


def test_rest_error_answer_nested_too_deeply_then_its_text_is_the_reason() -> None:
    with pytest.raises(ClaireError) as caught:
        asyncio.run(ScriptedRest(400, '{"msg":' * 100_000).book_ticker("BTCUSDT"))

    assert caught.value.message.startswith(f"MEXC refused {BOOK_TICKER} (HTTP 400, code None): ")


def test_websocket_text_frame_nested_too_deeply_then_ignored_and_the_feed_goes_on() -> None:
    ws = websocket()
    link = _Link(0, ("BTCUSDT",), list(ws._channels_of(["BTCUSDT"])))

    asyncio.run(ws._on_text(link, "[" * 100_000))

    assert not link.connected
    assert ws._queue.empty()
