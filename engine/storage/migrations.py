"""Forward-only SQL migrations: numbered files, applied in order, recorded with a checksum.

The files are `NNNN_name.sql`. An installed wheel carries them as package data in
`engine/sql/`; a checkout (or an editable install) reads the repository's `sql/`.
Each migration runs in its own transaction together with its row in `schema_migrations`,
under an advisory lock so two runners never apply the same migration. A migration edited
after it was applied is refused: add a new one instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, NamedTuple

import psycopg
from psycopg.rows import TupleRow

import engine
from engine.errors import MigrationError
from engine.storage.connection import (
    connect,
    describe_target,
    error_message,
    is_connection_lost,
    storage_errors,
    translate_error,
)
from engine.storage.schema import SCHEMA_MIGRATIONS

FILENAME: Final = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")
#: Advisory lock key held while migrating ("claire" in ASCII); locks are per database.
LOCK_KEY: Final = 0x636C61697265
#: How long to wait for another runner's lock, or for a table lock a migration needs.
LOCK_TIMEOUT: Final = "60s"
_UNKNOWN: Final = "applied to the database, but this version of claire has no such file"

Connection = psycopg.Connection[TupleRow]


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Traversable
    checksum: str
    sql: str = field(repr=False)

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class MigrationState:
    """One migration as the database sees it: applied (when) or pending, and any problem."""

    version: int
    name: str
    applied_at: datetime | None
    problem: str | None = None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "name": self.name,
            "applied": self.applied,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "problem": self.problem,
        }


class _AppliedRow(NamedTuple):
    version: int
    name: str
    checksum: str
    applied_at: datetime


def migrations_directory() -> Traversable:
    """Return the directory holding the migration files (package data first, then checkout)."""
    packaged = resources.files("engine") / "sql"
    if packaged.is_dir():
        return packaged
    checkout = Path(engine.__file__).resolve().parent.parent / "sql"
    if checkout.is_dir():
        return checkout
    raise MigrationError(
        "no migration files found: neither engine/sql (installed) nor sql/ (checkout) exists",
        hint="reinstall claire",
    )


def checksum(content: bytes) -> str:
    """Return the sha256 of a migration file; CRLF counts as LF (Windows checkouts)."""
    return hashlib.sha256(content.replace(b"\r\n", b"\n")).hexdigest()


def migration_files(directory: Traversable | None = None) -> list[Migration]:
    """Return the migrations in `directory` (default: `migrations_directory()`), in order.

    Files not ending in `.sql` are ignored; a misnamed `.sql` file or a repeated version
    number raises MigrationError.
    """
    folder = directory if directory is not None else migrations_directory()
    migrations: dict[int, Migration] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".sql") or not entry.is_file():
            continue
        match = FILENAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: a migration file must be named NNNN_name.sql")
        version = int(match["version"])
        if version == 0:
            raise MigrationError(f"{entry.name}: versions start at 0001")
        if version in migrations:
            raise MigrationError(
                f"{entry.name}: version {version:04d} is taken by {migrations[version].filename}"
            )
        content = entry.read_bytes()
        migrations[version] = Migration(
            version=version,
            name=match["name"],
            path=entry,
            checksum=checksum(content),
            sql=content.decode("utf-8"),
        )
    return [migrations[version] for version in sorted(migrations)]


def apply_migrations(
    conninfo: str, *, migrations: Sequence[Migration] | None = None
) -> list[Migration]:
    """Apply the pending migrations in order; return those applied ([] when up to date).

    Raises StorageUnavailableError when the database does not answer, and MigrationError
    when a migration fails, or an applied one no longer matches its file.
    """
    known = list(migrations) if migrations is not None else migration_files()
    applied: list[Migration] = []
    with (
        connect(conninfo, autocommit=True) as conn,
        storage_errors(conninfo),
        _migration_lock(conn, conninfo),
    ):
        for migration in _pending(known, _applied_rows(conn)):
            _apply_one(conn, conninfo, migration)
            applied.append(migration)
    return applied


def migration_status(
    conninfo: str, *, migrations: Sequence[Migration] | None = None
) -> list[MigrationState]:
    """Return every migration, known or recorded, with when it was applied (None: pending)."""
    known = {m.version: m for m in (migrations if migrations is not None else migration_files())}
    with connect(conninfo, autocommit=True) as conn, storage_errors(conninfo):
        rows = _applied_rows(conn)
    states = [
        MigrationState(
            version,
            migration.name,
            rows[version].applied_at if version in rows else None,
            _edited(migration, rows[version]) if version in rows else None,
        )
        for version, migration in known.items()
    ]
    states += [
        MigrationState(row.version, row.name, row.applied_at, _UNKNOWN)
        for row in rows.values()
        if row.version not in known
    ]
    return sorted(states, key=lambda state: state.version)


@contextmanager
def _migration_lock(conn: Connection, conninfo: str) -> Iterator[None]:
    # The session-wide lock_timeout also bounds waits for table locks during a migration.
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (LOCK_TIMEOUT,))
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    except psycopg.errors.LockNotAvailable as exc:
        raise MigrationError(
            f"another claire has been applying migrations to {describe_target(conninfo)} "
            f"for over {LOCK_TIMEOUT}",
            hint="wait for it to finish, then try again",
        ) from exc
    try:
        yield
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _applied_rows(conn: Connection) -> dict[int, _AppliedRow]:
    table = SCHEMA_MIGRATIONS.name
    (exists,) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone() or (False,)
    if not exists:  # a new database: 0001 creates the table
        return {}
    rows = conn.execute(
        f"SELECT version, name, checksum, applied_at FROM {table} ORDER BY version"
    ).fetchall()
    return {row[0]: _AppliedRow(*row) for row in rows}


def _pending(known: list[Migration], applied: dict[int, _AppliedRow]) -> list[Migration]:
    """Check the applied migrations against the files; return those still to apply."""
    by_version = {migration.version: migration for migration in known}
    for row in applied.values():
        migration = by_version.get(row.version)
        if migration is None:
            raise MigrationError(f"{_display(row)}: {_UNKNOWN}", hint="upgrade claire")
        problem = _edited(migration, row)
        if problem is not None:
            raise MigrationError(
                f"{migration.filename}: {problem}",
                hint="migrations are forward-only: restore the file and add a new migration",
            )
    pending = [migration for migration in known if migration.version not in applied]
    newest = max(applied, default=0)
    for migration in pending:
        if migration.version < newest:
            raise MigrationError(
                f"{migration.filename} is older than {_display(applied[newest])}, "
                "which is already applied",
                hint="renumber it after the newest applied migration",
            )
    return pending


def _apply_one(conn: Connection, conninfo: str, migration: Migration) -> None:
    where = ""
    try:
        with conn.transaction():
            try:
                # bytes: the file is SQL text, not a Python literal; no parameters are bound.
                conn.execute(migration.sql.encode("utf-8"))
            except psycopg.Error as exc:
                where = _where(migration, exc)
                raise
            conn.execute(
                f"INSERT INTO {SCHEMA_MIGRATIONS.name} (version, name, checksum) "
                "VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    except psycopg.Error as exc:
        if is_connection_lost(exc):
            raise translate_error(exc, conninfo) from exc
        raise MigrationError(
            f"{migration.filename}{where} failed: {error_message(exc, conninfo)}",
            hint="nothing of this migration was applied; fix it and run `claire db migrate`",
        ) from exc


def _where(migration: Migration, exc: psycopg.Error) -> str:
    """Return ` line N` for the error position the server reported, if any."""
    position = exc.diag.statement_position
    if not position or not position.isdigit():
        return ""
    return f" line {migration.sql[: int(position)].count(chr(10)) + 1}"


def _edited(migration: Migration, row: _AppliedRow) -> str | None:
    if migration.checksum == row.checksum:
        return None
    return (
        f"edited after it was applied on {row.applied_at:%Y-%m-%d %H:%M} "
        f"(checksum {row.checksum[:12]} recorded, {migration.checksum[:12]} now)"
    )


def _display(row: _AppliedRow) -> str:
    return f"{row.version:04d}_{row.name}.sql"
