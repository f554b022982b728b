"""The migration runner against the suite's real PostgreSQL."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import psycopg
import psycopg.types.json
import pytest

from engine.errors import MigrationError, StorageUnavailableError
from engine.runs import service
from engine.runtime.local import LocalRuntime
from engine.settings import Settings
from engine.storage import migrations as migrations_module
from engine.storage.migrations import (
    LOCK_KEY,
    Migration,
    apply_migrations,
    checksum,
    migration_files,
    migration_status,
)
from engine.storage.schema import TABLES
from tests.support import eventually

pytestmark = pytest.mark.integration

REPO_SQL = Path(__file__).resolve().parents[2] / "sql"

Row = tuple[object, ...]


@pytest.fixture
def empty_database(session_runtime: LocalRuntime, empty_database_name: str) -> str:
    """Return the conninfo of a new, empty (unmigrated) database."""
    return session_runtime.postgres.conninfo(empty_database_name)


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """A migrations directory holding a copy of the real 0001 (it creates schema_migrations)."""
    folder = tmp_path / "sql"
    folder.mkdir()
    shutil.copy(REPO_SQL / "0001_initial.sql", folder / "0001_initial.sql")
    return folder


def _recorded(conninfo: str) -> list[Row]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()


def _public_tables(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_migration_files_in_checkout_are_found_in_order() -> None:
    files = migration_files()

    assert files[0].filename == "0001_initial.sql"
    assert [m.version for m in files] == sorted({m.version for m in files})
    assert {Path(str(m.path)).parent for m in files} == {REPO_SQL}
    assert (
        files[0].checksum == hashlib.sha256((REPO_SQL / files[0].filename).read_bytes()).hexdigest()
    )


def test_checksum_counts_crlf_as_lf() -> None:
    assert checksum(b"SELECT 1;\r\nSELECT 2;\r\n") == checksum(b"SELECT 1;\nSELECT 2;\n")
    assert checksum(b"SELECT 1;\n") != checksum(b"SELECT 2;\n")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["1_initial.sql"], "1_initial.sql: a migration file must be named NNNN_name.sql"),
        (["0001_Initial.sql"], "0001_Initial.sql: a migration file must be named"),
        (["0000_zero.sql"], "0000_zero.sql: versions start at 0001"),
        (["0001_a.sql", "0001_b.sql"], "0001_b.sql: version 0001 is taken by 0001_a.sql"),
    ],
)
def test_migration_files_when_misnamed_then_refused(
    tmp_path: Path, names: list[str], message: str
) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;\n")

    with pytest.raises(MigrationError, match=message):
        migration_files(tmp_path)


def test_migration_files_ignore_other_files(migrations_dir: Path) -> None:
    (migrations_dir / "README.md").write_text("not a migration\n")

    assert [m.filename for m in migration_files(migrations_dir)] == ["0001_initial.sql"]


def test_migrate_fresh_database_applies_every_migration(empty_database: str) -> None:
    files = migration_files()

    applied = apply_migrations(empty_database)

    assert [m.filename for m in applied] == [m.filename for m in files]
    assert [(row[0], row[1], row[2]) for row in _recorded(empty_database)] == [
        (m.version, m.name, m.checksum) for m in files
    ]
    assert _public_tables(empty_database) == {table.name for table in TABLES}


def test_migrate_when_up_to_date_then_changes_nothing(database_conninfo: str) -> None:
    before = _recorded(database_conninfo)

    assert apply_migrations(database_conninfo) == []
    assert apply_migrations(database_conninfo) == []

    assert _recorded(database_conninfo) == before
    assert [row[0] for row in before] == [m.version for m in migration_files()]


def test_migrate_applies_only_a_new_file(empty_database: str, migrations_dir: Path) -> None:
    assert len(apply_migrations(empty_database, migrations=migration_files(migrations_dir))) == 1
    (migrations_dir / "0002_notes.sql").write_text("CREATE TABLE notes (body text NOT NULL);\n")

    applied = apply_migrations(empty_database, migrations=migration_files(migrations_dir))

    assert [m.filename for m in applied] == ["0002_notes.sql"]
    assert "notes" in _public_tables(empty_database)
    assert [row[:2] for row in _recorded(empty_database)] == [(1, "initial"), (2, "notes")]


def test_migrate_when_applied_migration_edited_then_refused(
    database_conninfo: str, db: psycopg.Connection[Row]
) -> None:
    db.execute("UPDATE schema_migrations SET checksum = %s WHERE version = 1", ("0" * 64,))

    with pytest.raises(MigrationError, match=r"0001_initial\.sql: edited after it was applied"):
        apply_migrations(database_conninfo)
    (first, *_) = migration_status(database_conninfo)
    assert first.problem is not None
    assert "edited" in first.problem


def test_migrate_when_database_has_unknown_migration_then_refused(
    database_conninfo: str, db: psycopg.Connection[Row]
) -> None:
    db.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', %s)",
        ("a" * 64,),
    )

    with pytest.raises(MigrationError, match=r"9999_future\.sql: applied to the database, but"):
        apply_migrations(database_conninfo)
    assert migration_status(database_conninfo)[-1].problem is not None


def test_migrate_when_older_file_appears_after_newer_applied_then_refused(
    empty_database: str, migrations_dir: Path
) -> None:
    (migrations_dir / "0003_later.sql").write_text("CREATE TABLE later (id int);\n")
    apply_migrations(empty_database, migrations=migration_files(migrations_dir))
    (migrations_dir / "0002_late.sql").write_text("CREATE TABLE late (id int);\n")

    with pytest.raises(MigrationError, match=r"0002_late\.sql is older than 0003_later\.sql"):
        apply_migrations(empty_database, migrations=migration_files(migrations_dir))


def test_migrate_when_sql_fails_then_error_names_file_and_nothing_is_applied(
    empty_database: str, migrations_dir: Path
) -> None:
    (migrations_dir / "0002_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT nothing FROM missing_table;\n"
    )

    with pytest.raises(MigrationError) as caught:
        apply_migrations(empty_database, migrations=migration_files(migrations_dir))

    assert caught.value.message == (
        '0002_broken.sql line 2 failed: relation "missing_table" does not exist'
    )
    # 0001 committed on its own; 0002 rolled back with its record.
    assert [row[0] for row in _recorded(empty_database)] == [1]
    assert "half_done" not in _public_tables(empty_database)


def test_migrate_when_first_file_lacks_schema_migrations_then_error_names_it(
    empty_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_bare.sql").write_text("CREATE TABLE bare (id int);\n")

    with pytest.raises(MigrationError) as caught:
        apply_migrations(empty_database, migrations=migration_files(tmp_path))

    assert caught.value.message == (
        '0001_bare.sql failed: relation "schema_migrations" does not exist'
    )
    assert "bare" not in _public_tables(empty_database)


def test_migration_status_lists_pending_then_applied(empty_database: str) -> None:
    files = migration_files()

    pending = migration_status(empty_database)
    apply_migrations(empty_database)
    applied = migration_status(empty_database)

    assert [(s.version, s.name, s.applied) for s in pending] == [
        (m.version, m.name, False) for m in files
    ]
    assert all(s.applied_at is not None and s.problem is None for s in applied)
    assert [s.version for s in applied] == [m.version for m in files]


def _waiting_for_lock(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def test_concurrent_runners_apply_each_migration_once(empty_database: str) -> None:
    runners = 3
    with (
        psycopg.connect(empty_database, autocommit=True) as holder,
        ThreadPoolExecutor(runners) as pool,
    ):
        # Hold the runners' lock so that all of them queue up before any can start.
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        futures = [pool.submit(apply_migrations, empty_database) for _ in range(runners)]
        eventually(lambda: _waiting_for_lock(empty_database) == runners, what="runners queued")
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        results: list[list[Migration]] = [future.result(timeout=60) for future in futures]

    assert sorted(len(result) for result in results) == [0] * (runners - 1) + [
        len(migration_files())
    ]
    assert len(_recorded(empty_database)) == len(migration_files())


def test_migrate_when_lock_held_too_long_then_refused(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations_module, "LOCK_TIMEOUT", "100ms")
    with psycopg.connect(empty_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))

        with pytest.raises(MigrationError, match="another claire has been applying migrations"):
            apply_migrations(empty_database)

    assert migration_status(empty_database)[0].applied is False


@pytest.mark.parametrize(
    "conninfo",
    [
        "host=127.0.0.1 port=1 dbname=claire user=claire password=s3cret-pw connect_timeout=2",
        "postgresql://claire:s3cret-pw@127.0.0.1:1/claire?connect_timeout=2",
    ],
)
def test_migrate_when_server_unreachable_then_unavailable_without_password(conninfo: str) -> None:
    with pytest.raises(StorageUnavailableError) as caught:
        apply_migrations(conninfo)

    message = caught.value.message
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1 (database claire): ")
    assert "Connection refused" in message
    assert "\n" not in message
    assert "s3cret" not in message
    assert "s3cret" not in (caught.value.hint or "")


def test_migrate_when_database_missing_then_unavailable(session_runtime: LocalRuntime) -> None:
    conninfo = session_runtime.postgres.conninfo(f"t_missing_{uuid.uuid4().hex[:8]}")

    with pytest.raises(
        StorageUnavailableError, match=r"FATAL: database \"t_missing_\w+\" does not"
    ):
        apply_migrations(conninfo)


def test_run_control_migration_moves_the_engine_notes_out_of_the_parameters(
    empty_database: str,
) -> None:
    """0007: a run registered before it keeps its epoch, engine start, monitor URL, stop
    request, figures, resumes and settings, now in columns; its parameters are the start
    parameters only."""
    files = migration_files()
    apply_migrations(empty_database, migrations=[m for m in files if m.version < 7])
    notes = {
        "duration": "1d",
        "capital": "1000",
        "epoch": 3,
        "engine_started_at": "2026-12-01T10:00:00+00:00",
        "monitor_url": "http://127.0.0.1:9101",
        "stop_requested": "2026-12-01T11:00:00+00:00",
        "stop_reason": "enough",
        "engine_stats": {"stages": {"risk": {"restarts": 2}}, "restarts": 2, "peak_rss_mb": 88.5},
        "resumes": [{"at": "2026-12-01T10:30:00+00:00", "from": "2026-11-30T00:05:00+00:00"}],
        "settings": {"quote_currency": "USDT"},
    }
    with psycopg.connect(empty_database, autocommit=True) as db:
        db.execute(
            "INSERT INTO runs (run_id, status, parameters, started_at, initial_capital)"
            " VALUES ('pt-old', 'running', %s, now(), 1000)",
            (psycopg.types.json.Jsonb(notes),),
        )

        apply_migrations(empty_database)

        control = db.execute(
            "SELECT epoch, engine_started_at::text, monitor_url, stop_requested_at IS NOT NULL,"
            " stop_reason, restarts, peak_rss_mb, stage_stats FROM run_control"
        ).fetchall()
        resumes = db.execute("SELECT resumed_at::text, from_event::text FROM run_resumes")
        parameters, settings = db.execute("SELECT parameters, settings FROM runs").fetchone() or ()
    assert control == [
        (
            3,
            "2026-12-01 10:00:00+00",
            "http://127.0.0.1:9101",
            True,
            "enough",
            2,
            Decimal("88.5"),
            {"risk": {"restarts": 2}},
        )
    ]
    assert resumes.fetchall() == [("2026-12-01 10:30:00+00", "2026-11-30 00:05:00+00")]
    assert parameters == {"duration": "1d", "capital": "1000"}
    assert settings == {"quote_currency": "USDT"}


def test_connect_applies_what_a_newer_claire_brings_to_servers_that_kept_running(
    settings: Settings, empty_database: str, empty_database_name: str
) -> None:
    """The servers answer (nothing to start), yet the database is older than the code: the
    connection every command opens comes with the new tables."""
    apply_migrations(empty_database, migrations=[m for m in migration_files() if m.version < 7])
    older = settings.model_copy(
        update={"database": settings.database.model_copy(update={"name": empty_database_name})}
    )
    said: list[str] = []

    with service.connect(older, starting=said.append) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        conn.execute("SELECT epoch FROM run_control")

    assert versions == [m.version for m in migration_files()]
    assert said == []  # nothing was started
