"""The three example strategies as a user runs them from a fresh clone:
`claire papertest start --strategy examples.strategies.NAME:Class --param ... --source
replay:FILE --speed max --foreground`, each to its report, which shows the strategy's
parameters; what each asked for (limit orders, sizes, partial exits) is stored as asked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from tests.support import claire

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = datetime(2026, 3, 2, tzinfo=UTC)

EXAMPLES = [
    (
        "examples.strategies.ema_cross:EmaCross",
        ("fast=8", "slow=21"),
        "ema-cross",
        timedelta(minutes=15 * 21),
    ),
    (
        "examples.strategies.rsi_reversion:RsiReversion",
        ("oversold=35", "equity_fraction=0.03"),
        "rsi-reversion",
        timedelta(minutes=5 * 15),
    ),
    (
        "examples.strategies.bollinger_breakout:BollingerBreakout",
        ("quote_amount=2500",),
        "bollinger-breakout",
        timedelta(minutes=15 * 20),
    ),
]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("examples") / "two_days.parquet"
    write_market_file(path, synthetic_candles(SYMBOLS, START, 2 * 1440, seed=11), Layout.CANDLES)
    return path


def replay(db: Db, home: Path, strategy: str, params: tuple[str, ...], market: Path) -> Any:
    given = [arg for param in params for arg in ("--param", param)]
    claire(
        "papertest", "start", "--strategy", strategy, *given, "--duration", "2d",
        "--source", f"replay:{market}", "--speed", "max", "--symbols", ",".join(SYMBOLS),
        "--foreground", "--no-backup",
    )  # fmt: skip
    ((run_id,),) = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")
    report = json.loads((home / "reports" / str(run_id) / "report.json").read_text())
    return str(run_id), report


@pytest.mark.parametrize(
    ("strategy", "params", "name", "warmup"), EXAMPLES, ids=[e[2] for e in EXAMPLES]
)
def test_each_example_runs_to_its_report_with_its_parameters(
    db: Db,
    runtime_home: Path,
    market: Path,
    strategy: str,
    params: tuple[str, ...],
    name: str,
    warmup: timedelta,
) -> None:
    run_id, report = replay(db, runtime_home, strategy, params, market)

    assert report["run"]["status"] == "completed"
    assert report["run"]["parameters"]["strategy"] == strategy
    shown = report["assumptions"]["strategy"]
    for param in params:
        key, value = param.split("=")
        assert f"{key} {value}" in shown  # the given values, among every parameter's
    markdown = (runtime_home / "reports" / run_id / "report.md").read_text()
    assert f"strategy.{params[0].split('=')[0]}" in markdown  # in the run's settings too
    codes = db.execute("SELECT DISTINCT strategy FROM signals WHERE run_id = %s", (run_id,))
    assert codes.fetchall() == [(name,)]
    assert report["trades"]["round_trips"] > 0
    # The file's first rows were the strategy's warm-up: nothing traded on them.
    first_signal = db.execute("SELECT MIN(ts_event) FROM signals WHERE run_id = %s", (run_id,))
    assert first_signal.fetchone()[0] >= START + warmup  # type: ignore[index]
    assert datetime.fromisoformat(report["run"]["event_start"]) >= START + warmup


def test_what_the_examples_asked_for_is_stored_and_reported_as_asked(
    db: Db, runtime_home: Path, market: Path
) -> None:
    strategy, params, _, _ = EXAMPLES[1]
    run_id, report = replay(db, runtime_home, strategy, params, market)

    asked = db.execute(
        "SELECT s.side, s.order_type, s.time_in_force, s.equity_fraction, s.close_fraction,"
        " o.order_type, o.price, s.limit_price, o.time_in_force, o.expires_at, s.expires_at"
        " FROM signals s JOIN orders o ON o.signal_id = s.event_id WHERE s.run_id = %s",
        (run_id,),
    ).fetchall()
    bids = [row for row in asked if row[0] == "buy"]
    offers = [row for row in asked if row[0] == "sell" and row[1] == "limit"]
    assert bids
    assert offers
    for _, kind, tif, share, _, order_kind, price, limit, order_tif, expiry, asked_expiry in bids:
        assert (kind, tif, share, order_kind, order_tif) == (
            "limit", "gtd", Decimal("0.03"), "limit", "gtd",
        )  # fmt: skip
        assert price == limit
        assert expiry == asked_expiry
    assert all(row[4] == Decimal("0.5") and row[8] == "gtc" for row in offers)
    by_type = report["execution"]["by_type"]
    assert set(by_type) == {"limit", "market"}
    statuses = db.execute(
        "SELECT order_type, status, COUNT(*) FROM orders WHERE run_id = %s"
        " GROUP BY order_type, status",
        (run_id,),
    ).fetchall()
    assert {(k, s): n for k, s, n in statuses} == {
        (k, s): n for k, counts in by_type.items() for s, n in counts.items()
    }
    markdown = (runtime_home / "reports" / run_id / "report.md").read_text()
    assert "Limit orders" in markdown


def test_an_example_killed_mid_run_and_resumed_then_the_signals_and_trades_of_an_unbroken_run(
    db: Db, runtime_home: Path, tmp_path: Path
) -> None:
    """The engine killed (SIGKILL) while RsiReversion replays a week at full speed; `claire
    papertest resume`; the run then ends by itself. Its signals and trades are the ones an
    unbroken run of the same recording gives: the strategy's bars, RSI and resting limit
    orders were rebuilt from the history the resume played first. (Both in memory: over
    Redis, a signal may meet the other symbol's candle of the same minute before risk sizes
    it, where in memory it does not; the sizes then differ in the last digits.)"""
    import os
    import signal

    from engine.runs.launcher import pid_file
    from engine.runtime.processes import read_pid
    from tests.support import eventually

    path = tmp_path / "one_week.parquet"
    write_market_file(path, synthetic_candles(SYMBOLS, START, 7 * 1440, seed=11), Layout.CANDLES)
    strategy, params, _, _ = EXAMPLES[1]
    given = [arg for param in params for arg in ("--param", param)]
    common = [
        "--strategy", strategy, *given, "--duration", "7d", "--source", f"replay:{path}",
        "--speed", "max", "--symbols", ",".join(SYMBOLS), "--no-backup",
    ]  # fmt: skip

    def signals(run_id: object) -> list[tuple[object, ...]]:
        return db.execute(
            "SELECT symbol, side, ts_event, order_type, limit_price, time_in_force, expires_at,"
            " equity_fraction, close_fraction, reason FROM signals WHERE run_id = %s"
            " ORDER BY ts_event, symbol, side",
            (run_id,),
        ).fetchall()

    def trades(run_id: object) -> list[tuple[object, ...]]:
        return db.execute(
            'SELECT "timestamp", symbol, side, quantity, execution_price, fees FROM trades'
            ' WHERE run_id = %s ORDER BY "timestamp", symbol, side',
            (run_id,),
        ).fetchall()

    started = json.loads(claire("papertest", "start", *common, "--json").stdout)
    broken = str(started["run_id"])
    eventually(lambda: len(trades(broken)) >= 2, timeout=90, what="two fills before the kill")
    pid = read_pid(pid_file(runtime_home, broken))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    status = lambda: json.loads(claire("papertest", "status", broken, "--json").stdout)  # noqa: E731
    eventually(lambda: status()["engine"] == "crashed", timeout=30, what="the crash seen")
    at_the_kill = len(trades(broken))
    claire("papertest", "resume", broken)
    eventually(lambda: status()["status"] == "completed", timeout=120, what="the resumed end")
    assert status()["resumes"] == 1

    claire("papertest", "start", *common, "--foreground")
    ((unbroken,),) = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")

    assert len(trades(broken)) > at_the_kill  # the kill came before the end
    assert len(signals(unbroken)) >= 4
    assert signals(broken) == signals(unbroken)
    assert trades(broken) == trades(unbroken)
