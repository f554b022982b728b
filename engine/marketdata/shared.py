"""One MEXC feed for every live papertest: the feed process publishes, each run reads.

MEXC sees one client however many live runs there are. The feed process (`python -m engine
feed`, one per state directory, started with the first live run and by the supervisor)
runs the live source (`MexcLiveSource`: history, websocket, back-fill, staleness) for the
union of the symbols of every running live papertest, and appends what it yields, once, to
the shared stream `<namespace>:feed:mexc`. When the union changes it starts the source again
for the new one (its history covers the longest warm-up any run asks for); with no live run
left it ends.

Each live run's engine reads that stream with `SharedFeedSource` from its warm-up on:
the candles that closed before the run started are its warm-up (marked as history, never
traded; the trades and books before it are skipped, as a warm-up from REST has none), the
rest is its live market. A candle already seen (the feed sent its history again after a restart)
is not sent twice; a gap or an alert of the feed is the run's own (its id says so). A run
started later gets its warm-up from what the stream holds, not from new REST calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
import redis.asyncio as aioredis

from engine.events import AlertRaised, Candle, MarketDataGap, decode_event, encode_event
from engine.events.envelope import bounded_id
from engine.events.market_data import as_warmup
from engine.marketdata.source import MarketItem
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings

log = logging.getLogger(__name__)

#: How many entries the shared stream keeps (about a day of two symbols' trades and books).
STREAM_MAXLEN = 500_000
#: How often the feed looks at which live runs there are.
LOOK_EVERY_S = 2.0
#: How long the feed waits, with no live run, before it ends.
IDLE_GRACE_S = 30.0
_READ_COUNT = 1_000
_BLOCK_MS = 1_000


def shares_the_feed(settings: Settings) -> bool:
    """Whether a live run reads the shared feed: the local runtime's, unless turned off."""
    return settings.runtime is RuntimeKind.LOCAL and settings.market.shared_feed


def feed_key(namespace: str) -> str:
    """The shared stream of live MEXC market data: `<namespace>:feed:mexc`."""
    return f"{namespace}:feed:mexc"


@dataclass(frozen=True)
class Wanted:
    """What the live runs need of the feed: their symbols, and the longest warm-up."""

    symbols: tuple[str, ...]
    history: timedelta

    @property
    def empty(self) -> bool:
        return not self.symbols


def wanted_by_runs(conn: psycopg.Connection[Any], minimum: timedelta) -> Wanted:
    """The union of the symbols of every running live papertest, and the longest warm-up
    among them (at least `minimum`: the live source's default history)."""
    rows = conn.execute(
        "SELECT parameters FROM runs WHERE status = 'running' AND parameters->>'source' = 'mexc'"
    ).fetchall()
    symbols: set[str] = set()
    history = minimum
    for (parameters,) in rows:
        symbols.update(parameters.get("symbols") or ())
        minutes = parameters.get("warmup_minutes")
        if minutes is not None:
            history = max(history, timedelta(minutes=int(minutes)))
    return Wanted(tuple(sorted(symbols)), history)


