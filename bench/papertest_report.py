"""Report figure: the report of a 7-day papertest (HTML, Markdown, JSON and charts).

The run is a real one: `claire papertest start --duration 7d --source synthetic --speed max`
against the bench's servers (the engine runs it in its own background process, in memory,
into PostgreSQL), waited for until it ends. Then `claire papertest report RUN` is timed wall
clock, as the operator runs it, beside the library call it makes (`write_report`, with the
report modules already imported) in this process.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.cli import claire_env, run_claire
from bench.servers import Servers
from engine.backup.database import database_name
from engine.reports import write_report
from engine.runs.registry import RunRepository
from engine.settings import DatabaseSettings, Settings

RUN_TIMEOUT_S = 900.0
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@dataclass(frozen=True)
class ReportTimes:
    """Seconds of the run and of its report, and what the report covered."""

    run_seconds: float
    cli_seconds: float
    library_seconds: float
    snapshots: int
    fills: int


def seven_day_report(srv: Servers, conninfo: str, duration: str = "7d") -> ReportTimes:
    """Run a 2-symbol synthetic papertest of `duration` at max speed; time its report."""
    env = claire_env(srv, conninfo)
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)
        started = time.perf_counter()
        source = ["--source", "synthetic", "--speed", "max", "--symbols", ",".join(SYMBOLS)]
        begun = run_claire(
            ["papertest", "start", "--duration", duration, *source, "--no-backup", "--json"],
            env,
            cwd,
        )
        run_id = str(json.loads(begun.stdout)["run_id"])
        _wait_until_ended(srv.home, conninfo, run_id)
        run_seconds = time.perf_counter() - started
        cli = []
        for attempt in range(3):
            started = time.perf_counter()
            run_claire(
                ["papertest", "report", run_id, "--out", str(cwd / f"cli{attempt}")], env, cwd
            )
            cli.append(time.perf_counter() - started)
        library = _library_seconds(srv, conninfo, run_id, cwd)
    snapshots, fills = _counts(conninfo, run_id)
    return ReportTimes(run_seconds, statistics.median(cli), library, snapshots, fills)


def _wait_until_ended(home: Path, conninfo: str, run_id: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    with psycopg.connect(conninfo, autocommit=True) as conn:
        runs = RunRepository(conn)
        while runs.get(run_id).running:
            if time.monotonic() > deadline:
                raise TimeoutError(f"papertest {run_id} still running after {RUN_TIMEOUT_S} s")
            time.sleep(0.25)
    # The engine writes the run's own report as it ends: wait for it, so no two reports
    # are built at once.
    while not (home / "reports" / run_id / "report.json").exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)


def _library_seconds(srv: Servers, conninfo: str, run_id: str, scratch: Path) -> float:
    """Median of 3 `write_report` calls after a warm-up (imports and fonts loaded)."""
    settings = Settings(
        home=srv.home,
        database=DatabaseSettings(name=database_name(conninfo)),
    )
    times = []
    for attempt in range(4):
        started = time.perf_counter()
        write_report(settings, run_id, scratch / f"lib{attempt}")
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def _counts(conninfo: str, run_id: str) -> tuple[int, int]:
    with psycopg.connect(conninfo) as conn:
        snapshots = conn.execute(
            "SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s", (run_id,)
        ).fetchone()
        fills = conn.execute("SELECT COUNT(*) FROM trades WHERE run_id = %s", (run_id,)).fetchone()
    return int(str(snapshots[0])) if snapshots else 0, int(str(fills[0])) if fills else 0
