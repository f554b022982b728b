"""Start, find and stop the shared live feed of a state directory (`python -m engine feed`,
see `engine.marketdata.shared`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.runtime.processes import (
    engine_import_path,
    pid_alive,
    read_pid,
    start_detached,
    terminate,
)

FEED_MARK = "engine feed"
STOP_TIMEOUT_S = 15.0


def pid_file(home: Path) -> Path:
    return home / "run" / "feed.pid"


def feed_pid(home: Path) -> int | None:
    """The pid of the state directory's feed process when it runs, else None."""
    pid = read_pid(pid_file(home))
    if pid is None or not pid_alive(pid, FEED_MARK):
        return None
    return pid


def ensure_feed(home: Path, env_file: Path | None = None) -> tuple[int, bool]:
    """Start the feed unless it runs; return its pid and whether it was started now (two
    started at once: the second finds the first's lock and ends)."""
    running = feed_pid(home)
    if running is not None:
        return running, False
    command = [sys.executable, "-m", "engine", "feed"]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CLAIRE_HOME": str(home), "PYTHONPATH": engine_import_path()}
    pid = start_detached(command, logs / "feed.log", env)
    pid_file(home).parent.mkdir(parents=True, exist_ok=True)
    pid_file(home).write_text(f"{pid}\n")
    return pid, True


def stop_feed(home: Path) -> bool:
    """Stop the feed process; True if one ran."""
    pid = feed_pid(home)
    if pid is None:
        pid_file(home).unlink(missing_ok=True)
        return False
    terminate(pid, lambda: pid_alive(pid, FEED_MARK), STOP_TIMEOUT_S)
    pid_file(home).unlink(missing_ok=True)
    return True