class FeedLock:
    """One feed process per state directory: an exclusive lock on `run/feed.lock`."""

    def __init__(self, home: Path) -> None:
        self.path = home / "run" / "feed.lock"
        self._file: Any = None

    def take(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class FeedPublisher:
    """The feed process's work: the live source of the runs' symbols, into the stream."""

    def __init__(
        self,
        settings: Any,
        conninfo: str,
        redis_url: str,
        *,
        look_every_s: float = LOOK_EVERY_S,
        idle_grace_s: float = IDLE_GRACE_S,
    ) -> None:
        self.settings = settings
        self._conninfo = conninfo
        self._redis_url = redis_url
        self._key = feed_key(settings.redis.namespace)
        self._look_every_s = look_every_s
        self._idle_grace_s = idle_grace_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Publish until no live run is left (for the grace period) or a stop."""
        from engine.marketdata.live import DEFAULT_HISTORY

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        client = aioredis.Redis.from_url(self._redis_url)
        current: Wanted | None = None
        task: asyncio.Task[None] | None = None
        idle_since: float | None = None
        try:
            while not self._stop.is_set():
                wanted = await asyncio.to_thread(self._wanted, DEFAULT_HISTORY)
                if wanted is not None and wanted != current:
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                        task = None
                    current = wanted
                    if not wanted.empty:
                        log.info(
                            "feeding %s (history %s)", ", ".join(wanted.symbols), wanted.history
                        )
                        task = asyncio.create_task(self._publish(client, wanted))
                if current is not None and current.empty:
                    idle_since = idle_since or loop.time()
                    if loop.time() - idle_since >= self._idle_grace_s:
                        log.info("no live papertest left: the feed ends")
                        return
                else:
                    idle_since = None
                if task is not None and task.done() and task.exception() is not None:
                    log.error("the live source failed: %s; starting it again", task.exception())
                    current, task = None, None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._look_every_s)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await client.aclose()

    def _wanted(self, minimum: timedelta) -> Wanted | None:
        try:
            with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                return wanted_by_runs(conn, minimum)
        except psycopg.Error as exc:
            log.warning("cannot read the live papertests: %s", str(exc).strip().splitlines()[0])
            return None  # keep feeding what was wanted

    async def _publish(self, client: aioredis.Redis, wanted: Wanted) -> None:
        from engine.marketdata.live_factory import live_source

        source = live_source(self.settings, wanted.symbols, warmup=wanted.history)
        try:
            batch: list[bytes] = []
            async for item in source.items():
                batch.append(encode_event(item))
                if len(batch) >= 200 or not _more_waiting(source):
                    await self._append(client, batch)
                    batch = []
        finally:
            await source.close()

    async def _append(self, client: aioredis.Redis, payloads: list[bytes]) -> None:
        while True:
            try:
                pipe = client.pipeline(transaction=False)
                for payload in payloads:
                    pipe.xadd(self._key, {"event": payload}, maxlen=STREAM_MAXLEN, approximate=True)
                await pipe.execute()
                return
            except redis.RedisError as exc:  # Redis restarting: the items wait
                log.warning("cannot append to the feed stream: %s; retrying", exc)
                await asyncio.sleep(1.0)


def _more_waiting(source: Any) -> bool:
    """Whether the live source holds more items right now (history comes all at once)."""
    queue = getattr(source, "_queue", None)
    return queue is not None and not queue.empty()


class SharedFeedSource:
    """A live run's market: the shared feed stream, from its warm-up on (see the module
    docstring). `started` is the run's start: what came before it is warm-up."""

    name = "mexc"

    def __init__(
        self,
        symbols: Sequence[str],
        redis_url: str,
        namespace: str,
        *,
        run_id: str,
        started: datetime,
        warmup: timedelta,
        resumed_from: datetime | None = None,
    ) -> None:
        self.symbols = frozenset(s.upper() for s in symbols)
        self._client = aioredis.Redis.from_url(redis_url)
        self._key = feed_key(namespace)
        self._run_id = run_id
        self._started = started
        # Entry ids are arrival times (ms): from the start of the warm-up on, with a margin
        # (older entries are another day's: a run's warm-up is never more than it asks). A
        # resumed run warms up again before its last snapshot, and then gets what the stream
        # held while its engine was down.
        self._from = (resumed_from or started) - warmup - timedelta(minutes=5)
        self._newest: dict[str, datetime] = {}  # the newest candle open time sent, per symbol
        self._last_data: float | None = None

    async def items(self) -> AsyncIterator[MarketItem]:
        after = f"{max(0, int(self._from.timestamp() * 1000))}-0"
        while True:
            try:
                answer: Any = await self._client.xread(
                    {self._key: after}, count=_READ_COUNT, block=_BLOCK_MS
                )
            except redis.RedisError as exc:  # Redis restarting: read again from there
                log.warning("cannot read the feed stream: %s", exc)
                await asyncio.sleep(1.0)
                continue
            for _, entries in answer or ():
                for message_id, fields in entries:
                    after = message_id.decode() if isinstance(message_id, bytes) else message_id
                    item = self._own(decode_event(fields[b"event"]))
                    if item is not None:
                        self._last_data = asyncio.get_running_loop().time()
                        yield item

    def _own(self, event: Any) -> MarketItem | None:
        """The run's view of a feed event, or None (another symbol, a candle sent before)."""
        symbol = getattr(event, "symbol", None)
        if symbol is not None and symbol not in self.symbols:
            return None
        if isinstance(event, AlertRaised | MarketDataGap):
            return event.model_copy(
                update={"event_id": bounded_id(f"{event.event_id}-{self._run_id}")}
            )
        if isinstance(event, Candle):
            newest = self._newest.get(event.symbol)
            if newest is not None and event.open_time <= newest:
                return None
            self._newest[event.symbol] = event.open_time
            return as_warmup(event) if event.close_time <= self._started else event
        if event.ts_event < self._started:
            # Trades and books before the start: a warm-up is candles (as from REST); a run
            # started a day into the feed would read a day of books through every stage.
            return None
        return event  # type: ignore[no-any-return]

    def last_data_age(self) -> float | None:
        if self._last_data is None:
            return None
        return asyncio.get_running_loop().time() - self._last_data

    async def close(self) -> None:
        await self._client.aclose()
