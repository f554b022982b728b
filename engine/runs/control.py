"""A run's control state (`run_control`, `run_resumes`): how commands and engines talk.

A command writes a request (stop, with its reason); the engine that holds the run records
each of its starts (an epoch: which one, where, since when), beats its heartbeat once a
second and reads the stop request in the same statement, records the monitor port it bound
and, at its end, its figures (stage restarts, peak memory). A resume is one row of
`run_resumes`. Rows are written with upserts: a run registered before this table existed
has no row until something is recorded, and reads as `Control()` until then.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

#: The longest stop reason kept.
LONGEST_STOP_REASON = 500


@dataclass(frozen=True)
class Resume:
    """One resume: when (wall clock) and from which stored snapshot (event time)."""

    at: datetime
    from_event: datetime | None


@dataclass(frozen=True)
class Control:
    """One row of `run_control`, and the run's resumes."""

    epoch: int = 0
    engine: str | None = None
    engine_started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    monitor_url: str | None = None
    stop_requested_at: datetime | None = None
    stop_reason: str | None = None
    restarts: int = 0
    peak_rss_mb: Decimal | None = None
    stage_stats: dict[str, Any] = field(default_factory=dict)
    resumes: tuple[Resume, ...] = ()

    @property
    def started_before(self) -> bool:
        """Whether an engine has worked on the run (its next start resumes it)."""
        return self.epoch > 0

    @property
    def stop_requested(self) -> bool:
        return self.stop_requested_at is not None


#: What a heartbeat tells the engine: go on, stop the run, or leave it to another engine.
Beat = Literal["go", "stop", "taken"]


@dataclass(frozen=True)
class Claimed:
    """A run a worker took, and whether an engine worked on it before (it resumes)."""

    run_id: str
    resume: bool


def this_engine() -> str:
    """How an engine process names itself: its host and pid."""
    return f"{socket.gethostname()} pid {os.getpid()}"


_UPSERT = "INSERT INTO run_control (run_id) VALUES (%(run)s) ON CONFLICT (run_id) DO NOTHING"


