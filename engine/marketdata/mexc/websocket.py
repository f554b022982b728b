"""MEXC's spot protobuf websocket: subscribe, keep alive, reconnect, decode into events.

Symbols are spread over as many connections as MEXC's 30-subscriptions limit needs; all
connections feed one async iterator of events and `ConnectionChange`s (so the caller can
record gaps and back-fill from REST). A connection that sends nothing (not even a pong) for
two ping intervals is dead and is replaced; one nearing MEXC's 24 h limit is replaced in a
planned reconnect. A channel MEXC refuses (it retires streams without notice) is reported
once as a `SubscriptionRefused` and not asked for again; the other channels go on, and the
caller can poll REST for what the refused ones carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import aiohttp

from engine.errors import EventDecodeError
from engine.events import Candle, QuoteTick, TradeTick
from engine.marketdata.mexc.convert import (
    CandleAssembler,
    QuoteKeeper,
    decode_frame,
    frame_events,
)
from engine.marketdata.mexc.convert import wrapper_symbol as _wrapper_symbol

log = logging.getLogger(__name__)

#: The channel of each kind of data, for one symbol.
CHANNELS = {
    "deals": "spot@public.aggre.deals.v3.api.pb@100ms@{symbol}",
    "kline": "spot@public.kline.v3.api.pb@{symbol}@Min1",
    "book": "spot@public.aggre.bookTicker.v3.api.pb@100ms@{symbol}",
}
REFUSAL = "Not Subscribed successfully"
#: A bracketed list of channels and the label before it, in a subscription answer.
_ACK_BRACKET = re.compile(
    r"(?P<refused>Not\s+)?Subscribed\s+successful(?:ly)?\s*!?\s*\[(?P<names>[^\]]*)\]",
    re.IGNORECASE,
)
_REASON = re.compile(r"Reason\s*[:\uff1a]\s*(.*)", re.DOTALL)
#: Emit a kline window this long after its close if no later push closed it (late pushes).
KLINE_GRACE = timedelta(seconds=2)
_PING = json.dumps({"method": "PING"})
_MAX_WAIT = 1.0  # wake at least this often to flush closed candles

ChangeKind = Literal["connected", "disconnected", "planned_reconnect"]


@dataclass(frozen=True)
class ConnectionChange:
    """Connection `connection` (carrying `symbols`) connected, dropped or was replaced."""

    kind: ChangeKind
    at: datetime
    connection: int
    symbols: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class SubscriptionRefused:
    """MEXC refused `channels` on connection `connection` for `reason`; they are not asked
    for again. `streams` names each channel's (symbol, kind): kind as in CHANNELS."""

    at: datetime
    connection: int
    channels: tuple[str, ...]
    streams: tuple[tuple[str, str], ...]
    reason: str


MarketItem = TradeTick | QuoteTick | Candle | ConnectionChange | SubscriptionRefused


def _utc_now() -> datetime:
    return datetime.now(UTC)


def channel_names(symbol: str, channels: Sequence[str]) -> list[str]:
    """Return the MEXC channel names of `symbol` for the kinds in `channels`."""
    return [CHANNELS[kind].format(symbol=symbol.upper()) for kind in channels]


def plan_connections(
    symbols: Sequence[str], channels: Sequence[str], per_connection: int
) -> list[tuple[str, ...]]:
    """Group symbols so no connection carries more than `per_connection` subscriptions."""
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown or not channels:
        raise ValueError(f"channels must be among {sorted(CHANNELS)}, got {list(channels)}")
    size = per_connection // len(channels)
    if size < 1:
        raise ValueError(f"{len(channels)} channels per symbol exceed {per_connection}")
    ordered = list(dict.fromkeys(symbol.upper() for symbol in symbols))
    return [tuple(ordered[i : i + size]) for i in range(0, len(ordered), size)]


def refusal_details(message: str) -> tuple[list[str], str]:
    """Return the refused channels and the reason of MEXC's refusal text."""
    answer = parse_ack(message)
    return list(answer.refused), answer.reason


@dataclass(frozen=True)
class SubscriptionAnswer:
    """What MEXC's answer to a SUBSCRIPTION says: the channels it took and refused."""

    accepted: tuple[str, ...]
    refused: tuple[str, ...]
    reason: str
    #: A refusal that names no channel (it then concerns every channel not yet acked).
    unnamed_refusal: bool = False


