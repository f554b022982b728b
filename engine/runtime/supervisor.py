"""Start, find and stop the supervisor of a state directory (`python -m engine supervise`)."""

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

SUPERVISOR_MARK = "engine supervise"
STOP_TIMEOUT_S = 15.0


def pid_file(home: Path) -> Path:
    return home / "run" / "supervisor.pid"


def supervisor_pid(home: Path) -> int | None:
    """The pid of the state directory's supervisor when it runs, else None."""
    pid = read_pid(pid_file(home))
    if pid is None or not pid_alive(pid, SUPERVISOR_MARK):
        return None
    return pid


def ensure_supervisor(home: Path, env_file: Path | None = None) -> tuple[int, bool]:
    """Start the supervisor unless it runs; return its pid and whether it was started now."""
    running = supervisor_pid(home)
    if running is not None:
        return running, False
    command = [sys.executable, "-m", "engine", "supervise"]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CLAIRE_HOME": str(home), "PYTHONPATH": engine_import_path()}
    pid = start_detached(command, logs / "supervisor.log", env)
    pid_file(home).write_text(f"{pid}\n")
    return pid, True


def stop_supervisor(home: Path) -> bool:
    """Stop the supervisor (before the servers, so it restarts none); True if one ran."""
    pid = supervisor_pid(home)
    if pid is None:
        pid_file(home).unlink(missing_ok=True)
        return False
    terminate(pid, lambda: pid_alive(pid, SUPERVISOR_MARK), STOP_TIMEOUT_S)
    pid_file(home).unlink(missing_ok=True)
    return True
