"""The supervisor keeps a papertest alive while nobody watches: Redis, PostgreSQL and the
engine are each killed (`kill -9`), and each comes back by itself, with its outage recorded
and alerted, on servers of the test's own (a private state directory)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.runs.launcher import ENGINE_MARK
from engine.runtime.local import LocalRuntime
from engine.runtime.processes import pid_alive
from engine.runtime.supervisor import supervisor_pid
from tests.e2e.private import claire, ended, query_of
from tests.support import assert_nothing_lost, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SYMBOLS = ("BTCUSDT", "ETHUSDT")
#: Latency 50 ms, market orders valid 5 s: on 1-minute candles a fill is booked at the close
#: of the candle that opened within 5.05 s of the decision, at most a minute after it.
LONGEST_WAIT = timedelta(minutes=1, seconds=5, milliseconds=50)


@pytest.fixture
def supervised(private: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRuntime]:
    """The private servers with a supervisor looking every half second (`claire up`)."""
    monkeypatch.setenv("CLAIRE_SUPERVISOR_ENABLED", "true")
    monkeypatch.setenv("CLAIRE_SUPERVISOR_INTERVAL_SECONDS", "0.5")
    up = claire("up")
    assert "supervisor: pid" in up.stdout
    yield private
    private.down()  # the supervisor first, so it restarts nothing during teardown
    assert supervisor_pid(private.paths.home) is None


def outages(query: Any) -> list[tuple[Any, ...]]:
    """The outages recorded so far (none while PostgreSQL itself is down)."""
    try:
        rows: list[tuple[Any, ...]] = query(
            "SELECT component, run_id, ended_at IS NOT NULL, restarts FROM outages"
            " ORDER BY began_at"
        )
    except psycopg.OperationalError:
        return []
    return rows


def kill(pid: int | None) -> None:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def assert_positions_are_the_trades(query: Any, run_id: str) -> None:
    """The run's stored positions are exactly what its stored trades add up to."""
    held = dict(
        query(
            "SELECT symbol, SUM(CASE side WHEN 'buy' THEN quantity ELSE -quantity END)"
            " FROM trades WHERE run_id = %s GROUP BY symbol",
            run_id,
        )
    )
    positions = dict(query("SELECT symbol, quantity FROM positions WHERE run_id = %s", run_id))
    assert {s: q for s, q in positions.items() if q} == {s: q for s, q in held.items() if q}


def test_redis_killed_then_restarted_with_its_outage_recorded_and_alerted(
    supervised: LocalRuntime,
) -> None:
    before = supervised.redis.live_pid()
    kill(before)

    eventually(
        lambda: supervised.redis.status().healthy and supervised.redis.live_pid() != before,
        timeout=30,
        what="redis restarted",
    )
    query = query_of(supervised)
    eventually(lambda: outages(query) == [("redis", None, True, 1)], timeout=30)
    alerts = query("SELECT level, code, cleared FROM alerts WHERE source = 'supervisor'")
    assert sorted(alerts) == [("critical", "outage", False), ("info", "outage", True)]


def test_postgres_killed_then_restarted_and_its_outage_written_once_it_answers(
    supervised: LocalRuntime,
) -> None:
    kill(supervised.postgres.live_pid())

    query = query_of(supervised)
    eventually(lambda: outages(query) == [("postgres", None, True, 1)], timeout=60, interval=0.5)


def test_a_run_whose_redis_postgres_and_engine_are_killed_finishes_by_itself(
    supervised: LocalRuntime,
) -> None:
    started = claire(
        "papertest", "start", "--duration", "8h", "--source", "synthetic",
        "--speed", "300", "--symbols", ",".join(SYMBOLS), "--no-backup", "--json",
    )  # fmt: skip
    run_id = str(json.loads(started.stdout)["run_id"])
    query = query_of(supervised)

    def snapshots() -> int:
        try:
            rows = query("SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s", run_id)
        except psycopg.OperationalError:
            return 0  # PostgreSQL is being restarted
        return int(rows[0][0])

    for component in ("redis", "postgres", "engine"):
        seen = snapshots()
        eventually(lambda s=seen: snapshots() > s + 30, timeout=120, interval=0.5)  # type: ignore[misc]
        if component == "engine":
            pid = int(supervised.paths.run_dir.joinpath(f"papertest-{run_id}.pid").read_text())
            assert pid_alive(pid, ENGINE_MARK)
            kill(pid)
        else:
            kill(getattr(supervised, component).live_pid())
        eventually(
            lambda c=component: any(o[0] == c and o[2] for o in outages(query)),  # type: ignore[misc]
            timeout=120,
            interval=0.5,
            what=f"{component} back",
        )

    assert ended(supervised, run_id, timeout=300) == ("completed", "planned end reached")
    recorded = outages(query)
    assert [o[0] for o in recorded] == ["redis", "postgres", "engine"]
    assert all(o[2] and o[3] >= 1 for o in recorded), recorded
    assert_nothing_lost(query, run_id, SYMBOLS)
    late = query(
        'SELECT t.trade_id, t."timestamp" - o.ts_event FROM trades t'
        " JOIN orders o USING (order_id) WHERE t.run_id = %s AND o.order_type = 'market'"
        ' AND t."timestamp" - o.ts_event > %s',
        run_id,
        LONGEST_WAIT,
    )
    assert late == []
    assert_positions_are_the_trades(query, run_id)
    report = json.loads(claire("papertest", "report", run_id, "--json").stdout)
    (written,) = [Path(f) for f in report["files"] if f.endswith(".json")]
    system = json.loads(written.read_text())["system"]
    assert [o["component"] for o in system["outages"]] == ["redis", "postgres", "engine"]
    assert all(o["restarts"] >= 1 and o["downtime_seconds"] > 0 for o in system["outages"])
    assert any(c.startswith("outages: 3 found by the supervisor") for c in report["caveats"])
    assert system["resumes"] >= 1  # the engine's, by the supervisor
    assert set(system["missing_minutes_by_symbol"]) == set(SYMBOLS)


