"""What every injection scenario runs on: its own engine over real Redis and PostgreSQL.

A scenario gets a batch id, a dedicated run id (`inject-<batch>`: it never touches a
papertest's accounting) and the whole pipeline running in threads over its own stream
namespace. It publishes real events (tagged `source = inject`), waits for the pipeline to
settle (or says why it did not), and checks what landed in PostgreSQL and Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from engine.bus.base import Stage
from engine.bus.redis_streams import ConsumerOptions, PatientPublisher, RedisStreamBus
from engine.engine_process.recovery import clear_streams
from engine.runtime.select import endpoints as runtime_endpoints
from engine.services.dead_letters import DeadLetterRecorder
from engine.services.pipeline import Pipeline, build_pipeline
from engine.services.redis_runner import EVENT_TIME, StageRunner, ThreadedPipeline, behind
from engine.settings import Settings
from engine.storage.event_writer import EventWriter
from engine.streams import Stream

SOURCE = "inject"
SETTLE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Expectation:
    """One checked outcome: what should hold, what was seen, whether it held."""

    name: str
    expected: str
    observed: str
    passed: bool


@dataclass
class Outcome:
    """A scenario's verdict and the figures it measured."""

    scenario: str
    batch: str
    expectations: list[Expectation] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.expectations)

    def expect(
        self, name: str, expected: object, observed: object, passed: bool | None = None
    ) -> None:
        ok = (expected == observed) if passed is None else passed
        self.expectations.append(Expectation(name, str(expected), str(observed), ok))

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "batch": self.batch,
            "passed": self.passed,
            "expectations": [vars(e) for e in self.expectations],
            "figures": self.figures,
        }


@dataclass
class Harness:
    """The engine a scenario injects into, and the ways to look at the result."""

    settings: Settings
    batch: str
    bus: RedisStreamBus
    conn: psycopg.Connection[Any]
    pipeline: Pipeline
    threads: ThreadedPipeline
    recorder: DeadLetterRecorder
    symbol: str = "BTCUSDT"
    redis_url: str = ""
    scenario: str = "manual"
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    @property
    def run_id(self) -> str:
        return f"inject-{self.batch}"

    def event_id(self, kind: str, number: int) -> str:
        """`inject-<batch>-<scenario>-<kind>-<n>`: an injected event names where it came from."""
        return f"inject-{self.batch}-{self.scenario}-{kind}-{number}"

    def envelope(self, kind: str, number: int, at: datetime | None = None) -> dict[str, Any]:
        when = at or self.now
        return {
            "event_id": self.event_id(kind, number),
            "ts_event": when,
            "ts_init": when,
            "source": SOURCE,
            "run_id": self.run_id,
        }

    def scalar(self, query: str, *params: object) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return row[0] if row else None

    def count(self, table: str, where: str = "TRUE", *params: object) -> int:
        query = f"SELECT COUNT(*) FROM {table} WHERE event_id LIKE %s AND ({where})"
        return int(self.scalar(query, f"inject-{self.batch}-%", *params) or 0)

    def dead_letters(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT error FROM dead_letters WHERE payload LIKE %s ORDER BY id",
            (f"%inject-{self.batch}-%",),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> float:
        """Wait until every stage has read and acknowledged everything; return the seconds it
        took. Raise with the stage that is behind when it does not happen in time."""
        started = time.monotonic()
        while True:
            lagging = behind(self.threads.runners)
            if not lagging:
                while self.recorder.poll(block_ms=None):  # dead letters into PostgreSQL
                    pass
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"the pipeline did not settle in {timeout:.0f} s: {', '.join(lagging)}"
                )
            time.sleep(0.05)

    def wait_for(self, what: str, query: str, *params: object, timeout: float = 10.0) -> None:
        """Wait until `query` returns a truthy first column (a step a scenario depends on)."""
        deadline = time.monotonic() + timeout
        while not self.scalar(query, *params):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}")
            time.sleep(0.02)


@contextmanager
def harness(
    settings: Settings,
    *,
    stages: Callable[[Pipeline], list[Stage]] | None = None,
    symbol: str = "BTCUSDT",
    capital: Decimal = Decimal(100_000),
    scenario: str = "manual",
) -> Iterator[Harness]:
    """Start a dedicated pipeline (all stages, or those `stages` picks) for one batch."""
    batch = uuid.uuid4().hex[:8]
    endpoints = runtime_endpoints(settings)
    bus = RedisStreamBus.from_url(endpoints.redis_url, f"{settings.redis.namespace}:inject-{batch}")
    options = ConsumerOptions(batch_size=500, block_ms=50, max_deliveries=3, claim_idle_ms=2_000)
    with (
        psycopg.connect(endpoints.database_conninfo, autocommit=True) as conn,
        psycopg.connect(endpoints.database_conninfo) as writer_conn,
    ):
        stopping = threading.Event()
        pipeline = build_pipeline(
            settings,
            PatientPublisher(bus, stopping),
            run_id=f"inject-{batch}",
            capital=capital,
            symbols=[symbol],
            writer=EventWriter(writer_conn, endpoints.database_conninfo),
        )
        chosen = stages(pipeline) if stages is not None else pipeline.stages
        runners = [StageRunner(stage, bus, options=options, clock=EVENT_TIME) for stage in chosen]
        threads = ThreadedPipeline(runners, stopping)
        threads.start()
        try:
            recorder = DeadLetterRecorder(bus, EventWriter(conn, endpoints.database_conninfo))
            yield Harness(
                settings,
                batch,
                bus,
                conn,
                pipeline,
                threads,
                recorder,
                symbol,
                endpoints.redis_url,
                scenario,
            )
        finally:
            threads.stop()
            clear_streams(bus)
            bus.client.close()


__all__ = ["SOURCE", "Expectation", "Harness", "Outcome", "Stream", "harness"]
