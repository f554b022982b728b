"""Backups against the suite's real PostgreSQL: verify, corruption, restore, retention."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import psycopg.types.json
import pytest

from engine.backup import schedule
from engine.backup.errors import BackupCorruptError, RestoreRefusedError
from engine.backup.manifest import DUMP, MANIFEST, SETTINGS_COPY, Manifest
from engine.backup.operations import create_backup, restore_backup, verify_backup
from engine.backup.store import BackupStore
from engine.runs.registry import Run, RunParameters, RunRepository, utc_now
from engine.settings import BackupSettings, Settings
from engine.storage.event_writer import EventWriter
from tests.factories import candle, fill, order, snapshot

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"backup": BackupSettings(dir=tmp_path / "backups")})  # type: ignore[call-arg]


def fill_database(conninfo: str) -> None:
    with psycopg.connect(conninfo) as conn:
        EventWriter(conn, conninfo).write(
            [candle(i) for i in range(50)]
            + [order(f"o{i}") for i in range(5)]
            + [fill(f"o{i}") for i in range(5)]
            + [snapshot(i) for i in range(20)]
        )


def count(db: Db, table: str) -> int:
    row = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    assert row is not None
    return int(str(row[0]))


def test_backup_verify_delete_restore_then_every_row_back(
    settings: Settings, database_conninfo: str, db: Db, tmp_path: Path
) -> None:
    fill_database(database_conninfo)
    env_file = tmp_path / ".env"
    env_file.write_text("CLAIRE_RISK_MAX_POSITION=4%\n")
    made = create_backup(settings, env_file=env_file)
    assert made.manifest.tables["trades"] == 5
    assert verify_backup(settings, made).ok

    db.execute("DELETE FROM trades")
    db.execute("DELETE FROM candles")
    db.close()
    done = restore_backup(settings, made)

    with psycopg.connect(database_conninfo, autocommit=True) as fresh:
        assert count(fresh, "trades") == 5
        assert count(fresh, "candles") == 50
        assert count(fresh, "portfolio_snapshots") == 20
    assert done.safety.manifest.tables["trades"] == 0  # the safety backup holds the damage
    assert (made.directory / SETTINGS_COPY).read_text() == env_file.read_text()


def test_truncated_dump_and_altered_settings_then_verify_names_each(
    settings: Settings, database_conninfo: str, tmp_path: Path
) -> None:
    fill_database(database_conninfo)
    env_file = tmp_path / ".env"
    env_file.write_text("CLAIRE_RISK_MAX_POSITION=4%\n")
    made = create_backup(settings, env_file=env_file)
    dump = made.directory / DUMP
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    (made.directory / SETTINGS_COPY).write_text("CLAIRE_RISK_MAX_POSITION=40%\n")

    result = verify_backup(settings, made)

    assert not result.ok
    assert any(p.startswith(f"{DUMP}:") and "truncated" in p for p in result.problems)
    assert any(p.startswith(f"{SETTINGS_COPY}:") and "altered" in p for p in result.problems)
    with pytest.raises(BackupCorruptError, match="damaged"):
        restore_backup(settings, made)


def test_restore_refused_while_a_papertest_runs_unless_forced(settings: Settings, db: Db) -> None:
    made = create_backup(settings)
    now = utc_now()
    parameters = RunParameters("7d", Decimal(1000), ("BTCUSDT",), "synthetic", "max", "momentum")
    RunRepository(db).create(
        Run(
            "pt-live",
            None,
            "running",
            parameters,
            None,
            None,
            None,
            now,
            now + timedelta(days=7),
            None,
            None,
            Decimal(1000),
        )
    )
    with pytest.raises(RestoreRefusedError, match="pt-live is running"):
        restore_backup(settings, made)
    db.close()
    restore_backup(settings, made, force=True)


def test_files_are_owner_only_and_a_half_backup_is_not_one(settings: Settings) -> None:
    made = create_backup(settings)
    assert stat.S_IMODE(made.directory.stat().st_mode) == 0o700
    for path in made.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    crashed = settings.backup_dir / "20260101T000000000000Z.partial"
    crashed.mkdir()
    (crashed / MANIFEST).write_text(made.manifest.to_json())

    store = BackupStore(settings.backup_dir)
    assert [b.backup_id for b in store.all()] == [made.backup_id]
    assert store.clean_partials() == [crashed]


def test_prune_by_age_keeps_the_newest_good_backup(settings: Settings) -> None:
    store = BackupStore(settings.backup_dir)
    made = [create_backup(settings, label=f"b{i}") for i in range(4)]
    now = datetime.now(UTC)
    for backup, days in zip(made, (30, 20, 16, 15), strict=True):
        manifest = Manifest.read(backup.directory)
        aged = manifest.__class__(**{**vars(manifest), "created_at": now - timedelta(days=days)})
        (backup.directory / MANIFEST).write_text(aged.to_json())
    verify_backup(settings, store.all()[1])  # b1 (20 days) is the newest verified one

    doomed = store.prune(timedelta(days=14), now, dry_run=True)
    assert [b.manifest.label for b in doomed] == ["b0", "b2"]
    store.prune(timedelta(days=14), now)
    assert [b.manifest.label for b in store.all()] == ["b1", "b3"]


def test_schedule_entries_are_valid() -> None:
    command = "/usr/local/bin/claire"
    fields = schedule.cron_line("01:30", command).split()
    assert fields[:5] == ["30", "1", "*", "*", "*"]
    assert fields[5] == command
    units = schedule.systemd_units("01:00", command)
    timer = units["claire-backup.timer"]
    assert "OnCalendar=*-*-* 01:00:00" in timer
    assert "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    assert f"ExecStart={command} backup --quiet" in units["claire-backup.service"]
    analyzer = shutil.which("systemd-analyze")
    if analyzer is None:
        print("systemd-analyze is not installed here: the unit keys were checked by hand")
        return
    directory = Path(os.environ.get("TMPDIR", "/tmp")) / f"units-{os.getpid()}"
    directory.mkdir(exist_ok=True)
    for name, text in units.items():
        (directory / name).write_text(text.replace(command, "/bin/true"))
    checked = subprocess.run(
        [analyzer, "verify", str(directory / "claire-backup.timer")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "claire-backup" not in checked.stderr, checked.stderr


def test_restore_of_a_backup_an_older_claire_made_then_todays_tables_and_its_notes(
    settings: Settings, database_conninfo: str, db: Db
) -> None:
    """A backup from before 0007 (its run's engine notes in `runs.parameters`) restores
    with `run_control` holding them: the restored database gets today's migrations."""
    parameters = {"duration": "1d", "capital": "1000", "epoch": 4, "monitor_url": "http://x:1"}
    db.execute(
        "INSERT INTO runs (run_id, status, parameters, started_at, ended_at, initial_capital)"
        " VALUES ('pt-old', 'completed', %s, now(), now(), 1000)",
        (psycopg.types.json.Jsonb(parameters),),
    )
    db.execute(  # what 0008 added
        "ALTER TABLE signals DROP COLUMN order_type, DROP COLUMN limit_price,"
        " DROP COLUMN time_in_force, DROP COLUMN expires_at, DROP COLUMN equity_fraction,"
        " DROP COLUMN quote_amount, DROP COLUMN close_fraction"
    )
    db.execute("ALTER TABLE orders DROP COLUMN time_in_force")
    db.execute("DROP TABLE run_resumes, run_control")
    db.execute(
        "ALTER TABLE runs DROP COLUMN settings, DROP COLUMN group_id, DROP COLUMN group_index"
    )
    db.execute("DROP INDEX runs_running_idx")
    db.execute(  # what 0009 changed
        "DROP INDEX outages_one_per_start;"
        " ALTER TABLE outages ADD CONSTRAINT outages_one_per_start UNIQUE (component, began_at)"
    )
    db.execute("DELETE FROM schema_migrations WHERE version >= 7")
    made = create_backup(settings)
    db.close()

    restore_backup(settings, made)

    with psycopg.connect(database_conninfo, autocommit=True) as fresh:
        moved = fresh.execute("SELECT epoch, monitor_url FROM run_control").fetchall()
        (left,) = fresh.execute("SELECT parameters FROM runs").fetchone() or ()
    assert moved == [(4, "http://x:1")]
    assert left == {"duration": "1d", "capital": "1000"}
