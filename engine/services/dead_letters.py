"""Copy the dead-letter stream into PostgreSQL, so every dead letter is on record.

Any stage, in any process, may dead-letter a message onto the `dead_letters` stream; this
recorder (one consumer group) stores each one in the `dead_letters` table, idempotently by
stream and message id, and acknowledges it only after the write.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import redis

from engine.bus.base import DeadLetter
from engine.bus.redis_streams import RedisStreamBus, default_consumer_name
from engine.errors import BusUnavailableError, TransientError
from engine.storage.event_writer import EventWriter
from engine.streams import Stream

GROUP = "dead-letter-recorder"
#: The largest count the `dead_letters.attempts` column (a PostgreSQL integer) holds.
MOST_ATTEMPTS = 2**31 - 1


def letter_from_fields(fields: dict[bytes, bytes]) -> DeadLetter:
    """Rebuild a dead letter from its stream entry, whatever it holds.

    A missing or unreadable field gets a default, so every entry can be stored: one that
    could not would be retried forever, and hold up every dead letter after it.
    """

    def text(name: str, default: str = "") -> str:
        value = fields.get(name.encode())
        if value is None:
            return default
        # PostgreSQL text holds no NUL: one would fail the insert
        return value.decode("utf-8", errors="replace").replace("\x00", "\ufffd")

    try:
        ts = datetime.fromisoformat(text("ts"))
    except ValueError:
        ts = datetime.now(UTC)
    return DeadLetter(
        stream=text("stream", "unknown"),
        message_id=text("message_id", "unknown"),
        group=text("group", "unknown"),
        consumer=text("consumer"),
        error=text("error", "no reason recorded"),
        attempts=_attempts(text("attempts")),
        payload=fields.get(b"payload", b""),
        ts=ts,
    )


def _attempts(text: str) -> int:
    """Return the count an `attempts` field holds (ASCII digits), at most MOST_ATTEMPTS;
    0 (not recorded) when it holds something else."""
    if not (text.isascii() and text.isdigit()):  # isdigit() alone takes "²", which int() refuses
        return 0
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MOST_ATTEMPTS)):  # and int() reads at most 4300 digits
        return MOST_ATTEMPTS
    return min(int(digits), MOST_ATTEMPTS)


class DeadLetterRecorder:
    """Read the dead-letter stream and write each letter to the database."""

    def __init__(self, bus: RedisStreamBus, writer: EventWriter, *, batch_size: int = 100) -> None:
        self._bus = bus
        self._writer = writer
        self._key = bus.key(Stream.DEAD_LETTERS)
        self._consumer = f"{GROUP}-{default_consumer_name()}"
        self._batch = batch_size
        self.recorded = 0

    def poll(self, block_ms: int | None = 1000) -> int:
        """Record one batch (own pending first, then new); return how many."""
        try:
            self._bus.ensure_group(Stream.DEAD_LETTERS, GROUP)
            entries = self._read("0", None) or self._read(">", block_ms)
            if not entries:
                return 0
            self._writer.record_dead_letters(letter_from_fields(fields) for _, fields in entries)
            self._bus.client.xack(self._key, GROUP, *[mid for mid, _ in entries])
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise BusUnavailableError(f"Redis does not answer: {exc}") from exc
        self.recorded += len(entries)
        return len(entries)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                self.poll()
                backoff = 0.1
            except TransientError:
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _read(self, start: str, block_ms: int | None) -> list[tuple[Any, dict[bytes, bytes]]]:
        reply: Any = self._bus.client.xreadgroup(
            GROUP, self._consumer, {self._key: start}, count=self._batch, block=block_ms
        )
        return list(reply[0][1]) if reply else []
