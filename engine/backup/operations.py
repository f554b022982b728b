"""Create, verify and restore backups.

A backup is written into `<id>.partial/` (0700, files 0600: it holds secrets) and renamed to
`<id>/` only when complete. Verify restores it into a scratch database and compares every
table's row count and every file's sha256 with the manifest. Restore goes into a new
database, is verified there, brought to today's migrations (a backup an older claire made
gets the tables this one reads), and only then swapped in: a failure leaves the current one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from engine import __version__
from engine.backup import database
from engine.backup.errors import BackupCorruptError, BackupError, RestoreRefusedError
from engine.backup.manifest import DUMP, MANIFEST, SETTINGS_COPY, VERIFIED, Manifest, file_entry
from engine.backup.marker import record_backup_time
from engine.backup.store import PARTIAL, Backup, BackupStore
from engine.runtime.select import endpoints
from engine.settings import Settings
from engine.storage.migrations import apply_migrations


def _now() -> datetime:
    return datetime.now(UTC)


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40]


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def _active_runs(conninfo: str) -> list[dict[str, Any]]:
    """The papertests running now, oldest first (none when the database cannot tell)."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT run_id, name, started_at, group_id FROM runs WHERE status = 'running'"
                " ORDER BY started_at, run_id"
            ).fetchall()
    except psycopg.Error:
        return []
    return [
        {"run_id": run_id, "name": name, "started_at": started.isoformat(), "group_id": group}
        for run_id, name, started, group in rows
    ]


def create_backup(
    settings: Settings,
    *,
    out_dir: Path | None = None,
    label: str | None = None,
    env_file: Path | None = None,
) -> Backup:
    """Dump the database and copy the settings file into a new, complete backup."""
    store = BackupStore(out_dir or settings.backup_dir)
    _private_dir(store.directory)
    store.clean_partials()
    conninfo = endpoints(settings).database_conninfo
    created = _now()
    backup_id = f"{created:%Y%m%dT%H%M%S%fZ}" + (f"-{_slug(label)}" if label else "")
    partial = store.directory / f"{backup_id}{PARTIAL}"
    _private_dir(partial)
    try:
        counts, version = database.dump(settings, conninfo, partial / DUMP)
        files = [partial / DUMP]
        settings_file = env_file if env_file is not None else Path(".env")
        if settings_file.is_file():
            shutil.copyfile(settings_file, partial / SETTINGS_COPY)
            files.append(partial / SETTINGS_COPY)
        for path in files:
            path.chmod(0o600)
        running = _active_runs(conninfo)
        manifest = Manifest(
            backup_id=backup_id,
            created_at=created,
            claire_version=__version__,
            postgres_version=version,
            database=database.database_name(conninfo),
            tables=counts,
            files={path.name: file_entry(path) for path in files},
            label=label,
            active_run=running[0] if running else None,
            active_runs=running,
        )
        (partial / MANIFEST).write_text(manifest.to_json())
        (partial / MANIFEST).chmod(0o600)
        final = store.directory / backup_id
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    record_backup_time(endpoints(settings).redis_url, settings.redis.namespace, created)
    return Backup(final, manifest)


@dataclass(frozen=True)
class Verification:
    """What `verify` found."""

    backup_id: str
    ok: bool
    problems: list[str]
    verified_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "ok": self.ok,
            "problems": self.problems,
            "verified_at": self.verified_at.isoformat(),
        }


def check_files(backup: Backup) -> list[str]:
    """Return every file that is missing, truncated or altered, by name."""
    problems = []
    for name, expected in backup.manifest.files.items():
        path = backup.directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
            continue
        actual = file_entry(path)
        if actual.bytes < expected.bytes:
            problems.append(
                f"{name}: truncated ({actual.bytes} bytes, the manifest says {expected.bytes})"
            )
        elif actual.sha256 != expected.sha256:
            problems.append(f"{name}: altered (its sha256 differs from the manifest)")
    return problems


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    return [
        f"table {table}: {actual.get(table, 0)} rows restored, {rows} in the manifest"
        for table, rows in sorted(expected.items())
        if actual.get(table, 0) != rows
    ]


def verify_backup(settings: Settings, backup: Backup) -> Verification:
    """Restore into a scratch database, compare with the manifest, drop it, record the result."""
    problems = check_files(backup)
    if not problems:
        conninfo = endpoints(settings).database_conninfo
        try:
            with database.scratch_database(conninfo, "claire_verify") as scratch:
                database.restore(settings, backup.directory / DUMP, scratch)
                with psycopg.connect(scratch, autocommit=True) as conn:
                    problems = compare_counts(backup.manifest.tables, database.count_rows(conn))
        except BackupError as exc:
            problems = [f"{DUMP}: does not restore ({exc.message})"]
    result = Verification(backup.backup_id, not problems, problems, _now())
    (backup.directory / VERIFIED).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    os.chmod(backup.directory / VERIFIED, 0o600)
    return result


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    backup: Backup
    safety: Backup
    tables: dict[str, int]
    previous_database: str


def restore_backup(settings: Settings, backup: Backup, *, force: bool = False) -> Restored:
    """Replace claire's database with the backup's, safely (see the module docstring)."""
    problems = check_files(backup)
    if problems:
        raise BackupCorruptError(f"backup {backup.backup_id} is damaged: {'; '.join(problems)}")
    conninfo = endpoints(settings).database_conninfo
    running = _active_runs(conninfo)
    if running and not force:
        names = ", ".join(each["run_id"] for each in running)
        raise RestoreRefusedError(
            f"papertest {names} is running" if len(running) == 1 else f"{names} are running",
            hint="stop them first (claire papertest stop --all), or restore with --force",
        )
    safety = create_backup(settings, label=f"before-restore-{backup.backup_id}"[:60])
    current = database.database_name(conninfo)
    fresh = f"{current}_restore_{uuid.uuid4().hex[:8]}"
    database.create_database(conninfo, fresh)
    try:
        target = database.with_database(conninfo, fresh)
        database.restore(settings, backup.directory / DUMP, target)
        with psycopg.connect(target, autocommit=True) as conn:
            counts = database.count_rows(conn)
        problems = compare_counts(backup.manifest.tables, counts)
        if problems:
            raise BackupCorruptError(f"the restored database differs: {'; '.join(problems)}")
        apply_migrations(target)  # a backup made by an older claire gets today's tables
    except BaseException:
        database.drop_database(conninfo, fresh)
        raise
    keep_as = f"{current}_before_{uuid.uuid4().hex[:8]}"
    database.swap_databases(conninfo, current, fresh, keep_as)
    return Restored(backup, safety, counts, keep_as)
