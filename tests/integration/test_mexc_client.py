"""The MEXC REST and websocket clients against the local MEXC stand-in."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import pytest

from engine.events import Candle, QuoteTick, TradeTick
from engine.marketdata.mexc import (
    ConnectionChange,
    ExchangeBannedError,
    ExchangeForbiddenError,
    ExchangeRequestError,
    ExchangeUnavailableError,
    MarketItem,
    MexcRest,
    MexcWebsocket,
    SubscriptionRefused,
    UnknownSymbolError,
)
from engine.marketdata.mexc.rest import BOOK_TICKER, KLINES
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn

pytestmark = pytest.mark.integration

T = TypeVar("T")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_S = int(T0.timestamp())


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """Run one async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def until(check: Callable[[], object], *, timeout: float = 5.0, what: str = "") -> None:
    """Wait, without blocking the loop, until `check()` is truthy."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


async def next_matching(
    items: AsyncIterator[MarketItem], wanted: Callable[[MarketItem], bool], timeout: float = 5.0
) -> tuple[MarketItem, list[MarketItem]]:
    """Return the first item `wanted` accepts, and every item seen before it."""
    seen: list[MarketItem] = []

    async def scan() -> MarketItem:
        async for item in items:
            if wanted(item):
                return item
            seen.append(item)
        raise AssertionError(f"the stream ended; seen {seen}")

    return await asyncio.wait_for(scan(), timeout), seen


@asynccontextmanager
async def streaming(client: MexcWebsocket) -> AsyncIterator[AsyncIterator[MarketItem]]:
    """Iterate the client's events; close the client afterwards, whatever happens."""
    try:
        async with aclosing(client.events()) as items:
            yield items
    finally:
        await client.close()


def change(kind: str) -> Callable[[MarketItem], bool]:
    return lambda item: isinstance(item, ConnectionChange) and item.kind == kind


def recording_sleep() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    return waits, sleep


def websocket(standin: MexcStandIn, symbols: list[str], **options: Any) -> MexcWebsocket:
    defaults: dict[str, Any] = {"ping_interval": 2.0, "backoff_initial": 0.02, "backoff_max": 0.1}
    return MexcWebsocket(standin.ws_url, symbols, **(defaults | options))


# -- websocket --------------------------------------------------------------------------------


def test_websocket_when_subscribed_then_pushes_decode_into_events(
    mexc_standin: MexcStandIn,
) -> None:
    client = websocket(mexc_standin, ["BTCUSDT"], clock=lambda: T0 + timedelta(seconds=30))

    async def body() -> list[MarketItem]:
        async with streaming(client) as items:
            connected, _ = await next_matching(items, change("connected"))
            mexc_standin.push_deal("BTCUSDT", "96000.123456789", "0.0001", "sell", 1, "t1")
            mexc_standin.push_book("BTCUSDT", "95999.9", "1.25", "96000.1", "0.5", 1)
            mexc_standin.push_kline("BTCUSDT", T0_S, "96000", "96010.5", "96020", "95990")
            mexc_standin.push_kline("BTCUSDT", T0_S + 60, "96010.5", "96011", "96012", "96010")
            candle, seen = await next_matching(items, lambda item: isinstance(item, Candle))
            return [connected, *seen, candle]

    connected, trade, quote, candle = run(body())
    assert isinstance(connected, ConnectionChange)
    assert connected.symbols == ("BTCUSDT",)
    assert isinstance(trade, TradeTick)
    assert (trade.price, trade.side, trade.event_id) == (
        Decimal("96000.123456789"),
        "sell",
        "trade-mexc-BTCUSDT-t1",
    )
    assert isinstance(quote, QuoteTick)
    assert (quote.bid_price, quote.ask_quantity) == (Decimal("95999.9"), Decimal("0.5"))
    assert isinstance(candle, Candle)
    assert (candle.open_time, candle.close, candle.high) == (T0, Decimal("96010.5"), Decimal(96020))
    assert client.last_data_at["BTCUSDT"] == T0 + timedelta(seconds=30)


