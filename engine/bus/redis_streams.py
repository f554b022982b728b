"""The event bus on Redis Streams with consumer groups.

Delivery is at least once: a message is acknowledged only after its handler succeeded, a
consumer that dies leaves its messages pending, and another consumer (or itself, restarted)
reclaims them. A message that cannot be decoded, or whose handler keeps failing, goes to the
dead-letter stream with the reason and is acknowledged, so a poison message never blocks a
stream. Handlers must be idempotent (keyed on `event_id`): redelivery is normal.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import redis

from engine.bus.base import BatchHandler, DeadLetter
from engine.errors import BusUnavailableError, EventDecodeError, TransientError
from engine.events import Event, decode_event, encode_event
from engine.streams import STREAM_FOR_EVENT, Stream, stream_key

log = logging.getLogger(__name__)

PAYLOAD_FIELD = b"event"
CLAIM_PAGE = 1000
Entry = tuple[bytes, dict[bytes, bytes]]
Decoder = Callable[[bytes], Event]
_T = TypeVar("_T")

#: Append with an id from one counter shared by every stream of the namespace, so ids order
#: messages across streams exactly as they were published: with Redis's own `*` ids, two
#: streams written in the same millisecond both get `<ms>-0` and their order is lost.
#: KEYS: stream, counter, clock. ARGV: maxlen, field, payload.
_XADD_ORDERED = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
if ms < last then ms = last end
redis.call('SET', KEYS[3], ms)
local seq = redis.call('INCR', KEYS[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ms .. '-' .. seq, ARGV[2], ARGV[3])
"""


