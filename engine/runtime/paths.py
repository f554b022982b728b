"""The layout of claire's state directory (CLAIRE_HOME)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

#: The account PostgreSQL runs as when claire runs as root (initdb refuses root).
POSTGRES_ACCOUNT = "postgres"


def running_as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


@dataclass(frozen=True)
class StatePaths:
    """Where each server of the local runtime keeps its data, socket, pid file and log."""

    home: Path

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def redis_dir(self) -> Path:
        return self.home / "redis"

    @property
    def redis_conf(self) -> Path:
        return self.redis_dir / "redis.conf"

    @property
    def redis_pidfile(self) -> Path:
        return self.run_dir / "redis.pid"

    @property
    def redis_socket(self) -> Path:
        return self.run_dir / "redis.sock"

    @property
    def redis_log(self) -> Path:
        return self.logs_dir / "redis.log"

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def postgres_data(self) -> Path:
        return self.postgres_dir / "data"

    @property
    def postgres_socket_dir(self) -> Path:
        return self.postgres_dir / "run"

    @property
    def postgres_log(self) -> Path:
        return self.postgres_dir / "postgres.log"

    def prepare(self) -> None:
        """Create the directories, owner-only; PostgreSQL's owned by its account under root."""
        for directory in (self.home, self.run_dir, self.logs_dir, self.redis_dir):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        self.postgres_dir.mkdir(exist_ok=True)
        self.postgres_socket_dir.mkdir(exist_ok=True)
        self.postgres_dir.chmod(0o700)
        self.postgres_socket_dir.chmod(0o700)
        if running_as_root():
            self._share_with_postgres_account()

    def _share_with_postgres_account(self) -> None:
        try:
            account = pwd.getpwnam(POSTGRES_ACCOUNT)
        except KeyError:
            from engine.errors import MissingBinaryError

            raise MissingBinaryError("postgres (user account)", "postgresql") from None
        # The postgres account may pass through CLAIRE_HOME (group x) but read nothing else.
        shutil.chown(self.home, group=grp.getgrgid(account.pw_gid).gr_name)
        self.home.chmod(0o710)
        for path in (self.postgres_dir, *self.postgres_dir.rglob("*")):
            try:
                if not path.is_symlink() and path.stat().st_uid != account.pw_uid:
                    os.chown(path, account.pw_uid, account.pw_gid)
            except FileNotFoundError:
                continue  # a running server's temporary file, gone since the listing