def test_websocket_when_a_frame_is_malformed_then_it_is_skipped(mexc_standin: MexcStandIn) -> None:
    client = websocket(mexc_standin, ["BTCUSDT"], channels=("deals",))

    async def body() -> MarketItem:
        async with streaming(client) as items:
            await next_matching(items, change("connected"))
            mexc_standin.push_raw("spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", b"\xff\x00")
            mexc_standin.push_deal("BTCUSDT", "1", "1", "buy", 5, "after")
            trade, _ = await next_matching(items, lambda item: isinstance(item, TradeTick))
            return trade

    trade = run(body())
    assert isinstance(trade, TradeTick)
    assert trade.trade_id == "after"
    assert client.decode_errors == 1


def test_websocket_when_server_drops_then_reconnects_and_resubscribes(
    mexc_standin: MexcStandIn,
) -> None:
    client = websocket(mexc_standin, ["BTCUSDT"])

    async def body() -> tuple[list[MarketItem], MarketItem]:
        async with streaming(client) as items:
            await next_matching(items, change("connected"))
            assert mexc_standin.drop_connections() == 1
            down, _ = await next_matching(items, change("disconnected"))
            up, _ = await next_matching(items, change("connected"))
            mexc_standin.push_deal("BTCUSDT", "2", "1", "buy", 5, "again")
            trade, _ = await next_matching(items, lambda item: isinstance(item, TradeTick))
            return [down, up], trade

    (down, up), trade = run(body())
    assert isinstance(down, ConnectionChange)
    assert isinstance(up, ConnectionChange)
    assert "closed" in down.reason
    assert up.at >= down.at
    assert mexc_standin.connection_count == 2
    assert mexc_standin.subscription_count == 6  # three channels, subscribed twice
    assert isinstance(trade, TradeTick)


def test_websocket_when_server_goes_silent_then_dead_connection_is_replaced(
    mexc_standin: MexcStandIn,
) -> None:
    client = websocket(mexc_standin, ["BTCUSDT"], ping_interval=0.2)

    async def body() -> tuple[MarketItem, float]:
        async with streaming(client) as items:
            await next_matching(items, change("connected"))
            mexc_standin.go_silent(0.6)
            started = time.monotonic()
            down, _ = await next_matching(items, change("disconnected"))
            await next_matching(items, change("connected"))
            return down, time.monotonic() - started

    down, took = run(body())
    assert isinstance(down, ConnectionChange)
    assert "no frame for 0.4 s" in down.reason
    assert took >= 0.6  # back only once the silence ended
    assert mexc_standin.connection_count >= 2
    assert mexc_standin.hub.pings_answered >= 1


def test_websocket_when_connection_ages_then_planned_reconnect(mexc_standin: MexcStandIn) -> None:
    client = websocket(mexc_standin, ["BTCUSDT"], max_connection_age=timedelta(seconds=0.3))

    async def body() -> list[str]:
        kinds: list[str] = []
        async with streaming(client) as items:
            async for item in items:
                if isinstance(item, ConnectionChange):
                    kinds.append(item.kind)
                if len(kinds) == 4:
                    break
        return kinds

    assert run(body()) == ["connected", "planned_reconnect", "connected", "planned_reconnect"]
    assert mexc_standin.connection_count >= 2


def test_websocket_when_31_symbols_then_two_connections_merged(mexc_standin: MexcStandIn) -> None:
    symbols = [f"C{i:02d}USDT" for i in range(31)]
    client = websocket(mexc_standin, symbols, channels=("deals",))

    async def body() -> tuple[list[ConnectionChange], MarketItem]:
        connected: list[ConnectionChange] = []
        async with streaming(client) as items:
            while len(connected) < 2:
                item, _ = await next_matching(items, change("connected"))
                assert isinstance(item, ConnectionChange)
                connected.append(item)
            mexc_standin.push_deal("C30USDT", "3", "1", "buy", 5, "last")
            trade, _ = await next_matching(items, lambda item: isinstance(item, TradeTick))
            return connected, trade

    connected, trade = run(body())
    assert sorted(len(c.symbols) for c in connected) == [1, 30]
    assert {c.connection for c in connected} == {0, 1}
    assert isinstance(trade, TradeTick)
    assert trade.symbol == "C30USDT"
    assert mexc_standin.connection_count == 2


