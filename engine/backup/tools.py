"""pg_dump and pg_restore: the host's programs, or those inside the PostgreSQL container.

In the Docker runtime they run in the PostgreSQL container (over its unix socket), with the
dump streamed to and from the host: no PostgreSQL client tools are needed on the host.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

from psycopg.conninfo import conninfo_to_dict

from engine.backup.errors import BackupError
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings

DUMP_OPTIONS = ("--format=custom", "--compress=1")
RESTORE_OPTIONS = ("--exit-on-error", "--no-owner")


class PostgresTools(Protocol):
    def dump(self, conninfo: str, snapshot: str, target: Path) -> None:
        """Dump the database `conninfo` names, as of `snapshot`, into `target`."""
        ...

    def restore(self, dump_file: Path, conninfo: str) -> None:
        """Restore `dump_file` into the (empty) database `conninfo` names."""
        ...


def postgres_tools(settings: Settings) -> PostgresTools:
    if settings.runtime is RuntimeKind.DOCKER and settings.database.url is None:
        return ContainerTools(settings)
    return HostTools(settings)


class HostTools:
    """The PostgreSQL programs installed on this machine."""

    def __init__(self, settings: Settings) -> None:
        self._bin_dir = settings.database.bin_dir

    def dump(self, conninfo: str, snapshot: str, target: Path) -> None:
        self._run(
            "pg_dump", *DUMP_OPTIONS, f"--snapshot={snapshot}", f"--file={target}",
            f"--dbname={conninfo}",
        )  # fmt: skip

    def restore(self, dump_file: Path, conninfo: str) -> None:
        self._run("pg_restore", *RESTORE_OPTIONS, f"--dbname={conninfo}", str(dump_file))

    def _run(self, program: str, *args: str) -> None:
        from engine.runtime.postgres_server import find_bin_dir

        binary = find_bin_dir(self._bin_dir) / program
        try:
            subprocess.run(
                [str(binary), *args], check=True, capture_output=True, text=True, timeout=3600
            )
        except subprocess.CalledProcessError as exc:
            said = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise BackupError(f"{program} failed: {said[-1] if said else exc}") from None


class ContainerTools:
    """The programs of the Docker runtime's PostgreSQL container, over its unix socket."""

    def __init__(self, settings: Settings) -> None:
        from engine.runtime.docker_runtime import DockerRuntime

        self._runtime = DockerRuntime(settings)
        self._user = settings.database.user

    def _target(self, conninfo: str) -> list[str]:
        from engine.runtime.docker_specs import POSTGRES_SOCKET_DIR

        dbname = str(conninfo_to_dict(conninfo).get("dbname") or "")
        return ["-h", POSTGRES_SOCKET_DIR, "-U", self._user, "-d", dbname]

    def dump(self, conninfo: str, snapshot: str, target: Path) -> None:
        argv = ["pg_dump", *DUMP_OPTIONS, f"--snapshot={snapshot}", *self._target(conninfo)]
        with target.open("wb") as out:
            done = self._runtime.postgres_to_file(argv, out)
        _check("pg_dump", done.exit_code, done.output)

    def restore(self, dump_file: Path, conninfo: str) -> None:
        argv = ["pg_restore", *RESTORE_OPTIONS, *self._target(conninfo)]
        with dump_file.open("rb") as source:
            done = self._runtime.postgres_from_file(argv, source)
        _check("pg_restore", done.exit_code, done.output)


def _check(program: str, exit_code: int, output: str) -> None:
    if exit_code != 0:
        said = output.strip().splitlines()
        raise BackupError(f"{program} failed: {said[-1] if said else f'exit code {exit_code}'}")