class RunControl:
    """Read and write one run's control state through an autocommit connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def get(self, run_id: str) -> Control:
        """The run's control state (defaults when nothing was recorded)."""
        with self._conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT epoch, engine, engine_started_at, heartbeat_at, monitor_url,"
                " stop_requested_at, stop_reason, restarts, peak_rss_mb, stage_stats"
                " FROM run_control WHERE run_id = %s",
                (run_id,),
            ).fetchone()
        resumes = self._conn.execute(
            "SELECT resumed_at, from_event FROM run_resumes WHERE run_id = %s ORDER BY resumed_at",
            (run_id,),
        ).fetchall()
        values = dict(row) if row else {}
        values["stage_stats"] = dict(values.get("stage_stats") or {})
        return Control(**values, resumes=tuple(Resume(*r) for r in resumes))

    def start_engine(self, run_id: str, epoch: int, engine: str) -> None:
        """Record that `engine` started epoch `epoch` of the run (its heartbeat begins)."""
        self._write(
            "UPDATE run_control SET epoch = %(epoch)s, engine = %(engine)s,"
            " engine_started_at = now(), heartbeat_at = now() WHERE run_id = %(run)s",
            {"run": run_id, "epoch": epoch, "engine": engine},
        )

    def heartbeat(self, run_id: str, engine: str | None = None) -> Beat:
        """Beat the engine's heartbeat; return what the engine is to do: go on, stop (a stop
        was requested, or the run is no longer `running`: ended from elsewhere), or leave
        the run (`taken`: another engine, named in the row, holds it now; its heartbeat
        only beats while `engine` still holds it)."""
        with self._conn.transaction():
            row = self._conn.execute(
                "UPDATE run_control c SET heartbeat_at = CASE WHEN %(engine)s::text IS NULL"
                " OR c.engine = %(engine)s THEN now() ELSE c.heartbeat_at END FROM runs r"
                " WHERE c.run_id = %(run)s AND r.run_id = c.run_id"
                " RETURNING c.stop_requested_at IS NOT NULL OR r.status <> 'running',"
                " %(engine)s::text IS NOT NULL AND c.engine IS DISTINCT FROM %(engine)s",
                {"run": run_id, "engine": engine},
            ).fetchone()
        if row and row[1]:
            return "taken"
        return "stop" if row and row[0] else "go"

    def claim(self, engine: str, *, stale_after: timedelta, unmarked: bool) -> Claimed | None:
        """Take the oldest running papertest that waits for a worker (`queued`; with
        `unmarked`, a run that says nothing counts as queued: the Docker runtime's), one no
        engine took since it started or resumed, or whose engine's heartbeat is older than
        `stale_after` (its worker died), or one this very engine held (it was restarted
        under the same name: an engine container is pid 1 of its host). Many workers may ask
        at once: each run goes to one of them. Return it, and whether an engine worked on
        it before (it resumes)."""
        with self._conn.transaction():
            row = self._conn.execute(
                "SELECT r.run_id, COALESCE(c.epoch, 0) FROM runs r"
                " LEFT JOIN run_control c ON c.run_id = r.run_id"
                " WHERE r.status = 'running'"
                " AND COALESCE((r.parameters->>'queued')::boolean, %(unmarked)s)"
                " AND (c.heartbeat_at IS NULL OR c.heartbeat_at < now() - %(stale)s"
                "      OR c.engine = %(engine)s"
                "      OR c.engine_started_at < GREATEST(r.started_at, (SELECT MAX(resumed_at)"
                "         FROM run_resumes s WHERE s.run_id = r.run_id)))"
                " ORDER BY r.started_at, r.group_index NULLS FIRST, r.run_id"
                " LIMIT 1 FOR UPDATE OF r SKIP LOCKED",
                {"unmarked": unmarked, "stale": stale_after, "engine": engine},
            ).fetchone()
            if row is None:
                return None
            run_id, epoch = row
            self._conn.execute(_UPSERT, {"run": run_id})
            self._conn.execute(
                "UPDATE run_control SET engine = %s, engine_started_at = now(),"
                " heartbeat_at = now() WHERE run_id = %s",
                (engine, run_id),
            )
        return Claimed(str(run_id), int(epoch) > 0)

    def request_stop(self, run_id: str, reason: str | None = None) -> None:
        """Ask the run's engine, wherever it runs, to stop gracefully (with `reason`, for
        the run's end; its heartbeat reads the request within a second)."""
        self._write(
            "UPDATE run_control SET stop_requested_at = COALESCE(stop_requested_at, now()),"
            " stop_reason = COALESCE(%(reason)s, stop_reason) WHERE run_id = %(run)s",
            {"run": run_id, "reason": reason[:LONGEST_STOP_REASON] if reason else None},
        )

    def record_resume(self, run_id: str) -> None:
        """A user resumed the run: forget its stop request and keep the resume, from its
        newest stored snapshot."""
        self._write(
            "UPDATE run_control SET stop_requested_at = NULL, stop_reason = NULL"
            " WHERE run_id = %(run)s",
            {"run": run_id},
            "INSERT INTO run_resumes (run_id, resumed_at, from_event)"
            ' SELECT %(run)s, clock_timestamp(), MAX("timestamp") FROM portfolio_snapshots'
            " WHERE run_id = %(run)s",
        )

    def set_monitor_url(self, run_id: str, url: str) -> None:
        """Record where the engine serves the run's /health and /metrics."""
        self._write(
            "UPDATE run_control SET monitor_url = %(url)s WHERE run_id = %(run)s",
            {"run": run_id, "url": url},
        )

    def add_engine_stats(
        self, run_id: str, stages: dict[str, Any], peak_rss_mb: Decimal | None
    ) -> None:
        """Merge one engine start's figures into the run's: each stage's latest figures, the
        restarts they add up to, and the largest peak memory any start reached."""
        with self._conn.transaction():
            self._conn.execute(_UPSERT, {"run": run_id})
            row = self._conn.execute(
                "SELECT stage_stats FROM run_control WHERE run_id = %s FOR UPDATE", (run_id,)
            ).fetchone()
            merged = {**dict((row[0] if row else None) or {}), **stages}
            restarts = sum(int(entry.get("restarts", 0)) for entry in merged.values())
            self._conn.execute(
                "UPDATE run_control SET stage_stats = %(stages)s, restarts = %(restarts)s,"
                " peak_rss_mb = GREATEST(peak_rss_mb, %(peak)s) WHERE run_id = %(run)s",
                {"run": run_id, "stages": Jsonb(merged), "restarts": restarts, "peak": peak_rss_mb},
            )

    def _write(self, statement: str, params: dict[str, Any], *more: str) -> None:
        """Run the statements in one transaction, on the run's row (made when missing)."""
        with self._conn.transaction():
            self._conn.execute(_UPSERT, params)
            for each in (statement, *more):
                self._conn.execute(each, params)
