"""Faults during a papertest over Redis, on servers of the test's own (a private state
directory): PostgreSQL stopped for 30 minutes of the run's event time, Redis restarted, the
machine "rebooted" (every process killed), a backup directory whose disk is full. Each ends
with nothing lost. The faults are paced by what the run has done (minutes stored, market
events published, what its /health says), not by fixed sleeps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.engine_process.epochs import run_namespace
from engine.runs.launcher import ENGINE_MARK, pid_file
from engine.runtime.local import LocalRuntime
from engine.runtime.processes import pid_alive, read_pid
from engine.settings import Settings
from engine.streams import Stream, stream_key
from tests.e2e.private import claire, ended, query_of
from tests.support import assert_nothing_lost, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def start(hours: int, speed: int) -> str:
    started = claire(
        "papertest", "start", "--duration", f"{hours}h", "--source", "synthetic",
        "--speed", str(speed), "--symbols", ",".join(SYMBOLS), "--no-backup", "--json",
    )  # fmt: skip
    return str(json.loads(started.stdout)["run_id"])


def engine_pid(runtime: LocalRuntime, run_id: str) -> int:
    pid = read_pid(pid_file(runtime.paths.home, run_id))
    assert pid is not None
    return pid


def snapshots(runtime: LocalRuntime, run_id: str) -> int:
    query = query_of(runtime)
    sql = "SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s AND event_id LIKE '%%-minute'"
    return int(query(sql, run_id)[0][0])


def market_published(runtime: LocalRuntime, run_id: str) -> int:
    """Market events the run's feed has put on its stream (readable while PostgreSQL is down)."""
    namespace = run_namespace(Settings(home=runtime.paths.home), run_id, epoch=1)
    with redis.Redis.from_url(runtime.redis.url) as client:
        return int(client.xlen(stream_key(namespace, Stream.MARKET_DATA)))


def health(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:  # 503: failing checks, still the engine's answer
        return dict(json.loads(exc.read()))


def test_postgres_stopped_then_nothing_lost_and_the_outage_alerted(
    private: LocalRuntime,
) -> None:
    run_id = start(hours=3, speed=240)  # 45 s of wall time
    eventually(lambda: snapshots(private, run_id) >= 10, timeout=60, what="10 minutes stored")
    pid = engine_pid(private, run_id)

    private.postgres.stop()
    # The market goes on while PostgreSQL is down: 30 minutes of event time (60 candles).
    before = market_published(private, run_id)

    def went_on() -> bool:
        assert pid_alive(pid, ENGINE_MARK), "the engine died while PostgreSQL was down"
        return market_published(private, run_id) >= before + 60

    eventually(went_on, timeout=60, interval=0.2, what="30 minutes of market without PostgreSQL")
    private.postgres.start()

    assert ended(private, run_id, timeout=240) == ("completed", "planned end reached")
    query = query_of(private)
    assert_nothing_lost(query, run_id, SYMBOLS)
    alerts = query(
        "SELECT level, cleared FROM alerts WHERE run_id = %s AND code = 'storage_unavailable'"
        " ORDER BY ts_event",
        run_id,
    )
    assert ("critical", False) in alerts
    assert ("info", True) in alerts


def test_redis_restarted_then_stages_resume_from_their_groups_and_nothing_lost(
    private: LocalRuntime,
) -> None:
    run_id = start(hours=2, speed=240)  # 30 s of wall time
    eventually(lambda: snapshots(private, run_id) >= 10, timeout=60, what="10 minutes stored")
    pid = engine_pid(private, run_id)
    query = query_of(private)
    ((url,),) = query("SELECT monitor_url FROM run_control WHERE run_id = %s", run_id)

    private.redis.stop()  # a clean shutdown: the append-only file is complete
    # The engine sees Redis gone (its /health says so) and stays up.
    eventually(
        lambda: "redis" in json.dumps(health(url)).lower() and health(url)["status"] != "ok",
        timeout=30,
        interval=0.2,
        what="the engine's /health to report Redis down",
    )
    assert pid_alive(pid, ENGINE_MARK), "the engine died while Redis was down"
    private.redis.start()

    assert ended(private, run_id, timeout=240) == ("completed", "planned end reached")
    assert_nothing_lost(query, run_id, SYMBOLS)


def test_reboot_then_up_and_resume_continue_with_the_same_positions(
    private: LocalRuntime,
) -> None:
    run_id = start(hours=3, speed=240)
    query = query_of(private)
    eventually(
        lambda: query("SELECT COUNT(*) FROM trades WHERE run_id = %s", run_id)[0][0] > 0,
        timeout=120,
        interval=1,
        what="a first fill",
    )
    # The machine goes down: every process dies at once, nothing is shut down cleanly.
    pids = [
        engine_pid(private, run_id),
        read_pid(private.paths.redis_pidfile),
        read_pid(private.paths.postgres_data / "postmaster.pid"),
    ]
    for pid in pids:
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    eventually(lambda: not any(pid_alive(p) for p in pids if p), timeout=30, what="all dead")

    up = claire("up")
    assert f"papertest {run_id} was interrupted" in up.stdout
    ((before,),) = query(
        "SELECT COALESCE(MAX(sequence), 0) FROM portfolio_snapshots WHERE run_id = %s", run_id
    )
    claire("papertest", "resume", run_id)

    assert ended(private, run_id, timeout=300) == ("completed", "planned end reached")
    assert_nothing_lost(query, run_id, SYMBOLS)
    # The last snapshot of every instant after the resume holds exactly what the fills up to
    # that instant add up to (a minute's snapshot comes before the fills of that minute).
    after = query(
        'SELECT DISTINCT ON ("timestamp") "timestamp", positions FROM portfolio_snapshots'
        ' WHERE run_id = %s AND sequence > %s ORDER BY "timestamp", sequence DESC',
        run_id,
        before,
    )
    assert after
    for at, positions in after:
        held = dict(
            query(
                "SELECT symbol, SUM(CASE side WHEN 'buy' THEN quantity ELSE -quantity END)"
                ' FROM trades WHERE run_id = %s AND "timestamp" <= %s GROUP BY symbol',
                run_id,
                at,
            )
        )
        snapshot = {p["symbol"]: Decimal(str(p["quantity"])) for p in positions}
        assert snapshot == {s: q for s, q in held.items() if q != 0}, at


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system for the backup directory."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.usefixtures("claire_env")
def test_backup_on_a_full_disk_fails_cleanly_and_keeps_the_previous_ones(
    monkeypatch: pytest.MonkeyPatch, small_disk: Path
) -> None:
    monkeypatch.setenv("CLAIRE_BACKUP_DIR", str(small_disk / "backups"))
    first = json.loads(claire("backup", "--json").stdout)
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(0, free - 2048))  # leave 2 KiB

    failed = claire("backup", expect=1)

    assert "No space left on device" in failed.output
    assert "Traceback" not in failed.output
    left = sorted(p.name for p in (small_disk / "backups").iterdir())
    assert left == [first["backup_id"]]  # the previous backup kept, no half one left
    (small_disk / "filler").unlink()
    claire("backup", "verify", first["backup_id"])