def parse_ack(message: str) -> SubscriptionAnswer:
    """Read MEXC's answer to a SUBSCRIPTION, bracket by bracket.

    MEXC answers `a,b` when it takes every channel, `Not Subscribed successfully! [c].
    Reason: Blocked! ` (with a full-width colon) when it refuses some, and a mix says both:
    `Subscribed successful! [a,b]. Not Subscribed successfully! [c]`. Each bracket belongs
    to the label before it.
    """
    accepted: list[str] = []
    refused: list[str] = []
    brackets = list(_ACK_BRACKET.finditer(message))
    for bracket in brackets:
        names = [name.strip() for name in bracket.group("names").split(",") if name.strip()]
        (refused if bracket.group("refused") else accepted).extend(names)
    refusal = REFUSAL.lower() in message.lower()
    if not brackets and not refusal:
        accepted = [name.strip() for name in message.split(",") if name.strip()]
    reason = _REASON.search(message)
    return SubscriptionAnswer(
        accepted=tuple(accepted),
        refused=tuple(refused),
        reason=reason.group(1).strip() if reason else message.strip(),
        unnamed_refusal=refusal and not refused,
    )


@dataclass
class _Link:
    """The state of one connection."""

    index: int
    symbols: tuple[str, ...]
    channels: list[str]
    pending: set[str] = field(default_factory=set)
    connected: bool = False
    opened: float = 0.0
    last_frame: float = 0.0
    next_ping: float = 0.0


