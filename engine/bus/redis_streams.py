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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import redis

from engine.errors import BusUnavailableError, EventDecodeError, TransientError
from engine.events import Event, decode_event, encode_event
from engine.streams import STREAM_FOR_EVENT, Stream, stream_key

log = logging.getLogger(__name__)

PAYLOAD_FIELD = b"event"
BatchHandler = Callable[[Sequence[Event]], None]
Entry = tuple[bytes, dict[bytes, bytes]]
Decoder = Callable[[bytes], Event]


def default_consumer_name() -> str:
    """Name a consumer after its host and process, so a restarted process is a new consumer."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class DeadLetter:
    """A message taken out of its stream, with why."""

    stream: str
    message_id: str
    group: str
    consumer: str
    error: str
    attempts: int
    payload: bytes
    ts: datetime

    def fields(self) -> dict[str, str | bytes]:
        return {
            "stream": self.stream,
            "message_id": self.message_id,
            "group": self.group,
            "consumer": self.consumer,
            "error": self.error[:2000],
            "attempts": str(self.attempts),
            "payload": self.payload,
            "ts": self.ts.isoformat(),
        }


class RedisStreamBus:
    """Publish events to, and manage groups on, the namespaced streams."""

    def __init__(self, client: redis.Redis, namespace: str, *, maxlen: int = 1_000_000) -> None:
        self.client = client
        self.namespace = namespace
        self.maxlen = maxlen

    @classmethod
    def from_url(cls, url: str, namespace: str, *, maxlen: int = 1_000_000) -> RedisStreamBus:
        client = redis.Redis.from_url(url, health_check_interval=30)
        return cls(client, namespace, maxlen=maxlen)

    def key(self, stream: Stream) -> str:
        return stream_key(self.namespace, stream)

    def publish(self, event: Event, stream: Stream | None = None) -> str:
        """Append one event to its stream (or `stream`); return the message id."""
        target = self.key(stream or STREAM_FOR_EVENT[event.type])
        try:
            message_id = self.client.xadd(
                target, {PAYLOAD_FIELD: encode_event(event)}, maxlen=self.maxlen, approximate=True
            )
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise BusUnavailableError(f"Redis does not answer: {exc}") from exc
        return _text(message_id)

    def publish_many(self, events: Iterable[Event], stream: Stream | None = None) -> list[str]:
        """Append events in one round trip (pipelined, in order)."""
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            target = self.key(stream or STREAM_FOR_EVENT[event.type])
            pipe.xadd(
                target, {PAYLOAD_FIELD: encode_event(event)}, maxlen=self.maxlen, approximate=True
            )
        try:
            return [_text(message_id) for message_id in pipe.execute()]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise BusUnavailableError(f"Redis does not answer: {exc}") from exc

    def publish_raw(self, stream: Stream, payload: bytes) -> str:
        """Append an arbitrary payload (used to inject malformed events on purpose)."""
        message_id = self.client.xadd(
            self.key(stream), {PAYLOAD_FIELD: payload}, maxlen=self.maxlen, approximate=True
        )
        return _text(message_id)

    def ensure_group(self, stream: Stream, group: str, start_id: str = "0") -> None:
        """Create the consumer group (and the stream) unless it exists."""
        try:
            self.client.xgroup_create(self.key(stream), group, id=start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """Return the newest dead letters, oldest first, as text fields."""
        entries = cast(
            list[Entry], self.client.xrevrange(self.key(Stream.DEAD_LETTERS), count=count)
        )
        return [
            {"id": _text(mid), **{_text(k): _text(v) for k, v in fields.items()}}
            for mid, fields in reversed(entries)
        ]


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
    transient: tuple[type[BaseException], ...] = field(default=(TransientError,))


class StreamConsumer:
    """Read one stream as one consumer of a group and hand batches of events to a handler.

    Each poll first re-reads this consumer's own pending messages (a retry after a failure,
    or what it had read before a restart under the same name), then new ones. Every
    `claim_every_s` it takes over messages other consumers left pending longer than
    `claim_idle_ms` (XAUTOCLAIM): a consumer killed mid-batch loses nothing.
    """

    def __init__(
        self,
        bus: RedisStreamBus,
        stream: Stream,
        group: str,
        handler: BatchHandler,
        *,
        consumer: str | None = None,
        options: ConsumerOptions | None = None,
        decoder: Decoder = decode_event,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self.bus = bus
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer_name()
        self.options = options or ConsumerOptions()
        self._handler = handler
        self._decoder = decoder
        self._on_dead_letter = on_dead_letter
        self._key = bus.key(stream)
        self._next_claim = 0.0
        self._group_ready = False

    def poll(self, block: bool = True) -> PollResult:
        """Process at most one batch; raise a transient error when a dependency is down."""
        result = PollResult()
        try:
            self._ensure_group()
            if time.monotonic() >= self._next_claim:
                result.reclaimed = self._reclaim()
            entries, fresh = self._read(block)
            if entries:
                self._process(entries, fresh, result)
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis lost the group (e.g. restarted without data)
                self._group_ready = False
                raise BusUnavailableError(f"consumer group {self.group} is gone: {exc}") from exc
            raise
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._group_ready = False
            raise BusUnavailableError(f"Redis does not answer: {exc}") from exc
        return result

    def run(self, stop: threading.Event, *, max_backoff_s: float = 5.0) -> None:
        """Poll until `stop` is set; back off (never crash) while a dependency is down."""
        backoff = 0.1
        while not stop.is_set():
            try:
                self.poll()
                backoff = 0.1
            except self.options.transient as exc:
                log.warning("%s/%s waiting %.1f s: %s", self.stream, self.group, backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff_s)

    def _ensure_group(self) -> None:
        if not self._group_ready:
            self.bus.ensure_group(self.stream, self.group)
            self._group_ready = True

    def _reclaim(self) -> int:
        self._next_claim = time.monotonic() + self.options.claim_every_s
        claimed = self.bus.client.xautoclaim(
            self._key,
            self.group,
            self.consumer,
            self.options.claim_idle_ms,
            "0-0",
            count=self.options.batch_size * 10,
            justid=True,
        )
        return len(claimed)

    def _read(self, block: bool) -> tuple[list[Entry], bool]:
        own = _entries(
            self.bus.client.xreadgroup(
                self.group, self.consumer, {self._key: "0"}, count=self.options.batch_size
            )
        )
        if own:
            return own, False
        new = self.bus.client.xreadgroup(
            self.group,
            self.consumer,
            {self._key: ">"},
            count=self.options.batch_size,
            block=self.options.block_ms if block else None,
        )
        return _entries(new), True

    def _process(self, entries: list[Entry], fresh: bool, result: PollResult) -> None:
        deliveries = {} if fresh else self._deliveries(entries)
        decoded: list[tuple[str, Event]] = []
        payloads: dict[str, bytes] = {}
        for raw_id, fields in entries:
            message_id = _text(raw_id)
            payload = (fields or {}).get(PAYLOAD_FIELD)
            if payload is None:
                # Trimmed away (MAXLEN) or written without our field: nothing to process.
                self._dead_letter(message_id, b"", "message has no event payload", 1)
                result.dead_lettered += 1
                continue
            payloads[message_id] = payload
            try:
                decoded.append((message_id, self._decoder(payload)))
            except EventDecodeError as exc:
                self._dead_letter(message_id, payload, str(exc), deliveries.get(message_id, 1))
                result.dead_lettered += 1
        if not decoded:
            return
        if len(decoded) == 1:
            self._process_singly(decoded, payloads, deliveries, result)
            return
        try:
            self._handler([event for _, event in decoded])
        except self.options.transient:
            raise
        except Exception:  # isolate the failing event(s): retry one at a time
            log.exception("batch handler failed on %s; retrying one by one", self.stream)
            self._process_singly(decoded, payloads, deliveries, result)
            return
        self._ack([message_id for message_id, _ in decoded])
        result.processed += len(decoded)

    def _process_singly(
        self,
        decoded: list[tuple[str, Event]],
        payloads: dict[str, bytes],
        deliveries: dict[str, int],
        result: PollResult,
    ) -> None:
        for message_id, event in decoded:
            try:
                self._handler([event])
            except self.options.transient:
                raise
            except Exception as exc:
                attempts = deliveries.get(message_id, 1)
                if attempts >= self.options.max_deliveries:
                    error = f"{type(exc).__name__}: {exc}"
                    self._dead_letter(message_id, payloads[message_id], error, attempts)
                    result.dead_lettered += 1
                else:
                    result.failed += 1  # stays pending; the next poll retries it
                continue
            self._ack([message_id])
            result.processed += 1

    def _deliveries(self, entries: list[Entry]) -> dict[str, int]:
        pending = self.bus.client.xpending_range(
            self._key,
            self.group,
            min=entries[0][0],
            max=entries[-1][0],
            count=len(entries),
            consumername=self.consumer,
        )
        return {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}

    def _ack(self, message_ids: list[str]) -> None:
        if message_ids:
            self.bus.client.xack(self._key, self.group, *message_ids)

    def _dead_letter(self, message_id: str, payload: bytes, error: str, attempts: int) -> None:
        letter = DeadLetter(
            stream=str(self.stream),
            message_id=message_id,
            group=self.group,
            consumer=self.consumer,
            error=error,
            attempts=attempts,
            payload=payload,
            ts=datetime.now(UTC),
        )
        log.warning("dead-lettered %s %s: %s", self.stream, message_id, error)
        pipe = self.bus.client.pipeline(transaction=True)
        pipe.xadd(
            self.bus.key(Stream.DEAD_LETTERS),
            letter.fields(),  # type: ignore[arg-type]
            maxlen=self.bus.maxlen,
            approximate=True,
        )
        pipe.xack(self._key, self.group, message_id)
        pipe.execute()
        if self._on_dead_letter is not None:
            self._on_dead_letter(letter)


def _entries(reply: Any) -> list[Entry]:
    """Return the entries of an XREADGROUP reply for one stream (empty when none)."""
    return cast(list[Entry], reply[0][1]) if reply else []


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
