"""A local MEXC spot stand-in: REST and the protobuf websocket on one port, scriptable.

It runs its own event loop in its own thread, so a test (sync or async) scripts it with
plain method calls: add symbols and kline history, push deals, klines and quotes, drop
connections, go silent, answer 429/418, refuse channels. It speaks the protocol described
in MEXC.md: JSON text acks and pongs, one serialized `PushDataV3ApiWrapper` per binary frame.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Coroutine, Iterable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from engine.events import Candle
from engine.marketdata.mexc import proto
from engine.marketdata.synthetic import synthetic_candles
from tests.mexc_standin.layouts import kline_row, symbol_entry
from tests.mexc_standin.websocket import WebsocketHub

T = TypeVar("T")

#: `/api/v3/klines` intervals and their length in milliseconds (a month counted as 31 days).
REST_INTERVALS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "60m": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
    "1W": 604_800_000,
    "1M": 2_678_400_000,
}
WEIGHTS = {"/api/v3/exchangeInfo": 10}
MAX_KLINES = 500
STATUS_TEXT = {
    403: "Forbidden",
    418: "IP banned",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


class MexcStandIn:
    """A scriptable MEXC stand-in on 127.0.0.1 and a random free port."""

    def __init__(self, *, weight_limit: int = 500, weight_window: float = 10.0) -> None:
        self.weight_limit = weight_limit
        self.weight_window = weight_window
        self._lock = threading.Lock()
        self._symbols: dict[str, dict[str, Any]] = {}
        self._klines: dict[str, list[list[Any]]] = {}
        self._books: dict[str, dict[str, str]] = {}
        self._request_times: dict[str, list[float]] = {}
        self._kline_starts: list[int | None] = []  # each klines request's startTime (ms)
        self._spent: dict[str, deque[tuple[float, int]]] = {}
        self._forced: list[tuple[int, float | None]] = []
        self._banned = False
        self.answered: Counter[int] = Counter()
        self.hub = WebsocketHub(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.port = 0

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> MexcStandIn:
        """Start the server in its own thread; return self."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._start_server())
        return self

    def stop(self) -> None:
        """Close every connection, stop the server and its thread."""
        if self._loop is None or self._thread is None:
            return
        self._call(self._stop_server())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "the stand-in is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _start_server(self) -> None:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/ws", self.hub.handle)
        app.router.add_get("/api/v3/klines", self._klines_handler)
        app.router.add_get("/api/v3/ticker/bookTicker", self._book_handler)
        app.router.add_get("/api/v3/exchangeInfo", self._exchange_info_handler)
        app.router.add_get("/api/v3/ping", self._ping_handler)
        app.router.add_get("/api/v3/time", self._time_handler)
        app.router.add_get("/api/v1/contract/detail", self._contract_handler)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handle_signals=False)
        await self._runner.setup()
        assert self._runner.server is not None
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._runner.server, "127.0.0.1", 0)
        self.port = int(self._listener.sockets[0].getsockname()[1])

    async def _stop_server(self) -> None:
        await self.hub.close_all()
        if self._listener is not None:
            # Stop accepting before closing the listener: Python 3.11 drops a connection it
            # accepted just before the close (a client reconnecting at the end of a test)
            # without closing its socket. A few turns let such a connection get its handler,
            # which the runner's shutdown then closes.
            loop = asyncio.get_running_loop()
            for sock in self._listener.sockets:
                loop.remove_reader(sock.fileno())
            await asyncio.sleep(0.01)
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        """Return the base URL of the REST API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return the websocket URL."""
        return f"ws://127.0.0.1:{self.port}/ws"

    # -- scripting: market ------------------------------------------------------------------

    def add_symbol(
        self,
        symbol: str,
        status: str = "1",
        *,
        quote_asset: str = "USDT",
        maker_commission: str = "0",
        taker_commission: str = "0.0005",
        base_size_precision: str = "0.000001",
        quote_amount_precision: str = "1",
        spot_trading_allowed: bool = True,
    ) -> None:
        """List `symbol` in exchangeInfo (status "1" is online, "2" is suspended; MEXC
        spelled online "ENABLED" before)."""
        entry = symbol_entry(
            symbol,
            status,
            quote_asset=quote_asset,
            maker_commission=maker_commission,
            taker_commission=taker_commission,
            base_size_precision=base_size_precision,
            quote_amount_precision=quote_amount_precision,
        )
        entry["isSpotTradingAllowed"] = spot_trading_allowed
        self.list_entry(entry)

    def listed(self, symbol: str) -> dict[str, Any]:
        """Return a copy of the exchangeInfo entry of `symbol`."""
        with self._lock:
            return dict(self._symbols[symbol])

    def list_entry(self, entry: dict[str, Any]) -> None:
        """List `entry` in exchangeInfo as it is (e.g. with a field missing or null)."""
        with self._lock:
            self._symbols[str(entry.get("symbol"))] = entry

    def set_klines(self, symbol: str, candles: Iterable[Candle]) -> None:
        """Serve `candles` (1m) as the kline history of `symbol`, in MEXC's row layout."""
        rows = [kline_row(candle) for candle in candles]
        with self._lock:
            self._klines[symbol] = sorted(rows, key=lambda row: int(row[0]))

    def generate_klines(
        self, symbol: str, start: datetime, minutes: int, *, seed: int = 7
    ) -> list[Candle]:
        """Serve a seeded random walk of `minutes` 1m candles from `start`; return them."""
        candles = list(synthetic_candles([symbol], start, minutes, seed=seed, source="mexc"))
        self.set_klines(symbol, candles)
        return candles

    def set_book(self, symbol: str, bid: str, bid_qty: str, ask: str, ask_qty: str) -> None:
        """Set what `/api/v3/ticker/bookTicker` answers for `symbol`."""
        with self._lock:
            self._books[symbol] = {
                "symbol": symbol,
                "bidPrice": bid,
                "bidQty": bid_qty,
                "askPrice": ask,
                "askQty": ask_qty,
            }

    # -- scripting: pushes ------------------------------------------------------------------

    def push_deal(
        self,
        symbol: str,
        price: str,
        qty: str,
        side: str = "buy",
        time_ms: int = 1_767_225_600_000,
        trade_id: str = "",
    ) -> int:
        """Push one aggregated deal; return to how many connections it went."""
        wrapper = self._wrapper(f"spot@public.aggre.deals.v3.api.pb@100ms@{symbol}", symbol)
        wrapper.sendTime = time_ms
        body = wrapper.publicAggreDeals
        body.eventType = "spot@public.aggre.deals.v3.api.pb@100ms"
        body.deals.add(
            price=price,
            quantity=qty,
            tradeType=1 if side == "buy" else 2,
            time=time_ms,
            tradeId=trade_id,
        )
        return self.push_raw(wrapper.channel, wrapper.SerializeToString())

    def push_kline(
        self,
        symbol: str,
        window_start: int,
        open_: str,
        close: str,
        high: str,
        low: str,
        volume: str = "1",
        amount: str = "1",
        *,
        interval: str = "Min1",
    ) -> int:
        """Push the kline of the window opened at `window_start` (seconds); return fan-out."""
        wrapper = self._wrapper(f"spot@public.kline.v3.api.pb@{symbol}@{interval}", symbol)
        wrapper.sendTime = window_start * 1000
        kline = wrapper.publicSpotKline
        kline.interval, kline.windowStart = interval, window_start
        kline.windowEnd = window_start + 60
        kline.openingPrice, kline.closingPrice = open_, close
        kline.highestPrice, kline.lowestPrice = high, low
        kline.volume, kline.amount = volume, amount
        return self.push_raw(wrapper.channel, wrapper.SerializeToString())

    def push_book(
        self, symbol: str, bid: str, bid_qty: str, ask: str, ask_qty: str, time_ms: int = 0
    ) -> int:
        """Push the best bid and ask of `symbol`; return to how many connections it went."""
        wrapper = self._wrapper(f"spot@public.aggre.bookTicker.v3.api.pb@100ms@{symbol}", symbol)
        wrapper.sendTime = time_ms or int(time.time() * 1000)
        book = wrapper.publicAggreBookTicker
        book.bidPrice, book.bidQuantity = bid, bid_qty
        book.askPrice, book.askQuantity = ask, ask_qty
        self.set_book(symbol, bid, bid_qty, ask, ask_qty)
        return self.push_raw(wrapper.channel, wrapper.SerializeToString())

    def push_raw(self, channel: str, data: bytes) -> int:
        """Send `data` as a binary frame to every connection subscribed to `channel`."""
        return self._call(self.hub.broadcast(channel, data))

    @staticmethod
    def _wrapper(channel: str, symbol: str) -> Any:
        wrapper = proto.PushDataV3ApiWrapper(channel=channel, symbol=symbol, symbolId="1")
        wrapper.createTime = int(time.time() * 1000)
        return wrapper

    # -- scripting: faults ------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Close every websocket connection; return how many there were."""
        return self._call(self.hub.close_all())

    def go_silent(self, seconds: float) -> None:
        """Send nothing on the websocket (no pushes, acks or pongs) for `seconds`."""
        self.hub.go_silent(seconds)

    def refuse_channels(self, pattern: str) -> None:
        """Refuse subscriptions to channels matching the regular expression `pattern`."""
        self.hub.refuse(pattern)

    def answer_mixed_acks(self) -> None:
        """Answer a subscription taken in part in one message, `Subscribed successful! [a,b].
        Not Subscribed successfully! [c].  Reason...` (else, one ack and one refusal)."""
        self.hub.answer_mixed()

    def answer_429(self, times: int, retry_after: float | None = 1) -> None:
        """Answer the next `times` REST requests with 429 and this Retry-After (None: omit)."""
        self.answer_status(429, times, retry_after=retry_after)

    def answer_status(
        self, status: int, times: int = 1, *, retry_after: float | None = None
    ) -> None:
        """Answer the next `times` REST requests with HTTP `status` (403, 503, ...)."""
        with self._lock:
            self._forced.extend([(status, retry_after)] * times)

    def answer_418(self) -> None:
        """Answer every REST request from now on with 418 (an IP ban)."""
        with self._lock:
            self._banned = True

    # -- counters ---------------------------------------------------------------------------

    def requests(self, path: str | None = None) -> int:
        """Return how many REST requests arrived (for `path`, or in all)."""
        with self._lock:
            if path is not None:
                return len(self._request_times.get(path, []))
            return sum(len(times) for times in self._request_times.values())

    def kline_starts(self) -> list[int | None]:
        """Return the startTime (ms) of every klines request, in order (None: not given):
        a warm-up asks hours back, a back-fill minutes."""
        with self._lock:
            return list(self._kline_starts)

    def request_times(self, path: str) -> list[float]:
        """Return the monotonic arrival times of the requests for `path`."""
        with self._lock:
            return list(self._request_times.get(path, []))

    @property
    def connection_count(self) -> int:
        """Return how many websocket connections were ever accepted."""
        return self.hub.connections_accepted

    @property
    def open_connections(self) -> int:
        """Return how many websocket connections are open now."""
        return self.hub.open_connections

    @property
    def subscription_count(self) -> int:
        """Return how many channel subscriptions were ever accepted."""
        return self.hub.subscriptions_accepted

    def subscriptions(self) -> list[frozenset[str]]:
        """Return the channels of each open connection."""
        return self.hub.subscriptions()

    # -- REST -------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/ws":
            response: web.StreamResponse = await handler(request)
            return response
        refusal = self._admit(request.path)
        response = refusal if refusal is not None else await handler(request)
        with self._lock:
            self.answered[response.status] += 1
        return response

    def _admit(self, path: str) -> web.Response | None:
        """Count the request; return the refusal if it must be refused (ban, 429, weight)."""
        now, weight = time.monotonic(), WEIGHTS.get(path, 1)
        with self._lock:
            self._request_times.setdefault(path, []).append(now)
            if self._banned:
                return _error(418, 418, "IP banned")
            if self._forced:
                return self._forced_answer(*self._forced.pop(0))
            spent = self._spent.setdefault(path, deque())
            while spent and spent[0][0] <= now - self.weight_window:
                spent.popleft()
            if sum(w for _, w in spent) + weight > self.weight_limit:
                wait = spent[0][0] + self.weight_window - now
                return self._forced_answer(429, max(1, math.ceil(wait)))
            spent.append((now, weight))
        return None

    @staticmethod
    def _forced_answer(status: int, retry_after: float | None) -> web.Response:
        response = _error(status, status, STATUS_TEXT.get(status, "Error"))
        if retry_after is not None:
            whole = retry_after == int(retry_after)
            response.headers["Retry-After"] = str(int(retry_after) if whole else retry_after)
        return response

    async def _klines_handler(self, request: web.Request) -> web.Response:
        query = request.query
        symbol, interval = query.get("symbol", ""), query.get("interval", "")
        if interval not in REST_INTERVALS:
            return _error(400, -1121, "Invalid interval.")
        with self._lock:
            if symbol not in self._symbols:
                return _error(400, -1121, "Invalid symbol.")
            rows = list(self._klines.get(symbol, [])) if interval == "1m" else []
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**62))
        with self._lock:
            self._kline_starts.append(start if "startTime" in query else None)
        limit = min(int(query.get("limit", MAX_KLINES)), MAX_KLINES)
        if (
            "startTime" in query
            and "endTime" in query
            and end - start > limit * REST_INTERVALS[interval]
        ):
            # As MEXC is reported to do: a window longer than `limit` rows ignores startTime
            # and answers the latest rows before endTime.
            return web.json_response([row for row in rows if int(row[0]) < end][-limit:])
        chosen = [row for row in rows if start <= int(row[0]) < end]
        chosen = chosen[:limit] if "startTime" in query else chosen[-limit:]
        return web.json_response(chosen)

    async def _book_handler(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        with self._lock:
            if symbol not in self._symbols:
                return _error(400, -1121, "Invalid symbol.")
            book = self._books.get(symbol)
        default = {"bidPrice": "100", "bidQty": "1", "askPrice": "100.1", "askQty": "1"}
        return web.json_response(book or {"symbol": symbol, **default})

    async def _exchange_info_handler(self, request: web.Request) -> web.Response:
        asked = request.query.get("symbols") or request.query.get("symbol") or ""
        wanted = [s for s in asked.split(",") if s]
        with self._lock:
            if any(symbol not in self._symbols for symbol in wanted):
                return _error(400, -1121, "Invalid symbol.")
            entries = [self._symbols[s] for s in wanted] if wanted else list(self._symbols.values())
        server_time = int(time.time() * 1000)
        body = {
            "timezone": "CST",
            "serverTime": server_time,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": entries,
        }
        return web.json_response(body)

    async def _ping_handler(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time_handler(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def _contract_handler(self, request: web.Request) -> web.Response:
        return web.json_response({"success": True, "code": 0, "data": []})

    def __enter__(self) -> MexcStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
