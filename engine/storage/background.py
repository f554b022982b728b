"""Persistence off the engine's thread: the engine prepares batches, a thread commits them.

The in-memory run's persistence stage hands each batch to `BackgroundWriter.write`, which
turns the events into rows on the engine's thread (`EventWriter.prepare`: CPU, no I/O) and
queues them; the writer's thread commits them in order, one transaction each, while the
engine goes on with the next events. Waiting on PostgreSQL is what the thread does, and a
thread waiting on a socket leaves the interpreter to the engine.

Nothing is lost that a synchronous write would keep: at most `depth` batches wait, so a
slow database slows the engine (back-pressure) instead of growing its memory; a database
that is down is waited for (`retry_for_s`, as the in-memory bus waits for any stage), and
after that the error is raised on the engine's thread at its next write, as a crash would
end the run; a resume replays from the last stored snapshot and the writes are idempotent.
A batch the database refuses for good is written event by event, the refused events
dead-lettered with their reason.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from engine.bus.base import DeadLetter
from engine.errors import PermanentError, TransientError
from engine.events import Event, encode_event
from engine.storage.event_writer import EventWriter, PreparedBatch
from engine.streams import STREAM_FOR_EVENT

log = logging.getLogger(__name__)

#: A job of the writer's thread; None ends it.
_Job = Callable[[], None] | None


class BackgroundWriter:
    """Commit prepared batches on a thread of its own, in order; same calls as EventWriter
    for the persistence stage (`write`, `record_dead_letters`), plus `flush` and `close`."""

    def __init__(self, writer: EventWriter, *, depth: int = 2, retry_for_s: float = 300.0) -> None:
        self._writer = writer
        self._retry_for_s = retry_for_s
        self._jobs: queue.Queue[_Job] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claire-writer", daemon=True)
        self._thread.start()

    def write(self, events: Sequence[Event]) -> None:
        """Prepare `events` here and queue them (blocks while `depth` batches wait)."""
        self.check()
        events = list(events)
        batch = EventWriter.prepare(events)
        self._put(lambda: self._commit(batch, events))

    def record_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        """Queue dead letters behind the batches before them."""
        letters = list(letters)
        self._put(lambda: self._writer.record_dead_letters(letters))

    def check(self) -> None:
        """Raise the error that stopped the writer's thread, if one did."""
        if self._error is not None:
            raise self._error

    def flush(self) -> None:
        """Wait until everything queued is committed; raise the first error."""
        while self._jobs.unfinished_tasks and self._thread.is_alive():
            time.sleep(0.005)
        self.check()

    def close(self) -> None:
        """Commit what is queued, end the thread, raise the first error."""
        if self._thread.is_alive():
            self._put(None)
            self._thread.join()
        self._writer.close()
        self.check()

    def abandon(self) -> None:
        """End the thread without waiting for the database (the run is failing anyway)."""
        self._stopping.set()
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):  # else it sees `_stopping` after its job
                self._jobs.put_nowait(None)
            self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._writer.close()

    def _put(self, job: _Job) -> None:
        while True:
            self.check()
            if not self._thread.is_alive():
                raise RuntimeError("the background writer has stopped")
            try:
                self._jobs.put(job, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        while not self._stopping.is_set():
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            except BaseException as exc:  # kept for the engine's thread, which raises it
                self._error = exc
                return
            finally:
                self._jobs.task_done()

    def _commit(self, batch: PreparedBatch, events: list[Event]) -> None:
        deadline = time.monotonic() + self._retry_for_s
        backoff = 0.05
        while True:
            try:
                self._writer.commit(batch)
                return
            except TransientError as exc:
                if self._stopping.is_set() or time.monotonic() >= deadline:
                    raise
                log.warning("persistence waiting %.2f s: %s", backoff, exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except PermanentError as exc:
                log.warning("a batch was refused (%s); writing it event by event", exc)
                self._one_by_one(events)
                return

    def _one_by_one(self, events: list[Event]) -> None:
        for event in events:
            try:
                self._writer.write([event])
            except PermanentError as exc:
                log.warning("persistence dead-lettered %s: %s", event.event_id, exc)
                letter = DeadLetter(
                    stream=str(STREAM_FOR_EVENT[event.type]),
                    message_id=event.event_id,
                    group="persistence",
                    consumer="memory",
                    error=f"{type(exc).__name__}: {exc}",
                    attempts=1,
                    payload=encode_event(event),
                    ts=datetime.now(UTC),
                )
                self._writer.record_dead_letters([letter])
