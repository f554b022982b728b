"""`papertest status --watch` ends with the run, and piped it prints plain lines. Run as a real
program, its stdout a pipe (as `| tee` or a log file has it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from tests.support import claire

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

PROGRAM = Path(sys.executable).parent / "claire"


def test_watch_when_piped_then_a_line_per_refresh_and_exit_0_when_the_run_ends(
    tmp_path: Path,
) -> None:
    market = tmp_path / "market.parquet"
    candles = synthetic_candles(("BTCUSDT",), datetime(2026, 1, 5, tzinfo=UTC), 300, seed=7)
    write_market_file(market, candles, Layout.CANDLES)
    started = claire(
        "papertest", "start", "--duration", "2h", "--source", f"replay:{market}",
        "--speed", "600", "--no-backup", "--json",
    )  # fmt: skip
    run_id = json.loads(started.stdout)["run_id"]

    watched = subprocess.run(
        [str(PROGRAM), "papertest", "status", run_id, "--watch"],
        capture_output=True,
        text=True,
        timeout=120,  # before: it never ended
        env=dict(os.environ),
        check=False,
    )

    lines = watched.stdout.splitlines()
    assert watched.returncode == 0, watched.stderr
    assert len(lines) >= 2, watched.stdout  # 12 s of run, a line every 2 s
    for line in lines:
        assert re.match(rf"\d\d:\d\d:\d\d {run_id} ", line), line
        assert "\x1b" not in line
    assert " running: " in lines[0]
    assert f"{run_id} completed (planned end reached): 100 % done" in lines[-1]


def test_watch_when_the_engine_dies_and_nothing_restarts_it_then_exit_1_and_how_to_resume(
    tmp_path: Path,
) -> None:
    market = tmp_path / "market.parquet"
    candles = synthetic_candles(("BTCUSDT",), datetime(2026, 1, 5, tzinfo=UTC), 600, seed=7)
    write_market_file(market, candles, Layout.CANDLES)
    started = claire(
        "papertest", "start", "--duration", "8h", "--source", f"replay:{market}",
        "--speed", "60", "--no-backup", "--json",
    )  # fmt: skip
    run_id = json.loads(started.stdout)["run_id"]
    pid_file = Path(os.environ["CLAIRE_HOME"]) / "run" / f"papertest-{run_id}.pid"
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)  # the suite runs no supervisor

    watched = subprocess.run(
        [str(PROGRAM), "papertest", "status", run_id, "--watch"],
        capture_output=True,
        text=True,
        timeout=60,  # before: it waited for ever
        env=dict(os.environ),
        check=False,
    )

    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert f"the engine of {run_id} is down: nothing restarts it" in watched.stderr
    assert f"claire papertest resume {run_id}" in watched.stdout
    assert " crashed: " in watched.stdout.splitlines()[0]
    claire("papertest", "stop", run_id)
