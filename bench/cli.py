"""CLI figures: start-up of `claire --help` and `claire status` beside `python -c pass`.

Each command runs as the operator runs it: the venv's `claire` in a fresh process, timed
wall clock from spawn to exit, against the bench's own servers (CLAIRE_HOME is their state
directory), from an empty working directory so no `.env` is read.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.servers import Servers
from engine.backup.database import database_name

#: The venv's console script, next to the interpreter running the bench.
CLAIRE = Path(sys.executable).with_name("claire")


def claire_env(srv: Servers, conninfo: str) -> dict[str, str]:
    """The environment of a `claire` run against the bench's servers and database.

    PYTHONDONTWRITEBYTECODE is dropped: with it set (some shells and CI images set
    it) every run compiles each engine module from source again, which a user's
    installed `claire` never does, and the start-up figures would time that."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("CLAIRE_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        CLAIRE_HOME=str(srv.home),
        CLAIRE_DATABASE_NAME=database_name(conninfo),
        CLAIRE_MONITOR_PORT="0",
    )
    return env


def run_claire(
    args: Sequence[str], env: dict[str, str], cwd: Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `claire ARGS`; with `check`, fail on an exit code above 1 (1 is a WARNING)."""
    done = subprocess.run(
        [str(CLAIRE), *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and done.returncode > 1:
        raise RuntimeError(f"claire {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def wall_seconds(command: Sequence[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    """Median wall time of `runs` runs of `command`, after one warm-up run."""
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def startup(srv: Servers, conninfo: str, runs: int = 10) -> dict[str, float]:
    """Median seconds of `python -c pass`, `claire --help` and `claire status`."""
    env = claire_env(srv, conninfo)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "claire --help": [str(CLAIRE), "--help"],
        "claire status": [str(CLAIRE), "status"],
    }
    with tempfile.TemporaryDirectory() as cwd:
        run_claire(["status"], env, Path(cwd))  # fails loudly when status cannot run
        return {name: wall_seconds(cmd, env, Path(cwd), runs) for name, cmd in commands.items()}


def cli_replay(
    path: Path,
    symbols: Sequence[str],
    srv: Servers,
    conninfo: str,
    *,
    days: int,
    env: dict[str, str],
) -> dict[str, Any]:
    """Time `claire papertest start --duration DAYSd --source replay:PATH --speed max
    --symbols ... --foreground --no-backup` with the environment `env` over the bench's;
    return its wall seconds, run id, data source and the engine's peak RSS (recorded with
    the run)."""
    import psycopg

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        run_claire(
            ["papertest", "start", "--duration", f"{days}d", "--source", f"replay:{path}",
             "--speed", "max", "--symbols", ",".join(symbols), "--foreground", "--no-backup"],
            {**claire_env(srv, conninfo), **env},
            Path(scratch),
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    with psycopg.connect(conninfo) as conn:
        ((run_id, source, peak_rss_mb),) = conn.execute(
            "SELECT run_id, data_source, c.peak_rss_mb FROM runs"
            " LEFT JOIN run_control c USING (run_id) ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
    return {
        "seconds": elapsed,
        "run_id": str(run_id),
        "source": source,
        "peak_rss_mb": float(peak_rss_mb or 0),
    }