def test_two_runs_at_once_each_get_the_redis_outage_and_their_engine_back_by_itself(
    supervised: LocalRuntime,
) -> None:
    started = claire(
        "papertest", "start", "--duration", "4h", "--source", "synthetic", "--speed", "300",
        "--symbols", ",".join(SYMBOLS), "--strategy", "momentum",
        "--strategy", "examples.strategies.rsi_reversion:RsiReversion", "--no-backup", "--json",
    )  # fmt: skip
    runs = [str(r["run_id"]) for r in json.loads(started.stdout)["runs"]]
    query = query_of(supervised)

    def snapshots(run_id: str) -> int:
        rows = query("SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s", run_id)
        return int(rows[0][0])

    eventually(lambda: all(snapshots(r) > 20 for r in runs), timeout=120, interval=0.5)
    kill(supervised.redis.live_pid())
    eventually(
        lambda: sum(1 for o in outages(query) if o[0] == "redis" and o[2]) == 2,
        timeout=120,
        interval=0.5,
        what="redis back, its outage recorded for each run",
    )
    for run_id in runs:  # both engines dead in the same look: two outages, two resumes
        kill(int(supervised.paths.run_dir.joinpath(f"papertest-{run_id}.pid").read_text()))
    eventually(
        lambda: sum(1 for o in outages(query) if o[0] == "engine" and o[2]) == 2,
        timeout=120,
        interval=0.5,
        what="both engines back",
    )
    for run_id in runs:
        assert ended(supervised, run_id, timeout=300) == ("completed", "planned end reached")
        recorded = query(
            "SELECT component, ended_at IS NOT NULL FROM outages WHERE run_id = %s"
            " ORDER BY began_at",
            run_id,
        )
        assert recorded == [("redis", True), ("engine", True)]
        assert_nothing_lost(query, run_id, SYMBOLS)
        assert_positions_are_the_trades(query, run_id)
        report = json.loads(claire("papertest", "report", run_id, "--json").stdout)
        (written,) = [Path(f) for f in report["files"] if f.endswith(".json")]
        system = json.loads(written.read_text())["system"]
        assert [o["component"] for o in system["outages"]] == ["redis", "engine"]
        assert system["resumes"] >= 1


def test_reboot_then_the_boot_entry_alone_brings_the_run_back_with_the_same_positions(
    supervised: LocalRuntime, tmp_path: Path
) -> None:
    # The user's settings live in ./.env, where the entry is installed from.
    (tmp_path / ".env").write_text(
        "CLAIRE_MONITOR_PORT=0\nCLAIRE_SUPERVISOR_INTERVAL_SECONDS=0.5\n"
    )
    started = claire(
        "papertest", "start", "--duration", "3h", "--source", "synthetic",
        "--speed", "120", "--symbols", ",".join(SYMBOLS), "--no-backup", "--json",
    )  # fmt: skip
    run_id = str(json.loads(started.stdout)["run_id"])
    query = query_of(supervised)
    eventually(
        lambda: query("SELECT COUNT(*) FROM trades WHERE run_id = %s", run_id)[0][0] > 0,
        timeout=120,
        interval=1,
        what="a first fill",
    )
    (reboot_line,) = [
        line for line in claire("boot").stdout.splitlines() if line.startswith("@reboot ")
    ]
    command = reboot_line.removeprefix("@reboot ").split(" # claire boot entry")[0]

    # The machine goes down: every claire process dies at once, the supervisor too.
    home = supervised.paths.home
    pids = [
        supervisor_pid(home),
        int((supervised.paths.run_dir / f"papertest-{run_id}.pid").read_text()),
        supervised.redis.live_pid(),
        supervised.postgres.live_pid(),
    ]
    for pid in pids:
        kill(pid)
    eventually(lambda: not any(pid_alive(p) for p in pids if p), timeout=30, what="all dead")
    # Boot: only the entry runs, with a bare environment, from wherever cron starts it.
    booted = subprocess.run(
        ["/bin/sh", "-c", command],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd="/",
        timeout=120,
        check=False,
    )
    log = home / "logs" / "boot.log"
    assert booted.returncode == 0, log.read_text() if log.exists() else "no boot.log"

    assert ended(supervised, run_id, timeout=300) == ("completed", "planned end reached")
    assert_nothing_lost(query, run_id, SYMBOLS)
    assert_positions_are_the_trades(query, run_id)
    assert ("engine", run_id) in [(o[0], o[1]) for o in outages(query)]