BOOK_CHANNEL = "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT"
KLINE_CHANNEL = "spot@public.kline.v3.api.pb@BTCUSDT@Min1"
DEALS_CHANNEL = "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"


def refused() -> Callable[[MarketItem], bool]:
    return lambda item: isinstance(item, SubscriptionRefused)


def test_websocket_when_channel_refused_then_reported_once_and_the_others_stream(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.refuse_channels("bookTicker")
    client = websocket(mexc_standin, ["BTCUSDT"])

    async def body() -> tuple[MarketItem, list[MarketItem], list[frozenset[str]]]:
        async with streaming(client) as items:
            refusal, _ = await next_matching(items, refused())
            await next_matching(items, change("connected"))
            mexc_standin.drop_connections()
            await next_matching(items, change("connected"))
            mexc_standin.push_deal("BTCUSDT", "2", "1", "buy", 5, "after")
            _, between = await next_matching(items, lambda item: isinstance(item, TradeTick))
            return refusal, between, mexc_standin.subscriptions()

    refusal, between, subscriptions = run(body())
    assert isinstance(refusal, SubscriptionRefused)
    assert refusal.channels == (BOOK_CHANNEL,)
    assert refusal.streams == (("BTCUSDT", "book"),)
    assert refusal.reason == "Blocked!"
    assert not any(isinstance(item, SubscriptionRefused) for item in between)  # not asked again
    assert subscriptions == [frozenset({DEALS_CHANNEL, KLINE_CHANNEL})]
    assert client.refused == {BOOK_CHANNEL}


def test_websocket_when_mixed_ack_then_only_the_refused_channel_is_named(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.answer_mixed_acks()
    mexc_standin.refuse_channels("kline")
    client = websocket(mexc_standin, ["BTCUSDT"])

    async def body() -> tuple[MarketItem, MarketItem]:
        async with streaming(client) as items:
            refusal, _ = await next_matching(items, refused())
            connected, _ = await next_matching(items, change("connected"))
            return refusal, connected

    refusal, connected = run(body())
    assert isinstance(refusal, SubscriptionRefused)
    assert refusal.channels == (KLINE_CHANNEL,)
    assert refusal.reason == "Blocked!"
    assert isinstance(connected, ConnectionChange)
    assert KLINE_CHANNEL not in connected.reason
    assert DEALS_CHANNEL in connected.reason


def test_websocket_when_every_channel_refused_then_that_connection_stops_asking(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.refuse_channels("bookTicker")
    client = websocket(mexc_standin, ["BTCUSDT"], channels=("book",))

    async def body() -> MarketItem:
        async with streaming(client) as items:
            refusal, _ = await next_matching(items, refused())
            await until(lambda: mexc_standin.open_connections == 0, what="the connection closed")
            await asyncio.sleep(0.3)  # backoff_max is 0.1 s: a retry would have come by now
            return refusal

    refusal = run(body())
    assert isinstance(refusal, SubscriptionRefused)
    assert mexc_standin.connection_count == 1


def test_websocket_when_a_book_side_is_empty_then_the_quote_keeps_its_last_value(
    mexc_standin: MexcStandIn,
) -> None:
    client = websocket(mexc_standin, ["BTCUSDT"], channels=("book",))

    async def body() -> list[MarketItem]:
        async with streaming(client) as items:
            await next_matching(items, change("connected"))
            mexc_standin.push_book("BTCUSDT", "100", "1", "101", "2", 1_000)
            mexc_standin.push_book("BTCUSDT", "", "", "100.5", "3", 2_000)
            first, _ = await next_matching(items, lambda item: isinstance(item, QuoteTick))
            second, _ = await next_matching(items, lambda item: isinstance(item, QuoteTick))
            return [first, second]

    first, second = run(body())
    assert isinstance(first, QuoteTick)
    assert isinstance(second, QuoteTick)
    assert (second.bid_price, second.bid_quantity) == (Decimal(100), Decimal(1))  # kept
    assert (second.ask_price, second.ask_quantity) == (Decimal("100.5"), Decimal(3))
    assert second.ts_event == datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC)  # its send time
    assert client.decode_errors == 0


# -- REST -------------------------------------------------------------------------------------


def test_rest_when_429_twice_then_retries_after_retry_after(mexc_standin: MexcStandIn) -> None:
    mexc_standin.answer_429(2, retry_after=1)
    mexc_standin.set_book("BTCUSDT", "100.5", "2", "100.75", "3")
    waits, sleep = recording_sleep()

    async def body() -> QuoteTick:
        async with MexcRest(mexc_standin.rest_url, sleep=sleep) as rest:
            return await rest.book_ticker("BTCUSDT")

    quote = run(body())
    assert waits == [1.0, 1.0]
    assert (quote.bid_price, quote.ask_price) == (Decimal("100.5"), Decimal("100.75"))
    assert mexc_standin.requests(BOOK_TICKER) == 3


def test_rest_when_banned_then_banned_error_after_one_request(mexc_standin: MexcStandIn) -> None:
    mexc_standin.answer_418()
    waits, sleep = recording_sleep()

    async def body() -> None:
        async with MexcRest(mexc_standin.rest_url, sleep=sleep) as rest:
            await rest.book_ticker("BTCUSDT")

    with pytest.raises(ExchangeBannedError, match="418"):
        run(body())
    assert mexc_standin.requests() == 1
    assert waits == []


def test_rest_when_forbidden_then_permanent_error_without_retry(mexc_standin: MexcStandIn) -> None:
    mexc_standin.answer_status(403)

    async def body() -> None:
        async with MexcRest(mexc_standin.rest_url) as rest:
            await rest.book_ticker("BTCUSDT")

    with pytest.raises(ExchangeForbiddenError, match="403"):
        run(body())
    assert mexc_standin.requests() == 1


def test_rest_when_server_errors_then_retries_with_backoff(mexc_standin: MexcStandIn) -> None:
    mexc_standin.answer_status(503, 2)
    waits, sleep = recording_sleep()

    async def body() -> QuoteTick:
        async with MexcRest(mexc_standin.rest_url, sleep=sleep) as rest:
            return await rest.book_ticker("BTCUSDT")

    assert isinstance(run(body()), QuoteTick)
    assert len(waits) == 2
    assert 0.25 <= waits[0] <= 0.5
    assert 0.5 <= waits[1] <= 1.0  # jittered, doubling


def test_standin_when_a_client_connects_as_it_stops_then_no_socket_is_left_open() -> None:
    """A client reconnecting at the end of a test must not leave the stand-in a socket that
    a later test's garbage collection reports (an unclosed transport fails that test)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):
            standin = MexcStandIn().start()
            with socket.create_connection(("127.0.0.1", standin.port)):
                standin.stop()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_rest_when_nothing_listens_then_unavailable_after_max_attempts() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits, sleep = recording_sleep()

    async def body() -> None:
        async with MexcRest(f"http://127.0.0.1:{port}", sleep=sleep, max_attempts=3) as rest:
            await rest.book_ticker("BTCUSDT")

    with pytest.raises(ExchangeUnavailableError, match="failed 3 times"):
        run(body())
    assert len(waits) == 2


def test_rest_when_mexc_refuses_a_parameter_then_error_has_code_and_msg(
    mexc_standin: MexcStandIn,
) -> None:
    async def body() -> None:
        async with MexcRest(mexc_standin.rest_url) as rest:
            await rest.get(KLINES, {"symbol": "BTCUSDT", "interval": "1h"})

    with pytest.raises(ExchangeRequestError) as caught:
        run(body())
    assert (caught.value.code, caught.value.msg, caught.value.status) == (
        -1121,
        "Invalid interval.",
        400,
    )
    assert "Invalid interval." in caught.value.message
    assert mexc_standin.requests(KLINES) == 1


def test_rest_limiter_when_many_requests_then_stays_under_the_budget() -> None:
    window = 0.5
    with MexcStandIn(weight_limit=10, weight_window=window) as standin:
        standin.add_symbol("BTCUSDT")

        async def body() -> None:
            rest = MexcRest(standin.rest_url, weight_per_window=8, window_seconds=window)
            async with rest:
                for _ in range(24):
                    await rest.book_ticker("BTCUSDT")

        started = time.monotonic()
        run(body())
        took = time.monotonic() - started
        times = standin.request_times(BOOK_TICKER)

    assert len(times) == 24
    assert standin.answered[429] == 0
    busiest = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert busiest <= 10
    assert took >= 2 * window  # 24 requests at 8 per window need three windows


def test_rest_when_symbols_unknown_or_offline_then_unknown_symbol_error(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.add_symbol("OLDUSDT", status="2")

    async def body() -> None:
        async with MexcRest(mexc_standin.rest_url) as rest:
            await rest.validate_symbols(["btcusdt", "NOPEUSDT", "OLDUSDT"])

    with pytest.raises(UnknownSymbolError) as caught:
        run(body())
    assert set(caught.value.problems) == {"NOPEUSDT", "OLDUSDT"}
    assert "NOPEUSDT: not listed" in caught.value.message
    assert "OLDUSDT: listed but not online" in caught.value.message


def test_rest_when_other_entries_are_broken_then_the_asked_symbols_still_validate(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.add_symbol("NULLUSDT")
    entry = mexc_standin.listed("NULLUSDT")
    mexc_standin.list_entry(entry | {"baseAssetPrecision": None})  # a null field
    mexc_standin.list_entry({"symbol": "BAREUSDT", "status": "1"})  # most fields missing
    mexc_standin.list_entry({"status": "1"})  # not even a name

    async def body() -> Any:
        async with MexcRest(mexc_standin.rest_url) as rest:
            return await rest.validate_symbols(["BTCUSDT"])

    assert list(run(body())) == ["BTCUSDT"]


def test_rest_when_spot_trading_not_allowed_then_refused_and_legacy_status_accepted(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.add_symbol("NOSPOTUSDT", spot_trading_allowed=False)
    mexc_standin.add_symbol("OLDSTYLEUSDT", status="ENABLED")

    async def body(symbols: list[str]) -> Any:
        async with MexcRest(mexc_standin.rest_url) as rest:
            return await rest.validate_symbols(symbols)

    assert list(run(body(["OLDSTYLEUSDT"]))) == ["OLDSTYLEUSDT"]
    with pytest.raises(UnknownSymbolError) as caught:
        run(body(["BTCUSDT", "NOSPOTUSDT"]))
    assert caught.value.problems == {
        "NOSPOTUSDT": "spot trading is not allowed on it (isSpotTradingAllowed is false)"
    }


def test_rest_when_symbols_valid_then_exchange_info_parsed(mexc_standin: MexcStandIn) -> None:
    async def body() -> Any:
        async with MexcRest(mexc_standin.rest_url) as rest:
            return await rest.validate_symbols(["BTCUSDT", "ETHUSDT"])

    infos = run(body())
    assert list(infos) == ["BTCUSDT", "ETHUSDT"]
    btc = infos["BTCUSDT"]
    assert (btc.base_asset, btc.quote_asset, btc.status_online) == ("BTC", "USDT", True)
    assert (btc.taker_fee, btc.maker_fee, btc.min_quantity) == (
        Decimal("0.0005"),
        Decimal(0),
        Decimal("0.000001"),
    )


def test_rest_klines_when_more_than_a_page_then_every_candle_once_in_order(
    mexc_standin: MexcStandIn,
) -> None:
    history = mexc_standin.generate_klines("BTCUSDT", T0, 1234)
    pages: list[int] = []

    async def body() -> list[Candle]:
        async with MexcRest(mexc_standin.rest_url) as rest:
            end = T0 + timedelta(minutes=1234)
            return await rest.klines(
                "BTCUSDT", "1m", T0, end, on_page=lambda page: pages.append(len(page))
            )

    candles = run(body())
    assert pages == [500, 500, 234]
    assert [c.open_time for c in candles] == [T0 + timedelta(minutes=i) for i in range(1234)]
    assert len({c.event_id for c in candles}) == 1234
    got = [c.model_dump(exclude={"ts_init"}) for c in candles]
    assert got == [c.model_dump(exclude={"ts_init"}) for c in history]


def test_rest_klines_when_a_long_range_then_each_request_spans_one_page_of_time(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.generate_klines("BTCUSDT", T0, 1700)
    end = T0 + timedelta(minutes=1700)

    async def body() -> tuple[list[Any], list[Candle]]:
        async with MexcRest(mexc_standin.rest_url) as rest:
            ms = int(T0.timestamp() * 1000)
            window = {"symbol": "BTCUSDT", "interval": "1m", "limit": 500}
            asked = await rest.get(
                KLINES, window | {"startTime": ms, "endTime": ms + 1700 * 60_000}
            )
            return asked, await rest.klines("BTCUSDT", "1m", T0, end)

    asked, candles = run(body())
    assert asked[0][0] == int(T0.timestamp() * 1000) + 1200 * 60_000  # MEXC: the latest rows
    assert [c.open_time for c in candles] == [T0 + timedelta(minutes=i) for i in range(1700)]
    assert mexc_standin.requests(KLINES) == 1 + 4  # 500, 500, 500, 200


def test_rest_klines_when_window_is_partial_then_end_is_exclusive(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.generate_klines("BTCUSDT", T0, 30)

    async def body() -> list[Candle]:
        async with MexcRest(mexc_standin.rest_url) as rest:
            start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)
            return await rest.klines("BTCUSDT", "1m", start, end)

    candles = run(body())
    assert [c.open_time.minute for c in candles] == [5, 6, 7, 8, 9]
    assert candles[-1].close_time == T0 + timedelta(minutes=10)


# -- the stand-in speaks MEXC's protocol ------------------------------------------------------


def test_standin_websocket_when_spoken_to_raw_then_answers_like_mexc(
    mexc_standin: MexcStandIn,
) -> None:
    channels = [f"spot@public.aggre.deals.v3.api.pb@100ms@S{i:02d}USDT" for i in range(31)]

    async def body() -> list[Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(mexc_standin.ws_url) as ws,
        ):
            await ws.send_json({"method": "ping"})
            await ws.send_json({"method": "SUBSCRIPTION", "params": channels})
            await ws.send_json({"id": 7, "method": "SUBSCRIPTION", "params": ["spot@x.v3.api@A"]})
            return [await ws.receive_json(timeout=2) for _ in range(4)]

    pong, ack, too_many, blocked = run(body())
    assert pong == {"id": 0, "code": 0, "msg": "PONG"}
    assert ack == {"id": 0, "code": 0, "msg": ",".join(channels[:30])}
    assert too_many["msg"].startswith(f"Not Subscribed successfully! [{channels[30]}].  Reason")
    assert blocked == {
        "id": 7,
        "code": 0,
        "msg": "Not Subscribed successfully! [spot@x.v3.api@A].  Reason\uff1a Blocked! ",
    }


def test_standin_rest_when_ccxt_style_calls_then_answers(mexc_standin: MexcStandIn) -> None:
    async def body() -> list[Any]:
        async with aiohttp.ClientSession() as session:
            answers = []
            for path in ("/api/v3/ping", "/api/v3/time", "/api/v1/contract/detail"):
                async with session.get(mexc_standin.rest_url + path) as response:
                    answers.append(await response.json())
            return answers

    ping, server_time, contracts = run(body())
    assert ping == {}
    assert isinstance(server_time["serverTime"], int)
    assert contracts == {"success": True, "code": 0, "data": []}