class MexcWebsocket:
    """Market events of `symbols` from MEXC's protobuf websocket."""

    def __init__(
        self,
        ws_url: str,
        symbols: Sequence[str],
        *,
        channels: Sequence[str] = ("deals", "kline", "book"),
        session: aiohttp.ClientSession | None = None,
        ping_interval: float = 20.0,
        max_connection_age: timedelta = timedelta(hours=23, minutes=30),
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _utc_now,
        subscriptions_per_connection: int = 30,
        on_decode_error: Callable[[EventDecodeError], None] | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.ws_url = ws_url
        self.groups = plan_connections(symbols, channels, subscriptions_per_connection)
        self.channels = tuple(channels)
        self.ping_interval = ping_interval
        self.max_connection_age = max_connection_age.total_seconds()
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._clock = clock
        self._session, self._owns_session = session, session is None
        self._on_decode_error = on_decode_error or _log_decode_error
        self._queue: asyncio.Queue[MarketItem | BaseException | None] = asyncio.Queue(queue_size)
        self._assembler = CandleAssembler()
        self._quotes = QuoteKeeper()
        self._streams = {
            name: (symbol, kind)
            for group in self.groups
            for symbol in group
            for kind, name in zip(self.channels, channel_names(symbol, self.channels), strict=True)
        }
        #: Channels MEXC refused: never asked for again by this client.
        self.refused: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        #: When data last arrived for each symbol (from the injected clock).
        self.last_data_at: dict[str, datetime] = {}
        self.decode_errors = 0
        #: When the newest frame was skipped as unreadable (from the injected clock).
        self.last_decode_error_at: datetime | None = None

    async def events(self) -> AsyncIterator[MarketItem]:
        """Yield events and connection changes until closed; raise a permanent failure."""
        if self._tasks:
            raise RuntimeError("events() is already being iterated")
        self._tasks = [
            asyncio.create_task(self._run(_Link(i, group, self._channels_of(group))))
            for i, group in enumerate(self.groups)
        ]
        try:
            while not self._closed:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self._stop_tasks()

    async def close(self) -> None:
        """Stop every connection and close the session if this client opened it."""
        self._closed = True
        await self._stop_tasks()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)  # wake a consumer waiting in events()
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _channels_of(self, symbols: Sequence[str]) -> list[str]:
        return [name for symbol in symbols for name in channel_names(symbol, self.channels)]

    async def _stop_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=10.0)
            self._session = aiohttp.ClientSession(timeout=timeout)
            self._owns_session = True
        return self._session

    async def _run(self, link: _Link) -> None:
        """Keep one connection up until closed (or until MEXC refused every channel of it);
        hand a permanent failure to the consumer."""
        failures = 0
        try:
            while not self._closed and link.channels:
                kind, reason = await self._connect_once(link)
                self._quotes.forget(link.symbols)  # a kept quote side is from this connection
                if link.connected and link.channels:  # (none left: REST serves it, no gap)
                    await self._change(kind, link, reason)
                    failures = 0
                link.connected = False
                if kind != "planned_reconnect" and link.channels:
                    failures += 1
                    await asyncio.sleep(self._backoff(failures))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the consumer, who raises it
            await self._queue.put(exc)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** (failures - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def _connect_once(self, link: _Link) -> tuple[ChangeKind, str]:
        """Run one connection to its end; return how it ended and why."""
        close_timeout = aiohttp.ClientWSTimeout(ws_close=min(2.0, self.ping_interval))
        try:
            async with self._client().ws_connect(
                self.ws_url, autoping=True, heartbeat=None, timeout=close_timeout
            ) as ws:
                message = {"method": "SUBSCRIPTION", "params": link.channels}
                await ws.send_str(json.dumps(message))
                link.pending = set(link.channels)
                return await self._read(ws, link)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return "disconnected", f"{type(exc).__name__}: {exc}"

    async def _read(
        self, ws: aiohttp.ClientWebSocketResponse, link: _Link
    ) -> tuple[ChangeKind, str]:
        """Read frames, pinging on time, until the connection ends; return how and why."""
        loop = asyncio.get_running_loop()
        link.opened = link.last_frame = loop.time()
        link.next_ping = link.opened + self.ping_interval
        while True:
            now = loop.time()
            ending = self._ending(link, now)
            if ending is not None:
                return ending
            if now >= link.next_ping:
                await ws.send_str(_PING)
                link.next_ping = now + self.ping_interval
            await self._flush_candles()
            try:
                message = await ws.receive(timeout=self._wait(link, now))
            except TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.TEXT:
                link.last_frame = loop.time()
                await self._on_text(link, str(message.data))
                if not link.channels:
                    return "disconnected", "MEXC refused every channel of this connection"
            elif message.type == aiohttp.WSMsgType.BINARY:
                link.last_frame = loop.time()
                await self._on_binary(bytes(message.data))
            else:
                return "disconnected", f"closed ({message.type.name}, code {ws.close_code})"

    def _ending(self, link: _Link, now: float) -> tuple[ChangeKind, str] | None:
        """Return why the connection must end now (dead, never acked, too old), or None."""
        dead_after = 2 * self.ping_interval
        if now - link.last_frame >= dead_after:
            return "disconnected", f"no frame for {dead_after:g} s"
        if not link.connected and now - link.opened >= dead_after:
            return "disconnected", f"no subscription ack within {dead_after:g} s"
        if link.connected and now - link.opened >= self.max_connection_age:
            return "planned_reconnect", "connection age limit reached"
        return None

    def _wait(self, link: _Link, now: float) -> float:
        """Return how long to wait for a frame before the next ping or check is due."""
        dead_after = 2 * self.ping_interval
        age_limit = self.max_connection_age if link.connected else dead_after
        wake = min(link.next_ping, link.last_frame + dead_after, link.opened + age_limit)
        return max(min(wake, now + _MAX_WAIT) - now, 0.001)

    async def _on_text(self, link: _Link, text: str) -> None:
        """Handle a JSON control frame: a pong, an ack, a refusal or both."""
        try:
            reply = json.loads(text)
            note = str(reply.get("msg", ""))
        except (ValueError, AttributeError, RecursionError):  # or nested deeper than json reads
            log.warning("MEXC sent a text frame that is not a JSON object: %.200s", text)
            return
        if note == "PONG":
            return
        answer = parse_ack(note)
        link.pending.difference_update(answer.accepted)
        named = set(answer.refused) if not answer.unnamed_refusal else set(link.pending)
        refused = [channel for channel in link.channels if channel in named]
        if refused:
            await self._refuse(link, refused, answer.reason)
        if link.channels and not link.pending and not link.connected:
            link.connected = True
            await self._change("connected", link, "subscribed to " + ", ".join(link.channels))

    async def _refuse(self, link: _Link, channels: list[str], reason: str) -> None:
        """Drop refused channels from the connection for good, and say so once."""
        log.warning("MEXC refused %s: %s", ", ".join(channels), reason)
        link.channels = [channel for channel in link.channels if channel not in channels]
        link.pending.difference_update(channels)
        self.refused.update(channels)
        streams = tuple(self._streams[channel] for channel in channels if channel in self._streams)
        refusal = SubscriptionRefused(
            self._clock(), link.index, tuple(channels), streams, reason or "no reason given"
        )
        await self._queue.put(refusal)

    async def _on_binary(self, data: bytes) -> None:
        """Decode one push frame into events; report a malformed one and carry on."""
        now = self._clock()
        try:
            wrapper = decode_frame(data)
            events = frame_events(wrapper, self._assembler, ts_init=now, quotes=self._quotes)
            self.last_data_at[_wrapper_symbol(wrapper)] = now
        except EventDecodeError as exc:
            self.decode_errors += 1
            self.last_decode_error_at = now
            self._on_decode_error(exc)
            return
        for event in events:
            await self._queue.put(event)

    async def _flush_candles(self) -> None:
        now = self._clock()
        for candle in self._assembler.flush(now - KLINE_GRACE, ts_init=now):
            await self._queue.put(candle)

    async def _change(self, kind: ChangeKind, link: _Link, reason: str) -> None:
        change = ConnectionChange(kind, self._clock(), link.index, link.symbols, reason)
        await self._queue.put(change)


def _log_decode_error(error: EventDecodeError) -> None:
    log.warning("MEXC frame skipped: %s", error.message)
