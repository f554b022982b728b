"""Small process helpers: pid files, liveness, running a program as another account."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.errors import MissingBinaryError, RuntimeStartError
from engine.runtime.paths import POSTGRES_ACCOUNT, running_as_root


def read_pid(pidfile: Path) -> int | None:
    """Return the pid in `pidfile` (first line), or None when absent or unreadable."""
    try:
        first = pidfile.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, expected_name: str | None = None) -> bool:
    """Tell whether `pid` is a live process (and, if given, that its command contains a name)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another account (postgres under root)
    if expected_name is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return True  # no /proc: trust the signal check
    if not cmdline:  # a zombie left for its parent to reap
        return False
    return expected_name in cmdline


def terminate(pid: int, alive: Callable[[], bool], timeout: float) -> None:
    """SIGTERM `pid`, wait up to `timeout` while `alive()`, then SIGKILL it if still alive."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        time.sleep(0.02)
    if alive():
        os.kill(pid, signal.SIGKILL)


def pids_working_in(directory: Path, program: str) -> list[int]:
    """Return the live processes running `program` with `directory` as working directory.

    Both servers change into their data directory, so this finds a server on a directory
    whatever its pid file says (unreadable, garbage, or another process's pid). `program` is
    matched against the first word of the command line, so workers that retitle themselves
    (`postgres: checkpointer`, `redis-aof-rewrite`) are not taken for the server.
    """
    target = directory.resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != target:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue  # gone, or another account's process
        if cmdline and Path(cmdline[0].decode(errors="replace")).name == program:
            found.append(int(entry.name))
    return sorted(found)


def server_pid(pidfile: Path, directory: Path, program: str) -> int | None:
    """Return the pid of the server running on `directory`, or None when none runs.

    The pid file is believed only when it names that server.
    """
    running = pids_working_in(directory, program)
    recorded = read_pid(pidfile)
    if recorded in running:
        return recorded
    return running[0] if running else None


def describe_pidfile(pidfile: Path) -> str:
    """Say what a pid file holds, for a message: its first line, shortened, or 'nothing'."""
    try:
        lines = pidfile.read_text(errors="replace").splitlines()
    except OSError:
        return "nothing (unreadable)"
    first = lines[0].strip() if lines else ""
    shown = first if len(first) <= 20 else first[:17] + "..."
    return repr(shown) if shown else "nothing"


#: Where system programs live when PATH is a bare one (cron's /usr/bin:/bin).
SYSTEM_BIN = (Path("/usr/sbin"), Path("/sbin"), Path("/usr/bin"), Path("/bin"))


def require_binary(name: str, package: str, search: Sequence[Path] = ()) -> Path:
    """Find a program in `search` or on PATH, or raise naming the package to install."""
    for directory in search:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise MissingBinaryError(name, package)
    return Path(found)


def run_checked(
    argv: Sequence[str | Path], *, as_postgres: bool = False, timeout: float = 120
) -> str:
    """Run a program to completion; raise RuntimeStartError with its output if it fails."""
    command = [str(part) for part in argv]
    shown = f"{Path(command[0]).name} {command[1] if len(command) > 1 else ''}".strip()
    if as_postgres and running_as_root():
        runuser = require_binary("runuser", "util-linux", SYSTEM_BIN)  # cron's PATH has no sbin
        command = [str(runuser), "-u", POSTGRES_ACCOUNT, "--", *command]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeStartError(f"`{shown}` did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        tail = " | ".join(output[-3:]) if output else f"exit code {done.returncode}"
        raise RuntimeStartError(f"`{shown}` failed: {tail}")
    return done.stdout


def tail(path: Path, lines: int = 3) -> str:
    """Return the last lines of a log file joined on one line (empty when unreadable)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


#: Start a command in the background of a throw-away shell and print its pid: the program is
#: re-parented to init, in its own session, and outlives the caller.
_DETACH = '"$@" >>"$DETACHED_LOG_PATH" 2>&1 </dev/null & echo $!'


def start_detached(argv: Sequence[str | Path], log: Path, env: dict[str, str] | None = None) -> int:
    """Run `argv` detached with stdout and stderr appended to `log`; return its pid."""
    shell = subprocess.run(
        ["/bin/sh", "-c", _DETACH, "claire-detached", *map(str, argv)],
        env={**(env if env is not None else os.environ), "DETACHED_LOG_PATH": str(log)},
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
        timeout=30,
    )
    return int(shell.stdout.strip().splitlines()[-1])


def engine_import_path() -> str:
    """A PYTHONPATH that makes `engine` importable by a child however claire was installed."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root


class StateDirProcess:
    """One long-lived `python -m engine COMMAND` of a state directory (the supervisor, the
    shared feed): its pid in `run/NAME.pid`, its output in `logs/NAME.log`, told from
    another program by its command line."""

    STOP_TIMEOUT_S = 15.0

    def __init__(self, command: str, name: str) -> None:
        self.command = command
        self.name = name
        self.mark = f"engine {command}"

    def pid_file(self, home: Path) -> Path:
        return home / "run" / f"{self.name}.pid"

    def pid(self, home: Path) -> int | None:
        """Its pid when it runs, else None."""
        pid = read_pid(self.pid_file(home))
        if pid is None or not pid_alive(pid, self.mark):
            return None
        return pid

    def ensure(self, home: Path, env_file: Path | None = None) -> tuple[int, bool]:
        """Start it unless it runs; return its pid and whether it was started now."""
        running = self.pid(home)
        if running is not None:
            return running, False
        command = [sys.executable, "-m", "engine", self.command]
        if env_file is not None:
            command += ["--env-file", str(env_file)]
        logs = home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CLAIRE_HOME": str(home), "PYTHONPATH": engine_import_path()}
        pid = start_detached(command, logs / f"{self.name}.log", env)
        self.pid_file(home).parent.mkdir(parents=True, exist_ok=True)
        self.pid_file(home).write_text(f"{pid}\n")
        return pid, True

    def stop(self, home: Path) -> bool:
        """Stop it; True if it ran."""
        pid = self.pid(home)
        if pid is not None:
            terminate(pid, lambda: pid_alive(pid, self.mark), self.STOP_TIMEOUT_S)
        self.pid_file(home).unlink(missing_ok=True)
        return pid is not None
