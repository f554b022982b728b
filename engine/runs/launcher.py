"""Start a papertest's engine in the background and find, stop or wait for it.

The engine is `python -m engine papertest RUN_ID`, in its own session (it keeps running
after the terminal closes), with a pid file in `<home>/run/` and its console output in the
run's log directory.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from engine.runs.logs import run_log_dir
from engine.runtime.processes import engine_import_path, pid_alive, read_pid, start_detached

ENGINE_MARK = "engine papertest"


def pid_file(home: Path, run_id: str) -> Path:
    return home / "run" / f"papertest-{run_id}.pid"


def launch(
    home: Path,
    run_id: str,
    *,
    resume: bool = False,
    env_file: Path | None = None,
) -> int:
    """Start the engine of `run_id` in the background; return its pid."""
    command = [sys.executable, "-m", "engine", "papertest", run_id]
    if resume:
        command.append("--resume")
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    logs = run_log_dir(home, run_id)
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": engine_import_path()}
    pid = start_detached(command, logs / "console.log", env)
    path = pid_file(home, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")
    return pid


def engine_pid(home: Path, run_id: str) -> int | None:
    """Return the pid of the run's engine when it is alive, else None."""
    pid = read_pid(pid_file(home, run_id))
    if pid is None or not pid_alive(pid, ENGINE_MARK):
        return None
    return pid


def request_stop(home: Path, run_id: str) -> int | None:
    """Ask the run's engine to stop gracefully (SIGTERM); return its pid, None if not alive."""
    pid = engine_pid(home, run_id)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    return pid


def console_tail(home: Path, run_id: str, lines: int = 5) -> str:
    """Return the last lines the engine printed (start-up errors land there)."""
    path = run_log_dir(home, run_id) / "console.log"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def started_cleanly(home: Path, run_id: str, pid: int, grace: float = 1.5) -> bool:
    """Wait `grace` seconds; tell whether the engine is still alive (or ended cleanly)."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid, ENGINE_MARK):
            return "error" not in console_tail(home, run_id).lower()
        time.sleep(0.1)
    return True


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited; return False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid, ENGINE_MARK):
            return True
        time.sleep(0.1)
    return False
