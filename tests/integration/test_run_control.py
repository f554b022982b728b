"""A run's control state against the suite's real PostgreSQL: what a command asks and what
an engine records, through `RunControl`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from engine.runs.control import Control, RunControl
from engine.runs.registry import Run, RunParameters, RunRepository
from engine.storage.event_writer import EventWriter
from tests.factories import EPOCH, snapshot

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]


def _run(db: Db) -> Run:
    parameters = RunParameters("1d", Decimal(1000), ("BTCUSDT",), "synthetic", "max", "momentum")
    return RunRepository(db).create(
        Run("pt-control", None, "running", parameters, None, None, None, EPOCH,
            EPOCH + timedelta(days=1), None, None, Decimal(1000))
    )  # fmt: skip


def test_a_run_nothing_was_recorded_for_reads_as_defaults(db: Db) -> None:
    run = _run(db)

    control = RunControl(db).get(run.run_id)

    assert control == Control()
    assert not control.started_before
    assert not control.stop_requested


def test_each_engine_start_is_recorded_with_who_holds_the_run(db: Db) -> None:
    run = _run(db)
    control = RunControl(db)

    control.start_engine(run.run_id, 1, "host-a pid 10")
    control.start_engine(run.run_id, 2, "host-b pid 20")

    got = control.get(run.run_id)
    assert (got.epoch, got.engine, got.started_before) == (2, "host-b pid 20", True)
    assert got.engine_started_at is not None
    assert got.heartbeat_at == got.engine_started_at


def test_heartbeat_reads_the_stop_request_and_keeps_its_first_time_and_reason(db: Db) -> None:
    run = _run(db)
    control = RunControl(db)
    control.start_engine(run.run_id, 1, "host pid 1")
    assert control.heartbeat(run.run_id) == "go"
    beat = control.get(run.run_id).heartbeat_at

    control.request_stop(run.run_id, "enough for today")
    first = control.get(run.run_id).stop_requested_at
    control.request_stop(run.run_id)  # a second ask without a reason keeps the first's

    assert control.heartbeat(run.run_id) == "stop"
    got = control.get(run.run_id)
    assert (got.stop_reason, got.stop_requested_at) == ("enough for today", first)
    assert got.heartbeat_at is not None
    assert beat is not None
    assert got.heartbeat_at >= beat


def test_heartbeat_says_stop_when_the_run_was_ended_from_elsewhere(db: Db) -> None:
    run = _run(db)
    control = RunControl(db)
    control.start_engine(run.run_id, 1, "host pid 1")

    RunRepository(db).finish(run.run_id, "failed", "marked by hand", EPOCH + timedelta(hours=1))

    assert control.heartbeat(run.run_id) == "stop"


def test_a_resume_forgets_the_stop_request_and_is_kept_from_the_newest_snapshot(
    db: Db, database_conninfo: str
) -> None:
    run = _run(db)
    control = RunControl(db)
    with psycopg.connect(database_conninfo) as conn:
        EventWriter(conn, database_conninfo).write(
            [snapshot(i, run_id=run.run_id) for i in range(3)]
        )
    control.request_stop(run.run_id, "pause")
    newest = db.execute(
        'SELECT MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %s', (run.run_id,)
    ).fetchone()

    control.record_resume(run.run_id)
    control.record_resume(run.run_id)

    got = control.get(run.run_id)
    assert not got.stop_requested
    assert got.stop_reason is None
    assert [r.from_event for r in got.resumes] == [newest[0] if newest else None] * 2
    assert got.resumes[0].at < got.resumes[1].at


def test_engine_figures_merge_per_stage_and_keep_the_largest_memory(db: Db) -> None:
    run = _run(db)
    control = RunControl(db)

    control.add_engine_stats(
        run.run_id, {"risk": {"restarts": 2}, "signal": {"restarts": 1}}, Decimal("90.5")
    )
    control.add_engine_stats(run.run_id, {"risk": {"restarts": 0}}, Decimal("60"))

    got = control.get(run.run_id)
    assert got.stage_stats == {"risk": {"restarts": 0}, "signal": {"restarts": 1}}
    assert got.restarts == 1  # each stage's latest figures, summed
    assert got.peak_rss_mb == Decimal("90.5")


def test_the_control_state_goes_with_its_run(db: Db) -> None:
    run = _run(db)
    RunControl(db).start_engine(run.run_id, 1, "host pid 1")
    RunControl(db).record_resume(run.run_id)

    db.execute("DELETE FROM runs WHERE run_id = %s", (run.run_id,))

    assert db.execute("SELECT COUNT(*) FROM run_control").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM run_resumes").fetchone() == (0,)
