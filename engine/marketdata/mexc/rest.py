"""MEXC's public spot REST API: symbols, klines and the best bid/ask, politely.

A client-side weight limiter keeps each endpoint under its budget, so MEXC's own limit
(500 weight per 10 s per endpoint) is never reached; a 429 is waited out as MEXC asks, a
418 (a ban) stops at once, and server errors are retried with jittered backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any

import aiohttp

from engine.errors import EventDecodeError
from engine.events import Candle, CandleInterval, QuoteTick
from engine.events.market_data import INTERVAL_LENGTHS
from engine.marketdata.mexc.convert import (
    REST_INTERVALS,
    SOURCE,
    build_event,
    rest_candle,
    to_milliseconds,
)
from engine.marketdata.mexc.errors import (
    ExchangeBannedError,
    ExchangeForbiddenError,
    ExchangeRequestError,
    ExchangeUnavailableError,
    UnknownSymbolError,
)

log = logging.getLogger(__name__)

KLINES = "/api/v3/klines"
EXCHANGE_INFO = "/api/v3/exchangeInfo"
BOOK_TICKER = "/api/v3/ticker/bookTicker"
#: MEXC's request weight of each endpoint; others count 1.
ENDPOINT_WEIGHTS = {KLINES: 1, EXCHANGE_INFO: 10, BOOK_TICKER: 1}
#: Rows per `/api/v3/klines` page (MEXC returns at most 500).
KLINE_PAGE = 500
_BACKOFF_INITIAL = 0.5
_BACKOFF_MAX = 10.0


#: exchangeInfo `status` values of a symbol online: "1" today, "ENABLED" in older answers.
ONLINE_STATUSES = frozenset({"1", "ENABLED"})


@dataclass(frozen=True)
class SymbolInfo:
    """What MEXC says about one spot symbol."""

    symbol: str
    status_online: bool
    base_asset: str
    quote_asset: str
    base_precision: int
    quote_precision: int
    min_quantity: Decimal
    min_notional: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    #: `isSpotTradingAllowed`; None when MEXC's entry does not say.
    spot_trading_allowed: bool | None = None
    status: str = ""

    def refusal(self) -> str | None:
        """Return why claire cannot trade this symbol on spot, or None when it can."""
        if not self.status_online:
            return f"listed but not online (trading is suspended; status {self.status!r})"
        if self.spot_trading_allowed is None:
            return "MEXC does not say spot trading is allowed (no isSpotTradingAllowed)"
        if not self.spot_trading_allowed:
            return "spot trading is not allowed on it (isSpotTradingAllowed is false)"
        return None


def parse_symbol_info(entry: Mapping[str, Any]) -> SymbolInfo:
    """Read one element of exchangeInfo's `symbols` list."""
    try:
        status = str(entry["status"]).strip()
        return SymbolInfo(
            symbol=str(entry["symbol"]).upper(),
            status_online=status.upper() in ONLINE_STATUSES,
            base_asset=str(entry["baseAsset"]),
            quote_asset=str(entry["quoteAsset"]),
            base_precision=int(entry["baseAssetPrecision"]),
            quote_precision=int(entry.get("quoteAssetPrecision", entry.get("quotePrecision"))),
            min_quantity=Decimal(str(entry["baseSizePrecision"])),
            min_notional=Decimal(str(entry["quoteAmountPrecision"])),
            maker_fee=Decimal(str(entry["makerCommission"])),
            taker_fee=Decimal(str(entry["takerCommission"])),
            spot_trading_allowed=_flag(entry.get("isSpotTradingAllowed")),
            status=status,
        )
    except (KeyError, TypeError, ValueError, OverflowError, InvalidOperation) as exc:
        name = entry.get("symbol", "?") if isinstance(entry, Mapping) else "?"
        raise EventDecodeError([f"exchangeInfo {name}: {exc!r}"], raw=entry) from exc


