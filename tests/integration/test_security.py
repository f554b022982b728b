"""Where claire listens, who may read what it keeps, and SQL that text cannot change."""

from __future__ import annotations

import json
import stat
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import redis

from engine.runs.registry import Run, RunNotFoundError, RunParameters, RunRepository, utc_now
from engine.runtime.local import LocalRuntime
from tests.support import claire

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]
HOSTILE = "x'); DROP TABLE runs; --"
TABLES = {"runs", "orders", "trades", "candles", "portfolio_snapshots", "alerts", "dead_letters"}


def test_local_servers_listen_on_unix_sockets_only(session_runtime: LocalRuntime) -> None:
    with redis.Redis.from_url(session_runtime.redis.url) as client:
        assert client.config_get("port")["port"] == "0"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    with psycopg.connect(session_runtime.postgres.conninfo("postgres")) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("",)


def test_state_directory_and_its_servers_are_not_for_others(runtime_home: Path) -> None:
    for path in (runtime_home, runtime_home / "run", runtime_home / "logs", runtime_home / "redis"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path} is open to others ({mode:04o})"
    assert stat.S_IMODE((runtime_home / "postgres").stat().st_mode) & 0o077 == 0


def _tables(db: Db) -> set[str]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {str(r[0]) for r in rows}


@pytest.mark.usefixtures("claire_env")
def test_hostile_names_labels_and_symbols_are_text_never_sql(db: Db, tmp_path: Path) -> None:
    refused = claire(
        "papertest", "start", "--duration", "1h", "--source", "synthetic", "--speed", "max",
        "--symbols", f"BTCUSDT,{HOSTILE}", "--no-backup", expect=1,
    )  # fmt: skip
    assert "is not a symbol like BTCUSDT" in refused.output
    assert "Traceback" not in refused.output

    started = json.loads(
        claire(
            "papertest",
            "start",
            "--duration",
            "1h",
            "--source",
            "synthetic",
            "--speed",
            "max",
            "--symbols",
            "BTCUSDT",
            "--name",
            HOSTILE,
            "--no-backup",
            "--json",
        ).stdout
    )
    made = json.loads(claire("backup", "--label", HOSTILE, "--json").stdout)
    listed = json.loads(claire("papertest", "list", "--json").stdout)

    assert _tables(db) >= TABLES
    ((name,),) = db.execute(
        "SELECT name FROM runs WHERE run_id = %s", (started["run_id"],)
    ).fetchall()
    assert name == HOSTILE
    assert [r["name"] for r in listed] == [HOSTILE]
    manifest = json.loads((Path(made["path"]) / "manifest.json").read_text())
    assert manifest["label"] == HOSTILE
    assert Path(made["path"]).name.endswith("-x-drop-table-runs")  # the id keeps a slug only


@pytest.mark.parametrize("pattern", ["%", "_", "pt-_", "\\", "pt-%-x"])
def test_run_id_patterns_then_taken_literally(db: Db, pattern: str) -> None:
    now = utc_now()
    parameters = RunParameters("1d", Decimal(1000), ("BTCUSDT",), "synthetic", "max", "momentum")
    runs = RunRepository(db)
    for run_id in ("pt-a", "pt-b"):
        runs.create(
            Run(run_id, None, "running", parameters, None, None, None, now, None, None, None,
                Decimal(1000))
        )  # fmt: skip
        runs.finish(run_id, "completed", "done", now)
    with pytest.raises(RunNotFoundError, match="no papertest"):
        RunRepository(db).get(pattern)
    assert RunRepository(db).get("pt-a").run_id == "pt-a"
