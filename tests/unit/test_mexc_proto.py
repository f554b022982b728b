"""MEXC push messages on the wire, their conversion to events, and the pure helpers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import EventDecodeError
from engine.events import Candle, QuoteTick, TradeTick
from engine.marketdata.mexc import proto
from engine.marketdata.mexc.convert import (
    CandleAssembler,
    QuoteKeeper,
    candle_event_id,
    decode_frame,
    frame_events,
    from_milliseconds,
    kline_candle,
    quote_tick,
    rest_candle,
    trade_ticks,
)
from engine.marketdata.mexc.errors import UnknownSymbolError
from engine.marketdata.mexc.rest import WeightLimiter, parse_symbol_info
from engine.marketdata.mexc.websocket import (
    channel_names,
    parse_ack,
    plan_connections,
    refusal_details,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_S = int(T0.timestamp())
NOW = T0 + timedelta(minutes=10)


# -- factories --------------------------------------------------------------------------------


def kline_wrapper(
    window_start: int = T0_S,
    prices: tuple[str, str, str, str] = ("100", "101", "102", "99"),  # open, close, high, low
    *,
    symbol: str = "BTCUSDT",
    interval: str = "Min1",
    volume: str = "1.5",
    amount: str = "150.75",
) -> Any:
    wrapper = proto.PushDataV3ApiWrapper(
        channel=f"spot@public.kline.v3.api.pb@{symbol}@{interval}", symbol=symbol
    )
    kline = wrapper.publicSpotKline
    kline.interval, kline.windowStart, kline.windowEnd = interval, window_start, window_start + 60
    kline.openingPrice, kline.closingPrice, kline.highestPrice, kline.lowestPrice = prices
    kline.volume, kline.amount = volume, amount
    return wrapper


def deals_wrapper(*deals: tuple[str, str, int, int, str], symbol: str = "BTCUSDT") -> Any:
    wrapper = proto.PushDataV3ApiWrapper(
        channel=f"spot@public.aggre.deals.v3.api.pb@100ms@{symbol}", symbol=symbol
    )
    for price, quantity, trade_type, time_ms, trade_id in deals:
        wrapper.publicAggreDeals.deals.add(
            price=price, quantity=quantity, tradeType=trade_type, time=time_ms, tradeId=trade_id
        )
    return wrapper


def book_wrapper(
    bid: str = "100",
    ask: str = "100.5",
    *,
    send_time: int = 1_000,
    bid_quantity: str = "2",
    ask_quantity: str = "3",
) -> Any:
    wrapper = proto.PushDataV3ApiWrapper(
        channel="spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
        symbol="BTCUSDT",
        sendTime=send_time,
    )
    book = wrapper.publicAggreBookTicker
    book.bidPrice, book.bidQuantity = bid, bid_quantity
    book.askPrice, book.askQuantity = ask, ask_quantity
    return wrapper


# -- wire bytes -------------------------------------------------------------------------------


def test_kline_wrapper_when_serialized_then_bytes_match_hand_encoding() -> None:
    wrapper = proto.PushDataV3ApiWrapper(
        channel="c", symbol="BTCUSDT", symbolId="1", createTime=1000, sendTime=2
    )
    kline = wrapper.publicSpotKline
    kline.interval, kline.windowStart, kline.windowEnd = "Min1", 60, 120
    kline.openingPrice, kline.closingPrice = "1", "2"
    kline.highestPrice, kline.lowestPrice = "3", "0.5"
    kline.volume, kline.amount = "7", "8"
    body = (
        b"\x0a\x04Min1"  # 1 interval: (1<<3)|2, length 4
        b"\x10\x3c"  # 2 windowStart: (2<<3)|0, varint 60
        b"\x1a\x011"  # 3 openingPrice
        b"\x22\x012"  # 4 closingPrice
        b"\x2a\x013"  # 5 highestPrice
        b"\x32\x030.5"  # 6 lowestPrice
        b"\x3a\x017"  # 7 volume
        b"\x42\x018"  # 8 amount
        b"\x48\x78"  # 9 windowEnd: (9<<3)|0, varint 120
    )
    expected = (
        b"\x0a\x01c"  # 1 channel
        b"\x1a\x07BTCUSDT"  # 3 symbol
        b"\x22\x011"  # 4 symbolId
        b"\x28\xe8\x07"  # 5 createTime: varint 1000
        b"\x30\x02"  # 6 sendTime
        b"\xa2\x13" + bytes([len(body)]) + body  # 308 publicSpotKline: (308<<3)|2 = 2466
    )
    assert len(body) == 30
    assert wrapper.SerializeToString() == expected


def test_deals_frame_when_hand_encoded_then_decodes_to_trade() -> None:
    item = b"\x0a\x011\x12\x012\x18\x02\x20\x03\x2a\x01x"  # price, qty, tradeType 2, time 3, id
    body = b"\x0a" + bytes([len(item)]) + item + b"\x12\x01e"  # deals=1, eventType=2
    frame = b"\x1a\x07BTCUSDT" + b"\xd2\x13" + bytes([len(body)]) + body  # 314: (314<<3)|2

    wrapper = decode_frame(frame)

    deal = wrapper.publicAggreDeals.deals[0]
    assert (deal.price, deal.quantity, deal.tradeType, deal.time, deal.tradeId) == (
        "1",
        "2",
        2,
        3,
        "x",
    )
    assert wrapper.publicAggreDeals.eventType == "e"
    assert deals_wrapper(("1", "2", 2, 3, "x")).publicAggreDeals.SerializeToString() == body[:-3]


def test_book_frame_when_serialized_then_body_is_field_315() -> None:
    wrapper = book_wrapper("1", "3", send_time=0)
    wrapper.channel = ""
    body = b"\x0a\x011\x12\x012\x1a\x013\x22\x013"  # bid 1, bidQty 2, ask 3, askQty 3
    assert wrapper.SerializeToString() == b"\x1a\x07BTCUSDT\xda\x13\x0c" + body


def test_schema_when_built_then_has_its_own_package_and_file() -> None:
    descriptor = proto.PushDataV3ApiWrapper.DESCRIPTOR
    assert descriptor.full_name == "claire.mexc.PushDataV3ApiWrapper"
    assert descriptor.file.name == "claire/mexc/push.proto"
    assert [f.number for f in descriptor.oneofs_by_name["body"].fields] == [308, 314, 315]


# -- conversions ------------------------------------------------------------------------------


def test_trades_when_converted_then_decimal_exact_with_sides_and_ids() -> None:
    wrapper = deals_wrapper(
        ("96123.456789012345", "0.00000123", 1, 1_767_225_600_123, "77"),
        ("96123.1", "2", 2, 1_767_225_600_124, "78"),
    )

    buy, sell = trade_ticks(wrapper, ts_init=NOW)

    assert isinstance(buy, TradeTick)
    assert buy.price == Decimal("96123.456789012345")
    assert str(buy.price) == "96123.456789012345"
    assert buy.quantity == Decimal("0.00000123")
    assert (buy.side, sell.side) == ("buy", "sell")
    assert buy.ts_event == datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)
    assert (buy.event_id, buy.trade_id, buy.source) == ("trade-mexc-BTCUSDT-77", "77", "mexc")


def test_trade_without_id_when_converted_then_id_is_a_stable_hash() -> None:
    deal = ("100", "1", 1, 1_767_225_600_000, "")
    first = trade_ticks(deals_wrapper(deal, deal), ts_init=NOW)
    again = trade_ticks(deals_wrapper(deal, deal), ts_init=NOW + timedelta(seconds=5))

    assert [t.event_id for t in first] == [t.event_id for t in again]
    assert first[0].event_id != first[1].event_id  # same fact twice in a frame: two trades
    assert first[0].event_id.startswith("trade-mexc-BTCUSDT-h")
    assert first[0].trade_id is None


def test_trade_with_unknown_trade_type_when_converted_then_decode_error() -> None:
    with pytest.raises(EventDecodeError, match=r"deals\[0\]\.tradeType: 3 is not 1 or 2"):
        trade_ticks(deals_wrapper(("100", "1", 3, 1, "9")), ts_init=NOW)


def test_book_when_converted_then_quote_at_send_time() -> None:
    quote = quote_tick(book_wrapper("100.25", "100.5", send_time=1_767_225_600_500), ts_init=NOW)

    assert isinstance(quote, QuoteTick)
    assert (quote.bid_price, quote.ask_price) == (Decimal("100.25"), Decimal("100.5"))
    assert quote.ts_event == T0 + timedelta(milliseconds=500)


def test_crossed_book_when_converted_then_decode_error_names_the_rule() -> None:
    with pytest.raises(EventDecodeError, match="crossed"):
        quote_tick(book_wrapper("101", "100"), ts_init=NOW)


def test_book_side_empty_when_kept_then_quote_holds_the_last_value_of_that_side() -> None:
    keeper = QuoteKeeper()
    [first] = keeper.quotes(book_wrapper("100", "101", send_time=1), ts_init=NOW)
    [asks_moved] = keeper.quotes(
        book_wrapper("", "100.75", bid_quantity="", ask_quantity="4", send_time=2), ts_init=NOW
    )
    [bids_moved] = keeper.quotes(
        book_wrapper("100.5", "", ask_quantity="", send_time=3), ts_init=NOW
    )

    assert (first.bid_price, first.ask_price) == (Decimal(100), Decimal(101))
    assert (asks_moved.bid_price, asks_moved.bid_quantity) == (Decimal(100), Decimal(2))
    assert (asks_moved.ask_price, asks_moved.ask_quantity) == (Decimal("100.75"), Decimal(4))
    assert (bids_moved.bid_price, bids_moved.ask_price) == (Decimal("100.5"), Decimal("100.75"))
    assert bids_moved.ts_event == from_milliseconds(3)


def test_book_side_empty_with_nothing_known_when_kept_then_no_quote_and_no_error() -> None:
    keeper = QuoteKeeper()
    one_sided = book_wrapper("", "101", bid_quantity="")

    assert keeper.quotes(one_sided, ts_init=NOW) == []
    assert frame_events(one_sided, CandleAssembler(), ts_init=NOW) == []  # no keeper: nothing
    assert keeper.quotes(book_wrapper("", "", bid_quantity="", ask_quantity=""), ts_init=NOW) == []


def test_book_kept_side_crossed_by_the_fresh_side_then_no_quote_and_forgotten() -> None:
    keeper = QuoteKeeper()
    keeper.quotes(book_wrapper("100", "101"), ts_init=NOW)

    assert keeper.quotes(book_wrapper("", "99", bid_quantity=""), ts_init=NOW) == []
    assert keeper.quotes(book_wrapper("", "102", bid_quantity=""), ts_init=NOW) == []  # forgot


def test_book_kept_side_when_connection_forgotten_then_not_used() -> None:
    keeper = QuoteKeeper()
    keeper.quotes(book_wrapper("100", "101"), ts_init=NOW)
    keeper.forget(["btcusdt"])

    assert keeper.quotes(book_wrapper("", "102", bid_quantity=""), ts_init=NOW) == []


def test_book_half_side_when_kept_then_decode_error_names_the_missing_half() -> None:
    with pytest.raises(EventDecodeError, match="bidQuantity: missing"):
        QuoteKeeper().quotes(book_wrapper("100", "101", bid_quantity=""), ts_init=NOW)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\xff\xff\xff", "not a PushDataV3ApiWrapper"),
        (b"\x1a\x07BTCUSDT", "no known body"),
    ],
)
def test_malformed_frame_when_decoded_then_decode_error(frame: bytes, reason: str) -> None:
    with pytest.raises(EventDecodeError, match=reason) as caught:
        decode_frame(frame)
    assert caught.value.raw == frame


def test_kline_with_empty_price_when_converted_then_decode_error() -> None:
    wrapper = kline_wrapper(prices=("", "101", "102", "99"))
    with pytest.raises(EventDecodeError, match="Candle: open"):
        kline_candle(wrapper, ts_init=NOW)


def test_kline_with_unknown_interval_when_converted_then_decode_error() -> None:
    with pytest.raises(EventDecodeError, match="'Week1' is not one claire keeps"):
        kline_candle(kline_wrapper(interval="Week1"), ts_init=NOW)


def test_kline_when_converted_then_candle_closes_at_window_end() -> None:
    candle = kline_candle(kline_wrapper(), ts_init=NOW)

    assert candle.event_id == f"candle-mexc-BTCUSDT-{T0:%Y%m%dT%H%M}"
    assert (candle.open_time, candle.close_time, candle.ts_event) == (
        T0,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=1),
    )
    assert (candle.open, candle.close, candle.high, candle.low) == (
        Decimal(100),
        Decimal(101),
        Decimal(102),
        Decimal(99),
    )
    assert (candle.volume, candle.quote_volume) == (Decimal("1.5"), Decimal("150.75"))


def test_same_candle_from_websocket_and_rest_when_converted_then_identical() -> None:
    row = [int(T0.timestamp() * 1000), "100", "102", "99", "101", "1.5", 0, "150.75"]
    row[6] = row[0] + 60_000 - 1  # MEXC's closeTime: one ms before the next open

    from_rest = rest_candle("BTCUSDT", "1m", row, ts_init=NOW)
    from_ws = kline_candle(kline_wrapper(), ts_init=NOW)

    assert from_rest == from_ws
    assert from_rest.close_time == T0 + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ([1, "1"], "8 columns"),
        (["x", "1", "1", "1", "1", "1", 2, "1"], "openTime"),
        ([0, "1", "0.5", "1", "1", "1", 59_999, "1"], "high"),
    ],
)
def test_malformed_rest_row_when_converted_then_decode_error(row: list[Any], reason: str) -> None:
    with pytest.raises(EventDecodeError, match=reason):
        rest_candle("BTCUSDT", "1m", row, ts_init=NOW)


# -- CandleAssembler --------------------------------------------------------------------------


def test_assembler_when_window_updates_then_emits_last_state_once_next_window_opens() -> None:
    assembler = CandleAssembler()

    assert assembler.push(kline_wrapper(prices=("100", "100", "100", "100")), ts_init=NOW) == []
    assert assembler.push(kline_wrapper(prices=("100", "103", "104", "98")), ts_init=NOW) == []
    emitted = assembler.push(kline_wrapper(T0_S + 60, ("103", "103", "103", "103")), ts_init=NOW)

    assert len(emitted) == 1
    assert (emitted[0].close, emitted[0].high, emitted[0].low) == (
        Decimal(103),
        Decimal(104),
        Decimal(98),
    )
    assert emitted[0].ts_event == T0 + timedelta(minutes=1)
    assert assembler.push(kline_wrapper(), ts_init=NOW) == []  # a late push of the old window


def test_assembler_when_flushed_then_emits_only_closed_windows() -> None:
    assembler = CandleAssembler()
    assembler.push(kline_wrapper(), ts_init=NOW)
    assembler.push(kline_wrapper(symbol="ETHUSDT"), ts_init=NOW)
    window_end = T0 + timedelta(minutes=1)

    assert assembler.flush(window_end - timedelta(milliseconds=1)) == []
    flushed = assembler.flush(window_end)

    assert [c.symbol for c in flushed] == ["BTCUSDT", "ETHUSDT"]
    assert flushed[0].ts_init == window_end
    assert assembler.pending == 0
    assert assembler.push(kline_wrapper(), ts_init=NOW) == []  # already emitted
    assert assembler.flush(window_end + timedelta(hours=1)) == []


def test_assembler_when_quiet_window_without_prices_then_no_candle_no_error() -> None:
    assembler = CandleAssembler()
    assembler.push(kline_wrapper(), ts_init=NOW)
    quiet = kline_wrapper(T0_S + 60, ("0", "0", "", "0"), volume="0", amount="0")

    closed = assembler.push(quiet, ts_init=NOW)

    assert [c.open_time for c in closed] == [T0]  # a later window closes the one before
    assert assembler.pending == 0
    assert assembler.flush(T0 + timedelta(hours=1)) == []  # the quiet window makes no candle


def test_assembler_when_window_without_trades_has_prices_then_zero_volume_candle() -> None:
    assembler = CandleAssembler()
    assembler.push(
        kline_wrapper(prices=("100", "100", "100", "100"), volume="0", amount="0"), ts_init=NOW
    )

    [candle] = assembler.flush(T0 + timedelta(minutes=1))

    assert (candle.volume, candle.close) == (Decimal(0), Decimal(100))


def test_frame_events_when_dispatched_then_each_body_maps_to_its_event() -> None:
    assembler = CandleAssembler()
    trade = frame_events(deals_wrapper(("1", "1", 1, 5, "1")), assembler, ts_init=NOW)
    quote = frame_events(book_wrapper(), assembler, ts_init=NOW)
    kline = frame_events(kline_wrapper(), assembler, ts_init=NOW)

    assert [type(e) for e in trade + quote] == [TradeTick, QuoteTick]
    assert kline == []
    assert isinstance(assembler.flush(NOW)[0], Candle)


def test_candle_event_id_when_built_then_matches_synthetic_scheme() -> None:
    assert candle_event_id("ETHUSDT", T0) == "candle-mexc-ETHUSDT-20260101T0000"


# -- websocket and REST helpers ---------------------------------------------------------------


def test_plan_connections_when_31_symbols_one_channel_then_two_connections() -> None:
    symbols = [f"S{i}USDT" for i in range(31)]
    assert [len(g) for g in plan_connections(symbols, ["deals"], 30)] == [30, 1]
    assert [len(g) for g in plan_connections(symbols, ["deals", "kline", "book"], 30)] == [
        10,
        10,
        10,
        1,
    ]


def test_plan_connections_when_channel_unknown_then_value_error() -> None:
    with pytest.raises(ValueError, match="channels must be among"):
        plan_connections(["BTCUSDT"], ["depth"], 30)


def test_channel_names_when_built_then_protobuf_channels() -> None:
    assert channel_names("btcusdt", ["deals", "kline", "book"]) == [
        "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT",
        "spot@public.kline.v3.api.pb@BTCUSDT@Min1",
        "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
    ]


def test_refusal_when_parsed_then_channels_and_reason() -> None:
    text = "Not Subscribed successfully! [spot@a,spot@b].  Reason\uff1a Blocked! "
    assert refusal_details(text) == (["spot@a", "spot@b"], "Blocked!")


def test_mixed_ack_when_parsed_then_each_bracket_by_its_label() -> None:
    text = (
        "Subscribed successful! [spot@a,spot@b]. "
        "Not Subscribed successfully! [spot@c].  Reason\uff1a Blocked! "
    )

    answer = parse_ack(text)

    assert (answer.accepted, answer.refused, answer.reason) == (
        ("spot@a", "spot@b"),
        ("spot@c",),
        "Blocked!",
    )
    assert refusal_details(text) == (["spot@c"], "Blocked!")
    assert not answer.unnamed_refusal


def test_ack_when_plain_or_unnamed_refusal_then_read_as_such() -> None:
    assert parse_ack("spot@a,spot@b").accepted == ("spot@a", "spot@b")
    assert parse_ack("spot@a,spot@b").refused == ()
    unnamed = parse_ack("Not Subscribed successfully!")
    assert (unnamed.accepted, unnamed.refused, unnamed.unnamed_refusal) == ((), (), True)


def test_symbol_info_when_parsed_then_decimal_limits_and_fees() -> None:
    info = parse_symbol_info(
        {
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
    )
    assert info.status_online
    assert (info.base_precision, info.quote_precision) == (8, 2)
    assert (info.min_quantity, info.min_notional) == (Decimal("0.000001"), Decimal(5))
    assert (info.maker_fee, info.taker_fee) == (Decimal(0), Decimal("0.0005"))


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"status": "1", "isSpotTradingAllowed": True}, None),
        ({"status": "ENABLED", "isSpotTradingAllowed": True}, None),  # the older spelling
        ({"status": "1", "isSpotTradingAllowed": "true"}, None),
        ({"status": "2", "isSpotTradingAllowed": True}, "listed but not online"),
        ({"status": "1", "isSpotTradingAllowed": False}, "spot trading is not allowed"),
        ({"status": "1"}, "does not say spot trading is allowed"),
        ({"status": "1", "isSpotTradingAllowed": None}, "does not say spot trading is allowed"),
    ],
)
def test_symbol_info_when_status_and_spot_flag_read_then_refused_only_when_not_tradable(
    fields: dict[str, Any], refusal: str | None
) -> None:
    entry = {
        "symbol": "BTCUSDT",
        "baseAsset": "BTC",
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quoteAssetPrecision": 2,
        "baseSizePrecision": "0.000001",
        "quoteAmountPrecision": "5",
        "makerCommission": "0",
        "takerCommission": "0.0005",
    }
    why = parse_symbol_info(entry | fields).refusal()
    assert why is None if refusal is None else (why is not None and refusal in why)


def test_symbol_info_when_spot_flag_is_not_a_boolean_then_decode_error() -> None:
    entry = {"symbol": "BTCUSDT", "status": "1", "isSpotTradingAllowed": 3}
    with pytest.raises(EventDecodeError, match="exchangeInfo BTCUSDT"):
        parse_symbol_info(entry)


def test_symbol_info_when_field_missing_then_decode_error() -> None:
    with pytest.raises(EventDecodeError, match="exchangeInfo BTCUSDT"):
        parse_symbol_info({"symbol": "BTCUSDT", "status": "1"})


def test_unknown_symbol_error_when_raised_then_names_each_symbol_and_why() -> None:
    error = UnknownSymbolError({"NOPEUSDT": "not listed", "OLDUSDT": "offline"})
    assert "NOPEUSDT: not listed" in error.message
    assert "OLDUSDT: offline" in error.message


def test_weight_limiter_when_budget_spent_then_waits_for_the_window() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = WeightLimiter(20, 10.0, clock=lambda: now[0], sleep=sleep)

    async def spend() -> None:
        await limiter.acquire("/api/v3/exchangeInfo", 10)
        now[0] += 1.0
        await limiter.acquire("/api/v3/exchangeInfo", 10)
        await limiter.acquire("/api/v3/klines", 1)  # another endpoint, its own budget
        await limiter.acquire("/api/v3/exchangeInfo", 10)

    asyncio.run(spend())
    assert waits == [9.0]
    assert limiter.used("/api/v3/exchangeInfo") == 20
