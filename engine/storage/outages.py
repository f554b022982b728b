"""The outages the supervisor records, and the alerts that go with them, in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from engine.events import SCHEMA_VERSION

#: The `source` of the alerts the supervisor raises.
SUPERVISOR_SOURCE = "supervisor"
OUTAGE_CODE = "outage"
STALL_CODE = "run_stalled"


@dataclass(frozen=True)
class Outage:
    """One stretch of time a component was dead (ended_at None: still is)."""

    run_id: str | None
    component: str
    began_at: datetime
    ended_at: datetime | None
    restarts: int
    detail: str

    def downtime(self, now: datetime) -> timedelta:
        return (self.ended_at or now) - self.began_at


class OutageLog:
    """Write and read the `outages` table; each write also stores its alert."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def began(self, run_id: str | None, component: str, at: datetime, detail: str) -> None:
        with self._conn.transaction():
            self._conn.execute(
                "INSERT INTO outages (run_id, component, began_at, detail) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (component, began_at, (COALESCE(run_id, ''))) DO NOTHING",
                (run_id, component, at, detail),
            )
            message = f"{component} is down: {detail}; the supervisor restarts it"
            self._alert(
                run_id,
                code=OUTAGE_CODE,
                key=_outage_key(run_id, component, at, "raised"),
                at=at,
                level="critical",
                message=message,
                cleared=False,
            )

    def restarted(
        self, run_id: str | None, component: str, began_at: datetime, restarts: int
    ) -> None:
        self._conn.execute(
            f"UPDATE outages SET restarts = %s {_THE_OUTAGE}",
            (restarts, component, began_at, run_id),
        )
        self._conn.commit()

    def ended(
        self, run_id: str | None, component: str, began_at: datetime, at: datetime, restarts: int
    ) -> None:
        with self._conn.transaction():
            self._conn.execute(
                f"UPDATE outages SET ended_at = %s, restarts = %s {_THE_OUTAGE}",
                (at, restarts, component, began_at, run_id),
            )
            seconds = (at - began_at).total_seconds()
            message = f"{component} is back after {seconds:.0f} s and {restarts} restart(s)"
            self._alert(
                run_id,
                code=OUTAGE_CODE,
                key=_outage_key(run_id, component, began_at, "cleared"),
                at=at,
                level="info",
                message=message,
                cleared=True,
            )

    def stalled(self, run_id: str, since: datetime, at: datetime, cause: str) -> None:
        message = f"{run_id} stalled: no progress since {since.isoformat()} ({cause})"
        self._alert(
            run_id,
            code=STALL_CODE,
            key=f"stall-{run_id}-{since:%Y%m%dT%H%M%S%f}-raised",
            at=at,
            level="critical",
            message=message,
            cleared=False,
        )
        self._conn.commit()

    def moving(self, run_id: str, since: datetime, at: datetime) -> None:
        seconds = (at - since).total_seconds()
        self._alert(
            run_id,
            code=STALL_CODE,
            key=f"stall-{run_id}-{since:%Y%m%dT%H%M%S%f}-cleared",
            at=at,
            level="info",
            message=f"{run_id} makes progress again after {seconds:.0f} s",
            cleared=True,
        )
        self._conn.commit()

    def stall_of(self, run_id: str) -> str | None:
        """What the run's stall alert says while it is stalled, else None."""
        row = self._conn.execute(
            "SELECT cleared, message FROM alerts WHERE run_id = %s AND code = %s"
            " ORDER BY ts_event DESC, cleared DESC LIMIT 1",
            (run_id, STALL_CODE),
        ).fetchone()
        return None if row is None or row[0] else str(row[1])

    def of_run(self, run_id: str) -> list[Outage]:
        return self._select("WHERE run_id = %s", (run_id,))

    def ongoing(self) -> list[Outage]:
        return self._select("WHERE ended_at IS NULL", ())

    def _select(self, where: str, params: tuple[Any, ...]) -> list[Outage]:
        rows = self._conn.execute(
            "SELECT run_id, component, began_at, ended_at, restarts, detail FROM outages "
            f"{where} ORDER BY began_at, component",
            params,
        ).fetchall()
        return [Outage(*row) for row in rows]

    def _alert(
        self,
        run_id: str | None,
        *,
        code: str,
        key: str,
        at: datetime,
        level: str,
        message: str,
        cleared: bool,
    ) -> None:
        self._conn.execute(
            "INSERT INTO alerts (event_id, run_id, level, code, message, cleared, symbol,"
            " ts_event, ts_init, source, schema_version)"
            " VALUES (%s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, %s)"
            " ON CONFLICT (event_id) DO NOTHING",
            (key, run_id, level, code, message, cleared, at, at, SUPERVISOR_SOURCE, SCHEMA_VERSION),
        )


#: One outage: a component's, from a time, as it hit one run (or none).
_THE_OUTAGE = "WHERE component = %s AND began_at = %s AND run_id IS NOT DISTINCT FROM %s"


def _outage_key(run_id: str | None, component: str, began_at: datetime, what: str) -> str:
    """The event id of an outage's alert: one per run it hit (the id is at most 128 long)."""
    return f"outage-{component}-{began_at:%Y%m%dT%H%M%S%f}-{what}" + (
        f"-{run_id}" if run_id else ""
    )
