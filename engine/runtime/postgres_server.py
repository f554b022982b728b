"""claire's own PostgreSQL: initdb on first use, a unix socket in the state directory."""

from __future__ import annotations

import os
import re
import signal
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from engine.errors import RuntimeStartError
from engine.runtime.paths import StatePaths, running_as_root
from engine.runtime.processes import (
    describe_pidfile,
    read_pid,
    require_binary,
    run_checked,
    server_pid,
    tail,
)
from engine.runtime.status import ComponentState, ComponentStatus
from engine.settings import DatabaseSettings

NAME = "postgres"
SHARED_MEMORY_WAIT_S = 15.0
STOP_TIMEOUT_S = 60.0
DEFAULT_PORT = 5432  # also names the unix socket file: .s.PGSQL.<port>
_BIN_ROOT = Path("/usr/lib/postgresql")


def find_bin_dir(configured: Path | None) -> Path:
    """Return the directory holding pg_ctl and initdb, newest PostgreSQL first."""
    if configured is not None:
        require_binary("pg_ctl", "postgresql", [configured])
        return configured
    versions = sorted(
        (p for p in _BIN_ROOT.glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0),
        reverse=True,
    )
    return versions[0] if versions else require_binary("pg_ctl", "postgresql").parent


class PostgresServer:
    """Start, stop and check the local runtime's PostgreSQL."""

    def __init__(self, paths: StatePaths, settings: DatabaseSettings) -> None:
        self._paths = paths
        self._settings = settings

    @property
    def port(self) -> int:
        return self._settings.port or DEFAULT_PORT

    def conninfo(self, dbname: str | None = None) -> str:
        """Return a libpq connection string over the unix socket."""
        parts = {
            "host": str(self._paths.postgres_socket_dir),
            "port": str(self.port),
            "dbname": dbname or self._settings.name,
            "user": self._settings.user,
        }
        return make_conninfo(**parts)

    def start(self) -> None:
        """Initialise on first use, start unless running, then create claire's database."""
        state = self.status().state
        if state is not ComponentState.RUNNING:
            bin_dir = find_bin_dir(self._settings.bin_dir)
            self._paths.prepare()
            if state is ComponentState.DOWN:
                self._clear_stale_pidfile()
            if not (self._paths.postgres_data / "PG_VERSION").exists():
                self._initdb(bin_dir)
            self._pg_ctl_start(bin_dir)
        self._ensure_database()

    def stop(self) -> None:
        """Stop PostgreSQL (fast shutdown: sessions end, data is flushed)."""
        pid = self.live_pid()
        if pid is None:
            return
        self.repair_pidfile()
        if read_pid(self._pidfile) != pid:  # pg_ctl needs the pid file; signal it directly
            os.kill(pid, signal.SIGINT)  # fast shutdown
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline and self.live_pid() == pid:
                time.sleep(0.05)
            return
        bin_dir = find_bin_dir(self._settings.bin_dir)
        run_checked(
            [bin_dir / "pg_ctl", "stop", "-D", self._paths.postgres_data, "-m", "fast", "-w"],
            as_postgres=True,
        )

    @property
    def _pidfile(self) -> Path:
        return self._paths.postgres_data / "postmaster.pid"

    def live_pid(self) -> int | None:
        """The pid of the postmaster running on this data directory, or None."""
        return server_pid(self._pidfile, self._paths.postgres_data, "postgres")

    def repair_pidfile(self) -> str | None:
        """Rewrite a postmaster.pid that does not name the running postmaster; say so.

        PostgreSQL checks its lock file every minute and shuts down when the file no longer
        holds its pid, so a damaged file is rebuilt at once: the first five lines from the
        socket's lock file (which the postmaster writes with the same content), then the
        listen address, the shared-memory key and "ready".
        """
        pid = self.live_pid()
        if pid is None or read_pid(self._pidfile) == pid:
            return None
        held = describe_pidfile(self._pidfile) if self._pidfile.exists() else "nothing (missing)"
        socket_lock = self._paths.postgres_socket_dir / f".s.PGSQL.{self.port}.lock"
        try:
            head = socket_lock.read_text().splitlines()[:5]
        except OSError:
            head = []
        if len(head) < 5 or read_pid(socket_lock) != pid:
            return f"postgres: its pid file held {held} and could not be rebuilt (no socket lock)"
        listen = "127.0.0.1" if self._settings.port else ""
        lines = [*head, listen, _shared_memory_key(pid), "ready   "]
        self._pidfile.write_text("\n".join(lines) + "\n")
        self._pidfile.chmod(0o600)
        if running_as_root():
            self._paths.prepare()  # hand the file back to the postgres account
        return f"postgres: its pid file held {held}; rebuilt for the running postmaster {pid}"

    def status(self) -> ComponentStatus:
        pid = self.live_pid()
        endpoint = str(self._paths.postgres_socket_dir)
        if pid is None:
            stale = self._pidfile.exists()
            state = ComponentState.DOWN if stale else ComponentState.STOPPED
            initialised = (self._paths.postgres_data / "PG_VERSION").exists()
            detail = (
                "not running (stale pid file)"
                if stale
                else ("not started" if initialised else "not initialised")
            )
            return ComponentStatus(NAME, state, False, detail, None, endpoint)
        problem = self._probe()
        detail = problem or "answers SELECT 1"
        if read_pid(self._pidfile) != pid:
            detail += "; its pid file is wrong (claire up repairs it)"
        return ComponentStatus(NAME, ComponentState.RUNNING, problem is None, detail, pid, endpoint)

    def _probe(self) -> str | None:
        try:
            with psycopg.connect(self.conninfo("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return f"does not answer: {str(exc).strip().splitlines()[0]}"
        return None

    def _initdb(self, bin_dir: Path) -> None:
        argv: list[str | Path] = [
            bin_dir / "initdb",
            "-D",
            self._paths.postgres_data,
            "-U",
            self._settings.user,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
        pwfile: Path | None = None
        if self._settings.password is not None:
            pwfile = self._write_pwfile(self._settings.password.get_secret_value())
            argv += ["--pwfile", pwfile]
        try:
            run_checked(argv, as_postgres=True)
        finally:
            if pwfile is not None:
                pwfile.unlink(missing_ok=True)
        if running_as_root():
            self._paths.prepare()

    def _write_pwfile(self, password: str) -> Path:
        fd, name = tempfile.mkstemp(dir=self._paths.postgres_dir, prefix=".pw")
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        if running_as_root():
            self._paths.prepare()  # hand the file to the postgres account
        return Path(name)

    def _pg_ctl_start(self, bin_dir: Path) -> None:
        listen = "127.0.0.1" if self._settings.port else ""
        options = (
            f"-c listen_addresses='{listen}' -c port={self.port} "
            f"-c unix_socket_directories='{self._paths.postgres_socket_dir}' "
            "-c unix_socket_permissions=0700 -c timezone=UTC -c log_timezone=UTC"
        )
        argv: list[str | Path] = [
            bin_dir / "pg_ctl",
            "start",
            "-D",
            self._paths.postgres_data,
            "-l",
            self._paths.postgres_log,
            "-w",
            "-t",
            "60",
            "-o",
            options,
        ]
        deadline = time.monotonic() + SHARED_MEMORY_WAIT_S
        while True:
            try:
                run_checked(argv, as_postgres=True)
                return
            except RuntimeStartError as exc:
                log_tail = tail(self._paths.postgres_log)
                # Backends of a killed postmaster may hold its shared memory for a moment.
                if "still in use" in log_tail and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                raise RuntimeStartError(
                    f"PostgreSQL did not start: {log_tail or exc.message}"
                ) from exc

    def _clear_stale_pidfile(self) -> None:
        """Remove the pid file of a crashed postmaster.

        PostgreSQL refuses to start while the pid in the file exists, and a killed postmaster
        can linger as a zombie where nothing reaps orphans (a container without an init).
        Its children leave within moments; the start below waits for its shared memory.
        """
        (self._paths.postgres_data / "postmaster.pid").unlink(missing_ok=True)
        for leftover in self._paths.postgres_socket_dir.glob(".s.PGSQL.*"):
            leftover.unlink(missing_ok=True)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self._settings.name,)
            ).fetchone()
            if not exists:
                name = sql.Identifier(self._settings.name)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _shared_memory_key(pid: int) -> str:
    """The postmaster's System V shared-memory key and id, as postmaster.pid holds them."""
    try:
        rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        rows = []
    for row in rows:
        fields = row.split()  # key shmid perms size cpid lpid ...
        if len(fields) > 4 and fields[4] == str(pid):
            return f"{int(fields[0]) & 0xFFFFFFFF:9d} {int(fields[1]):9d}"
    return f"{0:9d} {0:9d}"
