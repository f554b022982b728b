"""Run stages over Redis Streams: each stage one consumer group, one supervised thread.

The same stages as the in-memory runner. A stage whose loop crashes is logged and started
again; its unacknowledged messages are still pending and are processed on restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from engine.bus.redis_streams import (
    ConsumerOptions,
    DeadLetter,
    RedisStreamBus,
    StreamConsumer,
    default_consumer_name,
)
from engine.services.base import Stage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class StageRunner:
    """Poll one stage's streams until stopped; tick it every `tick_every_s`; never die."""

    def __init__(
        self,
        stage: Stage,
        bus: RedisStreamBus,
        *,
        options: ConsumerOptions | None = None,
        clock: Clock = wall_clock,
        tick_every_s: float = 1.0,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self.stage = stage
        self._clock = clock
        self._tick_every = tick_every_s
        self.consumer = StreamConsumer(
            bus,
            stage.inputs,
            stage.name,
            stage.handle,
            consumer=f"{stage.name}-{default_consumer_name()}",
            options=options,
            on_dead_letter=on_dead_letter,
        )
        self.restarts = 0

    def run(self, stop: threading.Event) -> None:
        """Supervise the loop: a crash is logged, and the loop starts again after a pause."""
        while not stop.is_set():
            try:
                self._loop(stop)
            except Exception:
                self.restarts += 1
                log.exception("stage %s crashed; restarting (%d)", self.stage.name, self.restarts)
                stop.wait(min(5.0, 0.1 * 2 ** min(self.restarts, 6)))

    def _loop(self, stop: threading.Event) -> None:
        next_tick = time.monotonic() + self._tick_every
        backoff = 0.1
        while not stop.is_set():
            try:
                self.consumer.poll()
                backoff = 0.1
            except self.consumer.options.transient as exc:
                log.warning("stage %s waiting %.1f s: %s", self.stage.name, backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            if time.monotonic() >= next_tick:
                self.stage.on_tick(self._clock())
                next_tick = time.monotonic() + self._tick_every


class ThreadedPipeline:
    """All stages in one process, one thread each, over Redis Streams."""

    def __init__(self, runners: Sequence[StageRunner]) -> None:
        self.runners = list(runners)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for runner in self.runners:
            thread = threading.Thread(
                target=runner.run,
                args=(self._stop,),
                name=f"stage-{runner.stage.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
