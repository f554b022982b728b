"""The live MEXC source: websocket data, REST history and back-fill, gaps, staleness.

What it guarantees on top of the protocol clients (`engine.marketdata.mexc`):
- symbols are checked against exchangeInfo before anything starts (unknown, offline or not
  open to spot trading: error);
- start-up history: the last `history` of 1-minute candles from REST, so strategies are warm;
- after a disconnect (or a hole in the candle stream) the missing candles are back-filled
  from REST and the gap is recorded as a `MarketDataGap` event; minutes without a candle on
  a connection that stayed up are minutes nothing traded in (an illiquid symbol's quiet
  minutes), not a hole: they are neither back-filled nor recorded (see `_hole_before`);
- while the websocket stays down, REST is polled for closed candles and best bid/ask;
- a channel MEXC refuses (it retires streams without notice) raises a
  `market_data_degraded` warning, and REST is polled for what it carried from then on
  (candles, best bid/ask; trades have no REST fallback);
- no data for a symbol for `stale_after` raises a `market_data_stale` alert (and records a
  gap); it clears when data returns. `last_data_age()` feeds the process's /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.events import AlertLevel, AlertRaised, Candle, MarketDataGap, QuoteTick, TradeTick
from engine.events.market_data import GapCause
from engine.marketdata.mexc import (
    ConnectionChange,
    MexcRest,
    MexcWebsocket,
    SubscriptionRefused,
)
from engine.marketdata.source import MarketItem

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
LiveItem = MarketItem
Clock = Callable[[], datetime]


HISTORY = "mexc.history"  # start-up warm-up: see engine.events.market_data.is_warmup
BACKFILL = "mexc.backfill"  # recovered after a gap: learned from, never traded on
DEGRADED_CODE = "market_data_degraded"
#: What polling REST brings instead of each websocket stream, for the degraded alert.
_FALLBACKS = {
    "kline": "candles are polled from REST every {every:g} s",
    "book": "the best bid/ask is polled from REST every {every:g} s",
    "deals": "trades have no REST fallback: none will arrive",
}


def _tagged(candle: Candle, source: str) -> Candle:
    return candle.model_copy(update={"source": source})


def utc_now() -> datetime:
    return datetime.now(UTC)


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


#: The start-up history of 1-minute candles a live source sends (warm-up), at least.
DEFAULT_HISTORY = timedelta(hours=2)


@dataclass(frozen=True)
class LiveOptions:
    """Timings of the live source."""

    history: timedelta = DEFAULT_HISTORY
    stale_after: timedelta = timedelta(seconds=120)
    fallback_after_s: float = 30.0
    poll_every_s: float = 10.0
    watch_every_s: float = 1.0
    queue_size: int = 10_000


class _Failed:
    """A sentinel carrying the error of a background task to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class MexcLiveSource:
    """Market events of `symbols` from MEXC, in arrival order, gaps recorded."""

    name = "mexc"

    def __init__(
        self,
        symbols: Sequence[str],
        rest: MexcRest,
        websocket: MexcWebsocket,
        options: LiveOptions | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.symbols = [s.upper() for s in symbols]
        self.rest, self.websocket = rest, websocket
        self.options = options or LiveOptions()
        self._clock = clock
        self._queue: asyncio.Queue[LiveItem | _Failed] = asyncio.Queue(self.options.queue_size)
        self._last_open: dict[str, datetime] = {}  # newest candle open time emitted
        self._last_data: dict[str, datetime] = {}
        self._last_data_monotonic: float | None = None
        self._stale_since: dict[str, datetime] = {}
        self._down_since: dict[str, tuple[datetime, str, GapCause]] = {}
        self._up_since: dict[str, datetime] = {}  # when the symbol's connection came up
        self._checked: dict[str, datetime] = {}  # REST asked for every minute before this
        self._refused: dict[str, set[str]] = {}  # streams MEXC refused, polled over REST
        self._tasks: list[asyncio.Task[None]] = []

    # -- the source interface ----------------------------------------------------------

    async def items(self) -> AsyncIterator[LiveItem]:
        """Validate, send history, then stream until closed; raise what a task raised."""
        await self.rest.validate_symbols(self.symbols)
        for candle in await self._history():
            yield candle
        started = self._clock()
        for symbol in self.symbols:  # a feed dead from the start is stale too
            self._last_data.setdefault(symbol, started)
        self._tasks = [
            asyncio.create_task(self._guarded(self._consume_websocket())),
            asyncio.create_task(self._guarded(self._watch_staleness())),
            asyncio.create_task(self._guarded(self._poll_rest())),
        ]
        while True:
            item = await self._queue.get()
            if isinstance(item, _Failed):
                raise item.error
            yield item

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.websocket.close()
        await self.rest.close()

    def last_data_age(self) -> float | None:
        """Seconds since the newest market data of any symbol (None before the first)."""
        if self._last_data_monotonic is None:
            return None
        return time.monotonic() - self._last_data_monotonic

    # -- background tasks --------------------------------------------------------------

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self._queue.put(_Failed(exc))

    async def _consume_websocket(self) -> None:
        async for item in self.websocket.events():
            if isinstance(item, ConnectionChange):
                await self._on_connection(item)
            elif isinstance(item, SubscriptionRefused):
                await self._on_refused(item)
            elif isinstance(item, Candle):
                await self._on_candle(item)
            else:
                self._saw(item.symbol)
                await self._emit(item)

    async def _on_connection(self, change: ConnectionChange) -> None:
        if change.kind == "connected":
            for symbol in change.symbols:
                self._up_since[symbol] = change.at
                down = self._down_since.pop(symbol, None)
                if down is not None:
                    since, reason, why = down
                    await self._backfill(symbol, why, since, change.at, reason)
            return
        log.warning("MEXC connection %s %s: %s", change.connection, change.kind, change.reason)
        cause: GapCause = (
            "planned_reconnect" if change.kind == "planned_reconnect" else "disconnect"
        )
        for symbol in change.symbols:
            self._up_since.pop(symbol, None)
            # The gap starts with the last data seen, not when the drop was noticed.
            since = min(self._last_data.get(symbol, change.at), change.at)
            self._down_since.setdefault(symbol, (since, change.reason, cause))

    async def _on_refused(self, refused: SubscriptionRefused) -> None:
        kinds: dict[str, list[str]] = {}
        for symbol, kind in refused.streams:
            kinds.setdefault(symbol, []).append(kind)
            self._refused.setdefault(symbol, set()).add(kind)
        for symbol, refused_kinds in kinds.items():
            await self._emit(self._degraded_alert(symbol, refused_kinds, refused))
            down = self._down_since.get(symbol)
            if down is not None and self._refused[symbol] >= set(self.websocket.channels):
                # Every stream refused: no reconnect will end this gap, REST serves it now.
                del self._down_since[symbol]
                since, reason, why = down
                await self._backfill(symbol, why, since, refused.at, reason)

    async def _on_candle(self, candle: Candle) -> None:
        symbol = candle.symbol
        hole = self._hole_before(candle)
        if hole is not None:
            await self._backfill(
                symbol, "missing_candles", hole, candle.open_time, "hole in klines"
            )
        last = self._last_open.get(symbol)
        if last is not None and candle.open_time <= last:
            return  # already emitted (history or back-fill)
        self._last_open[symbol] = candle.open_time
        self._saw(symbol)
        await self._emit(candle)

    def _hole_before(self, candle: Candle) -> datetime | None:
        """Return where the minutes missing before `candle` begin, if they are a hole to
        back-fill; None when none are missing, or when they are quiet minutes.

        Minutes REST was already asked for are not missing again. Minutes without a candle
        on a connection that was up all along, while the symbol's data was not stale and no
        frame was skipped as unreadable since they began (any symbol's: a garbled frame
        names none), are minutes nothing traded in: MEXC pushes no window for them (and
        REST has no row either). Back-filling them would ask REST after every quiet stretch
        of an illiquid symbol and record each as a gap.
        """
        symbol = candle.symbol
        last = self._last_open.get(symbol)
        if last is None:
            return None
        start = max(last + MINUTE, self._checked.get(symbol, last))
        if candle.open_time <= start:
            return None
        up = self._up_since.get(symbol)
        skipped = self.websocket.last_decode_error_at
        quiet = (
            up is not None
            and up <= start
            and symbol not in self._stale_since
            and (skipped is None or skipped < start)
        )
        return None if quiet else start

    async def _watch_staleness(self) -> None:
        while True:
            await asyncio.sleep(self.options.watch_every_s)
            now = self._clock()
            for symbol in self.symbols:
                seen = self._last_data.get(symbol)
                if seen is None or symbol in self._stale_since:
                    continue
                if now - seen > self.options.stale_after:
                    self._stale_since[symbol] = seen
                    await self._emit(self._stale_alert(symbol, now, seen, cleared=False))

    async def _poll_rest(self) -> None:
        """Poll REST for what the websocket does not bring: every stream of a symbol down
        for `fallback_after_s`, and the streams MEXC refused."""
        while True:
            await asyncio.sleep(self.options.poll_every_s)
            now = self._clock()
            for symbol in self.symbols:
                down = self._down_since.get(symbol)
                if down is not None and (now - down[0]).total_seconds() >= (
                    self.options.fallback_after_s
                ):
                    kinds, recent = {"kline", "book"}, None  # recovered: back-fill
                else:
                    kinds = self._refused.get(symbol, set())
                    recent = timedelta(seconds=2 * self.options.poll_every_s)
                if "kline" in kinds:
                    await self._catch_up(symbol, now, live_within=recent)
                if "book" in kinds:
                    await self._emit_item(await self.rest.book_ticker(symbol))

    # -- helpers -----------------------------------------------------------------------

    async def _history(self) -> list[Candle]:
        end = floor_minute(self._clock())
        start = end - self.options.history
        candles: list[Candle] = []
        for symbol in self.symbols:
            got = await self.rest.klines(symbol, "1m", start, end)
            closed = [_tagged(c, HISTORY) for c in got if c.close_time <= end]
            if closed:
                self._last_open[symbol] = closed[-1].open_time
            candles.extend(closed)
        candles.sort(key=lambda c: (c.ts_event, c.symbol))
        return candles

    async def _catch_up(
        self, symbol: str, now: datetime, *, live_within: timedelta | None = None
    ) -> int:
        """Emit every closed candle of `symbol` newer than the last one; return how many.

        They are back-fill, except (with `live_within`) a candle closed that recently: one
        polled because MEXC refused the kline stream is as live as the websocket's was.
        Minutes REST was already asked for are not asked for again, save the last one (REST
        may lag a just-closed minute).
        """
        last = self._last_open.get(symbol)
        start = last + MINUTE if last is not None else floor_minute(now) - MINUTE
        start = max(start, self._checked.get(symbol, start))
        end = floor_minute(now)
        if start >= end:
            return 0
        emitted = 0
        candles = await self.rest.klines(symbol, "1m", start, end)
        self._checked[symbol] = max(self._checked.get(symbol, start), end - MINUTE)
        for candle in candles:
            if candle.close_time <= end and candle.open_time > self._last_open.get(
                symbol, start - MINUTE
            ):
                self._last_open[symbol] = candle.open_time
                self._saw(symbol)
                live = live_within is not None and now - candle.close_time <= live_within
                await self._emit(candle if live else _tagged(candle, BACKFILL))
                emitted += 1
        return emitted

    async def _backfill(
        self, symbol: str, cause: GapCause, start: datetime, end: datetime, reason: str
    ) -> None:
        backfilled = await self._catch_up(symbol, self._clock())
        missing = max(0, int((floor_minute(end) - floor_minute(start)) / MINUTE))
        await self._emit(
            self._gap(
                symbol,
                cause,
                start=start,
                end=end,
                missing=missing,
                backfilled=backfilled,
                detail=reason,
            )
        )

    def _saw(self, symbol: str) -> None:
        self._last_data[symbol] = self._clock()
        self._last_data_monotonic = time.monotonic()

    async def _emit_item(self, item: LiveItem) -> None:
        if isinstance(item, TradeTick | QuoteTick):
            self._saw(item.symbol)
        await self._emit(item)

    async def _emit(self, item: LiveItem) -> None:
        symbol = getattr(item, "symbol", None)
        if (
            symbol in self._stale_since
            and not isinstance(item, AlertRaised | MarketDataGap)
            and symbol is not None
        ):
            await self._clear_stale(symbol)
        await self._queue.put(item)

    async def _clear_stale(self, symbol: str) -> None:
        since = self._stale_since.pop(symbol)
        now = self._clock()
        missing = max(0, int((floor_minute(now) - floor_minute(since)) / MINUTE))
        await self._queue.put(self._stale_alert(symbol, now, since, cleared=True))
        gap = self._gap(
            symbol, "stale", start=since, end=now, missing=missing, backfilled=0, detail="no data"
        )
        await self._queue.put(gap)

    def _stale_alert(
        self, symbol: str, now: datetime, since: datetime, *, cleared: bool
    ) -> AlertRaised:
        age = (now - since).total_seconds()
        message = (
            f"{symbol} market data flows again after {age:.0f} s"
            if cleared
            else f"no {symbol} market data for {age:.0f} s (limit "
            f"{self.options.stale_after.total_seconds():.0f} s)"
        )
        state = "cleared" if cleared else "raised"
        return AlertRaised(
            event_id=f"alert-mexc-stale-{symbol}-{since:%Y%m%dT%H%M%S%f}-{state}",
            ts_event=now,
            ts_init=now,
            source=self.name,
            level=AlertLevel.INFO if cleared else AlertLevel.WARNING,
            code="market_data_stale",
            message=message,
            cleared=cleared,
            symbol=symbol,
        )

    def _degraded_alert(
        self, symbol: str, kinds: Sequence[str], refused: SubscriptionRefused
    ) -> AlertRaised:
        every = self.options.poll_every_s
        instead = "; ".join(_FALLBACKS[kind].format(every=every) for kind in kinds)
        return AlertRaised(
            event_id=(
                f"alert-mexc-degraded-{symbol}-{'-'.join(kinds)}-{refused.at:%Y%m%dT%H%M%S%f}"
            ),
            ts_event=refused.at,
            ts_init=self._clock(),
            source=self.name,
            level=AlertLevel.WARNING,
            code=DEGRADED_CODE,
            message=(
                f"MEXC refused the {', '.join(kinds)} stream of {symbol} "
                f"({refused.reason}): {instead}"
            )[:2000],
            symbol=symbol,
        )

    def _gap(
        self,
        symbol: str,
        cause: GapCause,
        *,
        start: datetime,
        end: datetime,
        missing: int,
        backfilled: int,
        detail: str,
    ) -> MarketDataGap:
        return MarketDataGap(
            event_id=f"gap-mexc-{symbol}-{cause}-{start:%Y%m%dT%H%M%S%f}",
            ts_event=end,
            ts_init=self._clock(),
            source=self.name,
            symbol=symbol,
            cause=cause,
            gap_start=start,
            gap_end=end,
            missing=missing,
            backfilled=backfilled,
            detail=detail[:2000] or None,
        )