@contextmanager
def _answering() -> Iterator[None]:
    """Translate Redis not answering into BusUnavailableError (a stage waits it out)."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BusUnavailableError(f"Redis does not answer: {exc}") from exc


def default_consumer_name() -> str:
    """Name a consumer after its host and process, so a restarted process is a new consumer."""
    return f"{socket.gethostname()}-{os.getpid()}"


class RedisStreamBus:
    """Publish events to, and manage groups on, the namespaced streams."""

    def __init__(self, client: redis.Redis, namespace: str, *, maxlen: int = 1_000_000) -> None:
        self.client = client
        self.namespace = namespace
        self.maxlen = maxlen
        self._xadd = client.register_script(_XADD_ORDERED)
        self._id_keys = [f"{namespace}:_ids:counter", f"{namespace}:_ids:clock"]

    @classmethod
    def from_url(cls, url: str, namespace: str, *, maxlen: int = 1_000_000) -> RedisStreamBus:
        client = redis.Redis.from_url(url, health_check_interval=30)
        return cls(client, namespace, maxlen=maxlen)

    def key(self, stream: Stream) -> str:
        return stream_key(self.namespace, stream)

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        """Append one event to its stream (or `stream`); return the message id (one round
        trip: a pipeline would first ask Redis whether it holds the append script)."""
        target = self.key(stream or STREAM_FOR_EVENT[event.type])
        with _answering():
            return _text(self._append(self.client, target, encode_event(event)))

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        """Append events in one round trip (pipelined, in order)."""
        return self._append_all(
            (self.key(stream or STREAM_FOR_EVENT[event.type]), encode_event(event))
            for event in events
        )

    def publish_encoded(self, stream: Stream, payloads: Sequence[bytes]) -> list[str]:
        """Append already-encoded payloads to one stream in one round trip (bursts)."""
        key = self.key(stream)
        return self._append_all((key, payload) for payload in payloads)

    def _append(self, client: Any, key: str, payload: bytes) -> Any:
        """Append `payload` to `key` with a namespace-ordered id (`client`: Redis or a pipeline)."""
        return self._xadd(
            keys=[key, *self._id_keys], args=[self.maxlen, PAYLOAD_FIELD, payload], client=client
        )

    def _append_all(self, entries: Iterable[tuple[str, bytes]]) -> list[str]:
        """Append each (key, payload) in one pipelined round trip; return the message ids.
        Raise BusUnavailableError when Redis does not answer."""
        pipe = self.client.pipeline(transaction=False)
        for key, payload in entries:
            self._append(pipe, key, payload)
        with _answering():
            return [_text(message_id) for message_id in pipe.execute()]

    def publish_raw(self, stream: Stream, payload: bytes) -> str:
        """Append an arbitrary payload (used to inject malformed events on purpose)."""
        return _text(self._append(self.client, self.key(stream), payload))

    def ensure_group(self, stream: Stream, group: str, start_id: str = "0") -> None:
        """Create the consumer group (and the stream) unless it exists."""
        try:
            self.client.xgroup_create(self.key(stream), group, id=start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def group_lag(self, stream: Stream, group: str) -> int | None:
        """Return how many entries of `stream` `group` has not read yet (None: unknown).

        Redis answers None when trimming removed entries the group never read; a group that
        does not exist yet is as far behind as the stream is long.
        """
        found, info = self._group(stream, group)
        if info is None:
            return self._length(stream) if found else 0
        lag = info.get("lag")
        return None if lag is None else int(lag)

    def unacknowledged(self, stream: Stream, group: str) -> int | None:
        """Return how many entries of `stream` `group` has not acknowledged yet: pending
        (read, not acknowledged) and not read at all (None: nothing was published to it).
        A group not created yet counts the whole stream: it will read all of it."""
        found, info = self._group(stream, group)
        if info is None:
            return self._length(stream) if found else None
        return int(info.get("pending") or 0) + int(info.get("lag") or 0)

    def _group(self, stream: Stream, group: str) -> tuple[bool, dict[Any, Any] | None]:
        """Whether `stream` exists, and `group`'s entry of XINFO GROUPS (None: none yet)."""
        try:
            with _answering():
                groups = cast(list[dict[Any, Any]], self.client.xinfo_groups(self.key(stream)))
        except redis.ResponseError:  # no such stream yet
            return False, None
        return True, next((g for g in groups if _text(g.get("name")) == group), None)

    def _length(self, stream: Stream) -> int:
        with _answering():
            return int(self.client.xlen(self.key(stream)))

    def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """Return the newest dead letters, oldest first, as text fields (bytes that are not
        UTF-8, as a payload published as garbage may be, read as U+FFFD)."""
        entries = cast(
            list[Entry], self.client.xrevrange(self.key(Stream.DEAD_LETTERS), count=count)
        )

        def text(value: bytes) -> str:
            return value.decode(errors="replace")

        return [
            {"id": _text(mid), **{text(k): text(v) for k, v in fields.items()}}
            for mid, fields in reversed(entries)
        ]


class PatientPublisher:
    """A stage's publisher over Redis that waits out an outage instead of failing.

    A stage publishes what follows from a batch after its state has moved on it (a strategy's
    window, the portfolio's open minute) and after it remembered the batch's ids as seen. Were
    the publish to fail, the batch would be delivered again, skipped as seen, and its output
    (a snapshot, an order) lost for good. So the output waits for Redis to answer: with a
    growing pause, until it is published or `stop` is set (then the outage's error is raised,
    the batch stays unacknowledged, and a resumed run plays it again). A publish whose reply
    was lost may append twice; every consumer skips the second by its event id.
    """

    def __init__(
        self, bus: RedisStreamBus, stop: threading.Event, *, max_pause_s: float = 5.0
    ) -> None:
        self.bus = bus
        self._stop = stop
        self._max_pause = max_pause_s
        self.waits = 0  # publishes that had to wait for Redis

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        return self._patiently(lambda: self.bus.publish(event, stream))

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        batch = list(events)  # tried again whole: an iterator would be spent by the first try
        return self._patiently(lambda: self.bus.publish_many(batch, stream))

    def _patiently(self, attempt: Callable[[], _T]) -> _T:
        pause = 0.1
        while True:
            try:
                return attempt()
            except BusUnavailableError as exc:
                if self._stop.is_set():
                    raise
                self.waits += 1
                log.warning("publish waiting %.1f s for Redis: %s", pause, exc)
                self._stop.wait(pause)
                pause = min(pause * 2, self._max_pause)


