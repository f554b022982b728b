"""Start claire's own Redis and PostgreSQL in a temporary home for one benchmark run."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from engine.runtime.local import LocalRuntime
from engine.settings import Settings
from engine.storage.migrations import apply_migrations


@dataclass(frozen=True)
class Servers:
    runtime: LocalRuntime
    home: Path

    @property
    def redis_url(self) -> str:
        return self.runtime.redis.url

    @contextmanager
    def database(self) -> Iterator[str]:
        """Yield the conninfo of a fresh migrated database; drop it afterwards."""
        name = f"bench_{uuid.uuid4().hex[:10]}"
        admin = self.runtime.postgres.conninfo("postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conninfo = self.runtime.postgres.conninfo(name)
        try:
            apply_migrations(conninfo)
            yield conninfo
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@contextmanager
def servers() -> Iterator[Servers]:
    home = Path(tempfile.mkdtemp(prefix="claire-bench-"))
    runtime = LocalRuntime(Settings(home=home))
    try:
        runtime.up()
        yield Servers(runtime, home)
    finally:
        runtime.down()
        shutil.rmtree(home, ignore_errors=True)