def _flag(value: object) -> bool | None:
    """Read a JSON boolean MEXC may also spell as a string; None when absent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"isSpotTradingAllowed: {value!r} is not true or false")


def listed_entries(payload: object) -> dict[str, Mapping[str, Any]]:
    """Return the entries of an exchangeInfo answer by symbol, unread.

    An entry with no symbol name is skipped: MEXC lists about 2,000 symbols, and one odd
    entry must not stop a run that does not trade it.
    """
    entries = payload.get("symbols") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise EventDecodeError(["exchangeInfo: no `symbols` list"], raw=payload)
    listed: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        name = entry.get("symbol") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name.strip():
            listed.setdefault(name.strip().upper(), entry)
    return listed


class WeightLimiter:
    """A sliding-window budget of request weight per endpoint; waits rather than overspend."""

    def __init__(
        self,
        budget: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.budget = budget
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._spent: dict[str, deque[tuple[float, int]]] = {}

    def used(self, path: str) -> int:
        """Return the weight spent on `path` within the current window."""
        spent = self._spent.setdefault(path, deque())
        horizon = self._clock() - self.window_seconds
        while spent and spent[0][0] <= horizon:
            spent.popleft()
        return sum(weight for _, weight in spent)

    async def acquire(self, path: str, weight: int) -> None:
        """Wait until `weight` fits in the budget of `path`, then spend it."""
        while True:
            used = self.used(path)
            spent = self._spent[path]
            if used + weight <= self.budget or not spent:
                spent.append((self._clock(), weight))
                return
            await self._sleep(max(spent[0][0] + self.window_seconds - self._clock(), 0.001))


class MexcRest:
    """An async client of MEXC's public spot REST API."""

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        weight_per_window: int = 400,
        window_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int = 5,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._now = now
        self.max_attempts = max(1, max_attempts)
        self.limiter = WeightLimiter(weight_per_window, window_seconds, clock=clock, sleep=sleep)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    async def __aenter__(self) -> MexcRest:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
            self._owns_session = True
        return self._session

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET `path` and return its JSON, within the weight budget, retrying what can be."""
        weight = ENDPOINT_WEIGHTS.get(path, 1)
        failure = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire(path, weight)
            try:
                status, retry_after, body = await self._fetch(path, params)
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure, delay = f"{type(exc).__name__}: {exc}", self._backoff(attempt)
            else:
                if 200 <= status < 300:
                    return _payload(path, status, body)
                failure, delay = _retryable(path, status, body), self._backoff(attempt)
                if status == 429 and retry_after is not None:
                    delay = retry_after
            if attempt < self.max_attempts:
                await self._sleep(delay)
        raise ExchangeUnavailableError(
            f"MEXC {path} failed {self.max_attempts} times; the last: {failure}"
        )

    async def _fetch(
        self, path: str, params: Mapping[str, str | int] | None
    ) -> tuple[int, float | None, str]:
        query = {key: str(value) for key, value in (params or {}).items()}
        async with self._client().get(self.base_url + path, params=query) as response:
            body = await response.text()
            return response.status, _seconds(response.headers.get("Retry-After")), body

    def _backoff(self, attempt: int) -> float:
        ceiling = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2.0 ** (attempt - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def exchange_info(self, symbols: Iterable[str] | None = None) -> dict[str, SymbolInfo]:
        """Return what MEXC says about `symbols` (every spot symbol if None), by symbol.

        The entries of `symbols` are read strictly (one that cannot be read raises
        EventDecodeError); when every symbol is asked for, an unreadable entry is skipped.
        """
        wanted = sorted({symbol.upper() for symbol in symbols or ()})
        params = {"symbols": ",".join(wanted)} if wanted else None
        listed = listed_entries(await self.get(EXCHANGE_INFO, params))
        if wanted:
            return {s: parse_symbol_info(listed[s]) for s in wanted if s in listed}
        infos: dict[str, SymbolInfo] = {}
        for symbol, entry in listed.items():
            try:
                infos[symbol] = parse_symbol_info(entry)
            except EventDecodeError as exc:
                log.debug("exchangeInfo entry skipped: %s", exc.message)
        return infos

    async def validate_symbols(self, symbols: Iterable[str]) -> dict[str, SymbolInfo]:
        """Return the info of `symbols`; raise UnknownSymbolError naming any claire cannot
        trade (not listed, not online, spot trading not allowed).

        The whole list is fetched (so an unknown symbol can be named, where MEXC would
        refuse the request), but only the entries of `symbols` are read: another symbol's
        entry with a missing or null field does not matter.
        """
        wanted = list(dict.fromkeys(symbol.upper() for symbol in symbols))
        listed = listed_entries(await self.get(EXCHANGE_INFO))
        problems: dict[str, str] = {}
        infos: dict[str, SymbolInfo] = {}
        for symbol in wanted:
            entry = listed.get(symbol)
            if entry is None:
                problems[symbol] = "not listed on MEXC spot"
                continue
            infos[symbol] = parse_symbol_info(entry)
            refusal = infos[symbol].refusal()
            if refusal is not None:
                problems[symbol] = refusal
        if problems:
            raise UnknownSymbolError(problems)
        return infos

    async def klines(
        self,
        symbol: str,
        interval: CandleInterval,
        start: datetime,
        end: datetime,
        *,
        on_page: Callable[[list[Candle]], None] | None = None,
    ) -> list[Candle]:
        """Return the candles opened in [start, end), in order, fetched 500 at a time.

        Each request asks for at most one page of time, [cursor, cursor + 500 intervals):
        MEXC is reported to ignore `startTime` and answer the latest rows when the window
        holds more than `limit` of them, which would skip the start of a long range
        silently (ccxt caps `endTime` the same way).
        """
        symbol, length = symbol.upper(), INTERVAL_LENGTHS[interval]
        candles: list[Candle] = []
        cursor = start
        while cursor < end:
            page_end = end if end - cursor <= length * KLINE_PAGE else cursor + length * KLINE_PAGE
            rows = await self._kline_rows(symbol, interval, cursor, page_end)
            ts_init = self._now()
            page = [rest_candle(symbol, interval, row, ts_init=ts_init) for row in rows]
            page = [candle for candle in page if cursor <= candle.open_time < page_end]
            if page and on_page is not None:
                on_page(page)
            candles.extend(page)
            cursor = page_end
        return candles

    async def _kline_rows(
        self, symbol: str, interval: CandleInterval, start: datetime, end: datetime
    ) -> list[Any]:
        params: dict[str, str | int] = {
            "symbol": symbol,
            "interval": REST_INTERVALS[interval],
            "startTime": to_milliseconds(start),
            "endTime": to_milliseconds(end),
            "limit": KLINE_PAGE,
        }
        rows = await self.get(KLINES, params)
        if not isinstance(rows, list):
            raise EventDecodeError(["klines: expected a list of rows"], raw=rows)
        return rows

    async def book_ticker(self, symbol: str) -> QuoteTick:
        """Return the best bid and ask of `symbol` now."""
        payload = await self.get(BOOK_TICKER, {"symbol": symbol.upper()})
        if not isinstance(payload, dict):
            raise EventDecodeError(["bookTicker: expected an object"], raw=payload)
        now = self._now()
        quote: QuoteTick = build_event(
            QuoteTick,
            payload,
            ts_event=now,
            ts_init=now,
            source=SOURCE,
            symbol=payload.get("symbol", symbol),
            bid_price=payload.get("bidPrice"),
            bid_quantity=payload.get("bidQty"),
            ask_price=payload.get("askPrice"),
            ask_quantity=payload.get("askQty"),
        )
        return quote


def _seconds(header: str | None) -> float | None:
    """Read a Retry-After header given in seconds (None if absent or not a number)."""
    try:
        return max(float(header), 0.0) if header is not None else None
    except ValueError:
        return None


def _error_body(body: str) -> tuple[int | None, str]:
    """Return MEXC's (code, msg) from an error body, or (None, the text)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, body.strip()[:200] or "(empty body)"
    if isinstance(data, dict) and "msg" in data:
        code = data.get("code")
        return (code if isinstance(code, int) else None), str(data["msg"])
    return None, body.strip()[:200]


def _payload(path: str, status: int, body: str) -> Any:
    """Return the JSON of a 2xx answer; a `{"code", "msg"}` error body raises."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise EventDecodeError([f"{path}: the answer is not JSON"], raw=body[:200]) from exc
    except RecursionError:
        problem = f"{path}: the answer is JSON nested too deeply to read"
        raise EventDecodeError([problem], raw=body[:200]) from None
    if isinstance(data, dict) and "msg" in data and data.get("code") not in (None, 0, 200):
        code, msg = _error_body(body)
        raise ExchangeRequestError(code, msg, status=status, path=path)
    return data


def _retryable(path: str, status: int, body: str) -> str:
    """Describe a failed answer that a retry may fix; raise for one it cannot."""
    code, msg = _error_body(body)
    if status == 418:
        raise ExchangeBannedError(f"MEXC banned this IP (HTTP 418 on {path}): {msg}")
    if status == 403:
        raise ExchangeForbiddenError(
            f"MEXC's firewall refused {path} (HTTP 403): {msg}; "
            "the IP or region may be blocked, or the request looked abusive"
        )
    if status == 429 or status >= 500:
        return f"HTTP {status}: {msg}"
    raise ExchangeRequestError(code, msg, status=status, path=path)
