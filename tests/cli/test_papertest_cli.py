"""`claire papertest` end to end: the engine runs as its own background process against the
suite's real Redis and PostgreSQL, driven from separate `claire` invocations."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from engine.runs.launcher import pid_file
from engine.runtime.processes import read_pid
from tests.support import claire, eventually

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
SYMBOLS = "BTCUSDT,ETHUSDT"


def status(run_id: str) -> dict[str, Any]:
    return json.loads(claire("papertest", "status", run_id, "--json").stdout)


def ended(run_id: str) -> dict[str, Any]:
    """Wait for the run to end by itself; return its final status."""
    return eventually(
        lambda: (s := status(run_id))["status"] != "running" and s,
        timeout=90,
        what="the run to end",
    )


def start(*args: str) -> str:
    started = json.loads(claire("papertest", "start", "--symbols", SYMBOLS, "--json", *args).stdout)
    return str(started["run_id"])


def scalar(db: Db, query: str, *params: object) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def test_replay_at_full_speed_finishes_by_itself_with_a_report_from_the_database(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    market = tmp_path / "market.parquet"
    candles = synthetic_candles(
        ("BTCUSDT", "ETHUSDT"), datetime(2026, 1, 5, tzinfo=UTC), 300, seed=7
    )
    write_market_file(market, candles, Layout.CANDLES)

    run_id = start("--duration", "2h", "--source", f"replay:{market}", "--speed", "max")
    done = ended(run_id)

    assert done["status"] == "completed"
    assert done["end_reason"] == "planned end reached"
    [backup] = list((tmp_path / "backups").glob("*-before-papertest"))  # taken before the start
    assert (backup / "manifest.json").exists()
    written = runtime_home / "reports" / run_id / "report.json"
    eventually(written.exists, timeout=30, what="the report written at the end")
    report = json.loads(written.read_text())
    equity = scalar(
        db,
        "SELECT equity FROM portfolio_snapshots WHERE run_id = %s "
        'ORDER BY "timestamp" DESC, sequence DESC LIMIT 1',
        run_id,
    )
    assert Decimal(report["performance"]["final_equity"]) == equity
    assert Decimal(report["performance"]["total_return"]) == equity / Decimal(100_000) - 1
    assert report["trades"]["fills"] == scalar(
        db, "SELECT COUNT(*) FROM trades WHERE run_id = %s", run_id
    )
    assert Decimal(report["trades"]["fees"]) == scalar(
        db, "SELECT SUM(fees) FROM trades WHERE run_id = %s", run_id
    )
    assert report["trades"]["fills"] > 0
    assert Decimal(report["trades"]["fees"]) > 0
    # 2 h of event time: the last snapshot is two hours after the first candle closed.
    assert report["performance"]["elapsed"] <= 7200

    # Exported for analysis elsewhere: every trade, decimals exact.
    claire("papertest", "export", run_id, "--format", "csv", "--out", str(tmp_path / "csv"))
    claire("papertest", "export", run_id, "--format", "parquet", "--out", str(tmp_path / "pq"))
    lines = (tmp_path / "csv" / "trades.csv").read_text().splitlines()
    assert len(lines) == 1 + report["trades"]["fills"]
    trades = pq.read_table(tmp_path / "pq" / "trades.parquet").to_pylist()
    assert sum(t["fees"] for t in trades) == Decimal(report["trades"]["fees"])

    # Written again on request: the same bytes.
    again = tmp_path / "again"
    claire("papertest", "report", run_id, "--out", str(again))
    for name in ("report.html", "report.json", "report.md", "equity.png"):
        assert (again / name).read_bytes() == (
            runtime_home / "reports" / run_id / name
        ).read_bytes(), name


def test_synthetic_in_real_time_then_status_stop_and_report_from_other_terminals(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    run_id = start("--duration", "2h", "--source", "synthetic", "--speed", "60", "--name", "rt")
    eventually(lambda: status(run_id)["last_event_time"] is not None, timeout=60, what="data")

    running = status(run_id)
    assert running["engine"] == "running"
    assert running["status"] == "running"
    # The run's control state names the engine process that holds it, and its heartbeat.
    assert running["held_by"].endswith(f" pid {read_pid(pid_file(runtime_home, run_id))}")
    assert 0 <= running["heartbeat_age"] < 10
    listed = json.loads(claire("papertest", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == [run_id]

    claire("papertest", "stop", run_id, "--reason", "enough for today")
    stopped = status(run_id)
    assert stopped["status"] == "stopped"
    assert stopped["end_reason"] == "enough for today"

    written = claire("papertest", "report", run_id, "--out", str(tmp_path), "--format", "html,json")
    assert "verdict:" in written.stdout
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") == 3


def test_engine_killed_then_status_says_crashed_and_resume_keeps_positions(
    db: Db, runtime_home: Path
) -> None:
    run_id = start("--duration", "6h", "--source", "synthetic", "--speed", "120", "--seed", "7")
    eventually(
        lambda: scalar(db, "SELECT COUNT(*) FROM trades WHERE run_id = %s", run_id) > 0,
        timeout=90,
        what="a first fill",
    )
    pid = read_pid(pid_file(runtime_home, run_id))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: status(run_id)["engine"] == "crashed", timeout=30, what="crashed")
    before = scalar(db, "SELECT MAX(sequence) FROM portfolio_snapshots WHERE run_id = %s", run_id)
    trades_before = scalar(db, "SELECT COUNT(*) FROM trades WHERE run_id = %s", run_id)

    claire("papertest", "resume", run_id)
    eventually(
        lambda: (
            scalar(db, "SELECT MAX(sequence) FROM portfolio_snapshots WHERE run_id = %s", run_id)
            > before + 5
        ),
        timeout=60,
        what="snapshots after the resume",
    )
    claire("papertest", "stop", run_id)

    # Every snapshot after the resume holds exactly what the fills up to it add up to.
    rows = db.execute(
        'SELECT "timestamp", positions FROM portfolio_snapshots WHERE run_id = %s AND sequence > %s'
        " ORDER BY sequence",
        (run_id, before),
    ).fetchall()
    for at, positions in rows:
        held = dict(
            db.execute(
                "SELECT symbol, SUM(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) "
                'FROM trades WHERE run_id = %s AND "timestamp" <= %s GROUP BY symbol',
                (run_id, at),
            ).fetchall()
        )
        snapshot = {p["symbol"]: Decimal(str(p["quantity"])) for p in positions}
        assert snapshot == {s: q for s, q in held.items() if q != 0}, at
    assert (
        scalar(
            db, "SELECT COUNT(*) - COUNT(DISTINCT trade_id) FROM trades WHERE run_id = %s", run_id
        )
        == 0
    )
    assert trades_before > 0
    assert (
        scalar(
            db,
            "SELECT COUNT(*) FROM portfolio_snapshots"
            " WHERE run_id = %s AND equity <> cash + positions_value",
            run_id,
        )
        == 0
    )


def test_recorded_data_paced_over_redis_then_trades_in_market_time(tmp_path: Path, db: Db) -> None:
    # Old data at 600x: the stages tick with the data's own time, so the circuit breaker
    # does not find every historical price stale against the wall clock.
    market = tmp_path / "market.csv"
    start_at = datetime(2026, 1, 5, tzinfo=UTC)
    write_market_file(
        market, synthetic_candles(("BTCUSDT", "ETHUSDT"), start_at, 200, seed=7), Layout.CANDLES
    )

    run_id = start("--duration", "3h", "--source", f"replay:{market}", "--speed", "600")
    done = ended(run_id)

    assert done["status"] == "completed"
    assert done["fills"] > 0
    stale = scalar(
        db, "SELECT COUNT(*) FROM alerts WHERE run_id = %s AND code = 'market_data_stale'", run_id
    )
    assert stale == 0


@pytest.mark.parametrize("speed", ["max", "6000"], ids=["in memory", "over Redis"])
def test_the_strategy_given_at_start_is_the_one_that_trades(db: Db, speed: str) -> None:
    """`--strategy` names the strategy the engine runs, not only the one the run records
    (the configured CLAIRE_PAPERTEST_STRATEGY is momentum here)."""
    path = "tests.unit.test_strategy_registry:BuyEveryCandle"
    run_id = start(
        "--duration", "1h", "--source", "synthetic", "--speed", speed, "--strategy", path
    )
    assert ended(run_id)["status"] in ("completed", "aborted")

    codes = db.execute(
        "SELECT DISTINCT strategy FROM signals WHERE run_id = %s", (run_id,)
    ).fetchall()
    signals = scalar(db, "SELECT COUNT(*) FROM signals WHERE run_id = %s", run_id)
    assert codes == [("buy-every-candle",)]
    assert signals >= 50  # a buy on (nearly) every one of the hour's 2 x 60 candles


def test_a_strategy_parameter_given_at_start_is_what_the_engine_trades_with(
    db: Db, runtime_home: Path
) -> None:
    """`--param entry_threshold=99%`: momentum never enters (a 99 % rise in 15 minutes), so
    the run has no signal, and the run and its report record the parameter."""
    run_id = start(
        "--duration", "6h", "--source", "synthetic", "--speed", "max",
        "--param", "entry_threshold=99%", "--param", "cooldown_minutes=30",
    )  # fmt: skip
    assert ended(run_id)["status"] == "completed"
    assert scalar(db, "SELECT COUNT(*) FROM signals WHERE run_id = %s", run_id) == 0
    recorded = scalar(
        db, "SELECT parameters->'strategy_params' FROM runs WHERE run_id = %s", run_id
    )
    assert recorded == {"cooldown_minutes": "30", "entry_threshold": "99%"}
    written = runtime_home / "reports" / run_id / "report.json"  # the engine writes it last
    eventually(written.exists, timeout=30, what="the run's report")
    report = json.loads(written.read_text())
    assert report["run"]["parameters"]["strategy_params"] == recorded

    default = start("--duration", "6h", "--source", "synthetic", "--speed", "max")
    assert ended(default)["status"] == "completed"
    assert scalar(db, "SELECT COUNT(*) FROM signals WHERE run_id = %s", default) > 0


def test_a_wrong_strategy_parameter_is_one_line_and_nothing_starts(db: Db) -> None:
    refused = claire(
        "papertest", "start", "--duration", "1h", "--source", "synthetic",
        "--param", "lookback_minutes=0", expect=1,
    )  # fmt: skip
    assert (
        "strategy momentum parameter lookback_minutes=0: Input should be greater than or"
        " equal to 1 (allowed: >= 1, <= 1440)" in " ".join(refused.output.split())
    )
    assert "Traceback" not in refused.output
    assert scalar(db, "SELECT COUNT(*) FROM runs") == 0
    unparsed = claire("papertest", "start", "--param", "lookback", expect=1)
    assert "'lookback' is not key=value" in unparsed.output


def test_a_strategy_that_keeps_raising_is_halted_and_the_run_ends_with_that_reason(
    db: Db,
) -> None:
    path = "tests.unit.test_strategy_errors:RaisesAfterAnHour"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLAIRE_PAPERTEST_STRATEGY_ERROR_LIMIT", "5")
        run_id = start("--duration", "6h", "--source", "synthetic", "--speed", "max",
                       "--strategy", path)  # fmt: skip
    done = ended(run_id)
    assert done["status"] == "aborted"
    assert done["end_reason"].startswith(
        "strategy raises-after-an-hour halted after 5 exceptions in a row (the last: KeyError:"
    )
    assert "test_strategy_errors.py:" in done["end_reason"]  # the strategy's file and line
    codes = db.execute(
        "SELECT code, level, COUNT(*) FROM alerts WHERE run_id = %s AND code LIKE 'strategy%%'"
        " GROUP BY code, level ORDER BY code",
        (run_id,),
    ).fetchall()
    assert codes == [("strategy_error", "warning", 5), ("strategy_halted", "critical", 1)]
