"""Backup figures: `claire backup` and its restore against bare pg_dump -Fc / pg_restore of the
same database (1,000,000 trade rows), measured in the same run.

Run alone: `python -m bench.backup`; `python -m bench.run` includes it.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.servers import Servers, servers
from engine.backup import database
from engine.backup.manifest import DUMP
from engine.backup.operations import create_backup, verify_backup
from engine.runtime.postgres_server import find_bin_dir
from engine.settings import BackupSettings, DatabaseSettings, Settings

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def fill_trades(conninfo: str, rows: int) -> None:
    """COPY `rows` trades into the database."""
    columns = (
        "order_id, trade_id, run_id, symbol, side, quantity, execution_price, reference_price,"
        " slippage_bps, fees, fee_currency, status, timestamp, event_id"
    )
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY trades ({columns}) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row(
                    (
                        f"o{i}",
                        f"t{i}",
                        "bench",
                        "BTCUSDT",
                        "buy",
                        "0.01",
                        "95010.5",
                        "95000",
                        "1.1",
                        "0.475",
                        "USDT",
                        "filled",
                        T0 + timedelta(seconds=i),
                        f"e{i}",
                    )
                )
        conn.commit()


def measure(srv: Servers, rows: int) -> dict[str, float]:
    """Seconds for: bare pg_dump, claire backup, bare pg_restore, claire verify's restore."""
    bin_dir = find_bin_dir(None)
    with srv.database() as conninfo, tempfile.TemporaryDirectory() as scratch:
        fill_trades(conninfo, rows)
        settings = Settings(
            home=srv.home,
            database=DatabaseSettings(name=database.database_name(conninfo)),
            backup=BackupSettings(dir=Path(scratch) / "backups"),
        )
        bare = Path(scratch) / "bare.dump"
        started = time.perf_counter()
        subprocess.run(
            [bin_dir / "pg_dump", "-Fc", f"--file={bare}", f"--dbname={conninfo}"], check=True
        )
        pg_dump_s = time.perf_counter() - started
        started = time.perf_counter()
        made = create_backup(settings)
        backup_s = time.perf_counter() - started
        with database.scratch_database(conninfo, "bench_restore") as target:
            started = time.perf_counter()
            subprocess.run([bin_dir / "pg_restore", f"--dbname={target}", str(bare)], check=True)
            pg_restore_s = time.perf_counter() - started
        with database.scratch_database(conninfo, "bench_restore") as target:
            started = time.perf_counter()
            database.restore(settings, made.directory / DUMP, target)
            restore_s = time.perf_counter() - started
        assert verify_backup(settings, made).ok
    return {
        "pg_dump": pg_dump_s,
        "backup": backup_s,
        "pg_restore": pg_restore_s,
        "restore": restore_s,
    }


def main() -> None:
    with servers() as srv:
        figures = measure(srv, 1_000_000)
    for name, seconds in figures.items():
        print(f"{name:<12} {seconds:6.2f} s")
    print(f"backup / pg_dump   {figures['backup'] / figures['pg_dump']:.2f}x (target <= 1.2x)")
    print(
        f"restore / pg_restore {figures['restore'] / figures['pg_restore']:.2f}x (target <= 1.2x)"
    )


if __name__ == "__main__":
    main()
