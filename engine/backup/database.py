"""pg_dump and pg_restore of claire's database, and the row counts that prove a restore.

The dump and the counts come from one snapshot (`pg_export_snapshot`), so a backup taken
while a papertest writes still verifies: the counts are exactly what the dump holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.backup.errors import BackupError
from engine.backup.tools import postgres_tools
from engine.settings import Settings


def _tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Every table of the public schema (claire's and any a migration added)."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    return [str(r[0]) for r in rows]


def count_rows(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Return the number of rows of every table."""
    counts: dict[str, int] = {}
    for table in _tables(conn):
        row = conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table)))
        found = row.fetchone()
        counts[table] = int(found[0]) if found else 0
    return counts


def database_name(conninfo: str) -> str:
    return str(conninfo_to_dict(conninfo).get("dbname") or "")


def with_database(conninfo: str, name: str) -> str:
    return make_conninfo(conninfo, dbname=name)


def dump(settings: Settings, conninfo: str, target: Path) -> tuple[dict[str, int], str]:
    """Dump the database into `target` (custom format); return row counts and server version."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
        version = conn.execute("SHOW server_version").fetchone()
        if snapshot is None or version is None:
            raise BackupError("PostgreSQL did not export a snapshot")
        counts = count_rows(conn)
        postgres_tools(settings).dump(conninfo, str(snapshot[0]), target)
        conn.rollback()
    return counts, str(version[0])


def restore(settings: Settings, dump_file: Path, conninfo: str) -> None:
    """Restore a dump into the (empty) database `conninfo` names."""
    postgres_tools(settings).restore(dump_file, conninfo)


@contextmanager
def scratch_database(conninfo: str, prefix: str) -> Iterator[str]:
    """Create an empty database for the block; drop it afterwards. Yield its conninfo."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    create_database(conninfo, name)
    try:
        yield with_database(conninfo, name)
    finally:
        drop_database(conninfo, name)


def _maintenance(conninfo: str) -> psycopg.Connection[Any]:
    return psycopg.connect(with_database(conninfo, "postgres"), autocommit=True)


def create_database(conninfo: str, name: str) -> None:
    with _maintenance(conninfo) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def drop_database(conninfo: str, name: str) -> None:
    with _maintenance(conninfo) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def swap_databases(conninfo: str, current: str, replacement: str, keep_as: str) -> None:
    """Rename `current` to `keep_as` and `replacement` to `current` (others disconnected)."""
    with _maintenance(conninfo) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (current,),
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(current), sql.Identifier(keep_as)
            )
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(replacement), sql.Identifier(current)
            )
        )