@dataclass
class PollResult:
    """What one poll did."""

    processed: int = 0
    dead_lettered: int = 0
    failed: int = 0
    reclaimed: int = 0

    @property
    def idle(self) -> bool:
        return not (self.processed or self.dead_lettered or self.failed or self.reclaimed)


@dataclass
class ConsumerOptions:
    """How a consumer reads: batch size, blocking, reclaiming and poison handling."""

    batch_size: int = 100
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    claim_every_s: float = 5.0
    max_deliveries: int = 5
    #: The group's only consumer: take over at once what the group's earlier consumers left
    #: pending (a restarted process reads under a new name), so nothing waits `claim_idle_ms`
    #: and everything is handled in publication order.
    claim_at_start: bool = False
    transient: tuple[type[BaseException], ...] = field(default=(TransientError,))


@dataclass(frozen=True)
class Delivery:
    """One message handed to this consumer."""

    stream: Stream
    message_id: str
    payload: bytes | None

    @property
    def order(self) -> tuple[int, int]:
        millis, _, sequence = self.message_id.partition("-")
        return int(millis), int(sequence or 0)


class StreamConsumer:
    """Read one or more streams as one consumer of a group; hand batches to a handler.

    Each poll first re-reads this consumer's own pending messages (a retry after a failure,
    or what it had read before a restart under the same name), then new ones. Every
    `claim_every_s` it takes over messages other consumers left pending longer than
    `claim_idle_ms` (XAUTOCLAIM): a consumer killed mid-batch loses nothing. Messages of
    several streams are handed over in message-id order (their publication order).
    """

    def __init__(
        self,
        bus: RedisStreamBus,
        streams: Stream | Sequence[Stream],
        group: str,
        handler: BatchHandler,
        *,
        consumer: str | None = None,
        options: ConsumerOptions | None = None,
        decoder: Decoder = decode_event,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self.bus = bus
        self.streams: tuple[Stream, ...] = (
            (streams,) if isinstance(streams, Stream) else tuple(streams)
        )
        self.group = group
        self.consumer = consumer or default_consumer_name()
        self.options = options or ConsumerOptions()
        self._handler = handler
        self._decoder = decoder
        self._on_dead_letter = on_dead_letter
        self._keys = {stream: bus.key(stream) for stream in self.streams}
        self._stream_of_key = {key: stream for stream, key in self._keys.items()}
        self._next_claim = 0.0
        self._group_ready = False
        self._held: dict[Stream, list[Delivery]] = {}
        self._full: dict[Stream, bool] = dict.fromkeys(self.streams, False)
        self._pending_after: dict[Stream, str] | None = None
        self._recover()  # a restarted consumer first finishes what it had read before

    def poll(self, block: bool = True) -> PollResult:
        """Process at most one batch; raise a transient error when a dependency is down."""
        result = PollResult()
        try:
            self._ensure_group()
            if time.monotonic() >= self._next_claim:
                result.reclaimed = self._reclaim()
                if result.reclaimed:
                    self._recover()
            deliveries, fresh = self._read(block)
            if deliveries:
                self._process(deliveries, fresh, result)
        except redis.ResponseError as exc:
            self._recover()
            # Redis lost the group (restarted without data), or the stream was deleted under
            # a blocked read (a run's old epoch): not this consumer's fault, try again.
            if "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc):
                self._group_ready = False
                raise BusUnavailableError(f"consumer group {self.group} is gone: {exc}") from exc
            raise
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._recover()
            self._group_ready = False
            raise BusUnavailableError(f"Redis does not answer: {exc}") from exc
        except BaseException:
            self._recover()
            raise
        if result.failed:
            self._recover()  # what failed is still pending: read it again first
        return result

    def lag(self) -> dict[Stream, int | None]:
        """Return, per input stream, how many entries the group has not read yet."""
        return {stream: self.bus.group_lag(stream, self.group) for stream in self.streams}

    def run(self, stop: threading.Event, *, max_backoff_s: float = 5.0) -> None:
        """Poll until `stop` is set; back off (never crash) while a dependency is down."""
        backoff = 0.1
        while not stop.is_set():
            try:
                self.poll()
                backoff = 0.1
            except self.options.transient as exc:
                log.warning("%s waiting %.1f s: %s", self.group, backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff_s)

    def _ensure_group(self) -> None:
        if not self._group_ready:
            for stream in self.streams:
                self.bus.ensure_group(stream, self.group)
            self._group_ready = True
            if self.options.claim_at_start and self._claim_all():
                self._recover()

    def _claim_all(self) -> int:
        """Take over every entry other consumers left pending in the group; return how many."""
        claimed = 0
        for key in self._keys.values():
            start = "-"
            while True:
                page = self.bus.client.xpending_range(key, self.group, start, "+", CLAIM_PAGE)
                theirs: list[Any] = [
                    p["message_id"] for p in page if _text(p["consumer"]) != self.consumer
                ]
                if theirs:
                    self.bus.client.xclaim(key, self.group, self.consumer, 0, theirs, justid=True)
                    claimed += len(theirs)
                if len(page) < CLAIM_PAGE:
                    break
                start = "(" + _text(page[-1]["message_id"])
        return claimed

    def _reclaim(self) -> int:
        self._next_claim = time.monotonic() + self.options.claim_every_s
        claimed = 0
        for key in self._keys.values():
            ids = self.bus.client.xautoclaim(
                key,
                self.group,
                self.consumer,
                self.options.claim_idle_ms,
                "0-0",
                count=self.options.batch_size * 10,
                justid=True,
            )
            claimed += len(ids)
        return claimed

    def _recover(self) -> None:
        """Forget what was read but not handled; read this consumer's pending entries first."""
        self._held = {stream: [] for stream in self.streams}
        self._pending_after = dict.fromkeys(self.streams, "0")

    def _read(self, block: bool) -> tuple[list[Delivery], bool]:
        """Return the next deliveries in publication order, and whether they are new.

        Each stream is read `batch_size` at a time. A stream whose read came back full may
        hold more entries older than another stream's: deliveries stop at the oldest such
        boundary, and the rest wait in memory (already delivered to this consumer, so a
        crash leaves them pending) until the streams behind catch up.
        """
        fresh = self._pending_after is None
        wanted = [stream for stream in self.streams if not self._held[stream]]
        if wanted:
            got = self._read_streams(wanted, block and not any(self._held.values()))
            if not fresh and not any(got.values()) and not any(self._held.values()):
                self._pending_after = None  # own pending entries done: new ones from now on
                return self._read(block)
            for stream in wanted:
                entries = got.get(stream, [])
                self._held[stream].extend(entries)
                self._full[stream] = len(entries) >= self.options.batch_size
                if self._pending_after is not None and entries:
                    self._pending_after[stream] = entries[-1].message_id
        return self._take_in_order(), fresh

    def _read_streams(self, streams: list[Stream], block: bool) -> dict[Stream, list[Delivery]]:
        pending = self._pending_after
        reply = self.bus.client.xreadgroup(
            self.group,
            self.consumer,
            {self._keys[s]: (pending[s] if pending is not None else ">") for s in streams},
            count=self.options.batch_size,
            block=self.options.block_ms if block and pending is None else None,
        )
        got: dict[Stream, list[Delivery]] = {}
        for delivery in self._deliveries_of(reply):
            got.setdefault(delivery.stream, []).append(delivery)
        return got

    def _take_in_order(self) -> list[Delivery]:
        bounds = [held[-1].order for s, held in self._held.items() if held and self._full[s]]
        cutoff = min(bounds, default=None)
        taken: list[Delivery] = []
        for held in self._held.values():
            if cutoff is None:
                count = len(held)
            else:
                count = next((i for i, d in enumerate(held) if d.order > cutoff), len(held))
            taken.extend(held[:count])
            del held[:count]
        taken.sort(key=lambda d: d.order)
        return taken

    def _deliveries_of(self, reply: Any) -> list[Delivery]:
        deliveries = [
            Delivery(self._stream_of_key[_text(key)], _text(mid), (fields or {}).get(PAYLOAD_FIELD))
            for key, entries in (reply or [])
            for mid, fields in entries
        ]
        deliveries.sort(key=lambda d: d.order)
        return deliveries

    def _process(self, deliveries: list[Delivery], fresh: bool, result: PollResult) -> None:
        counts = {} if fresh else self._delivery_counts(deliveries)
        decoded: list[tuple[Delivery, Event]] = []
        for delivery in deliveries:
            if delivery.payload is None:
                # Trimmed away (MAXLEN) or written without our field: nothing to process.
                self._dead_letter(delivery, "message has no event payload", 1)
                result.dead_lettered += 1
                continue
            try:
                decoded.append((delivery, self._decoder(delivery.payload)))
            except EventDecodeError as exc:
                self._dead_letter(delivery, str(exc), counts.get(delivery, 1))
                result.dead_lettered += 1
        if len(decoded) == 1:
            self._process_singly(decoded, counts, result)
        elif decoded:
            try:
                self._handler([event for _, event in decoded])
            except self.options.transient:
                raise
            except Exception:  # isolate the failing event(s): retry one at a time
                log.exception("batch handler of %s failed; retrying one by one", self.group)
                self._process_singly(decoded, counts, result)
                return
            self._ack([delivery for delivery, _ in decoded])
            result.processed += len(decoded)

    def _process_singly(
        self, decoded: list[tuple[Delivery, Event]], counts: dict[Delivery, int], result: PollResult
    ) -> None:
        for delivery, event in decoded:
            try:
                self._handler([event])
            except self.options.transient:
                raise
            except Exception as exc:
                attempts = counts.get(delivery, 1)
                if attempts >= self.options.max_deliveries:
                    self._dead_letter(delivery, f"{type(exc).__name__}: {exc}", attempts)
                    result.dead_lettered += 1
                else:
                    result.failed += 1  # stays pending; the next poll retries it
                continue
            self._ack([delivery])
            result.processed += 1

    def _delivery_counts(self, deliveries: list[Delivery]) -> dict[Delivery, int]:
        counts: dict[Delivery, int] = {}
        for stream in self.streams:
            mine = [d for d in deliveries if d.stream is stream]
            if not mine:
                continue
            pending = self.bus.client.xpending_range(
                self._keys[stream],
                self.group,
                min=mine[0].message_id,
                max=mine[-1].message_id,
                count=len(mine),
                consumername=self.consumer,
            )
            times = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
            counts.update({d: times.get(d.message_id, 1) for d in mine})
        return counts

    def _ack(self, deliveries: list[Delivery]) -> None:
        by_stream: dict[Stream, list[str]] = {}
        for delivery in deliveries:
            by_stream.setdefault(delivery.stream, []).append(delivery.message_id)
        if not by_stream:
            return
        pipe = self.bus.client.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xack(self._keys[stream], self.group, *ids)
        pipe.execute()

    def _dead_letter(self, delivery: Delivery, error: str, attempts: int) -> None:
        letter = DeadLetter(
            stream=str(delivery.stream),
            message_id=delivery.message_id,
            group=self.group,
            consumer=self.consumer,
            error=error,
            attempts=attempts,
            payload=delivery.payload or b"",
            ts=datetime.now(UTC),
        )
        log.warning("dead-lettered %s %s: %s", delivery.stream, delivery.message_id, error)
        pipe = self.bus.client.pipeline(transaction=True)
        pipe.xadd(
            self.bus.key(Stream.DEAD_LETTERS),
            letter.fields(),  # type: ignore[arg-type]
            maxlen=self.bus.maxlen,
            approximate=True,
        )
        pipe.xack(self._keys[delivery.stream], self.group, delivery.message_id)
        pipe.execute()
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
