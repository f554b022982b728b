"""Every stage SIGKILLed, again and again, during a 50,000-event replay over Redis.

The stages run as the Docker runtime runs them, a process each (`python -m engine serve
--role ...`), on servers of the test's own; the test plays Docker's restart policy. With
lockstep feeding, the run must lose nothing and double nothing: every event persisted once,
nothing dead-lettered, every order settled, the final portfolio what its trades add up to,
and the same trades, orders and final portfolio as the same replay in memory without a fault.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from engine.papertest import service
from engine.runtime.local import LocalRuntime
from engine.services.pipeline import STAGE_NAMES
from engine.settings import Settings
from tests.e2e.private import claire, ended, query_of
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MINUTES = 25_000  # x 2 symbols: 50,000 market events
START = datetime(2026, 1, 5, tzinfo=UTC)
ROLES = ("controller", *STAGE_NAMES)
KILL_EVERY_S = 4.0


@dataclass
class Stages:
    """The engine's processes, one per role, restarted when killed (as Docker would)."""

    home: Path
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)

    def start(self, role: str) -> None:
        env = {
            **os.environ,
            "CLAIRE_HOME": str(self.home),
            "CLAIRE_MONITOR_PORT": "0",
            "CLAIRE_REDIS_LOCKSTEP": "true",
        }
        with (self.logs / f"{role}.log").open("ab") as out:
            self.procs[role] = subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--role", role],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self, role: str) -> None:
        proc = self.procs[role]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.kills[role] = self.kills.get(role, 0) + 1
        self.start(role)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
            for p in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def stages(private: LocalRuntime, tmp_path: Path) -> Iterator[Stages]:
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Stages(private.paths.home, logs)
    for role in ROLES:
        running.start(role)
    try:
        yield running
    finally:
        running.stop()


def register(private: LocalRuntime, market: Path, speed: str) -> str:
    """Register a replay of `market` the way `claire papertest start` does."""
    settings = Settings(home=private.paths.home)
    parameters = service.make_parameters(
        duration="30d", capital="100000", symbols=",".join(SYMBOLS), source=f"replay:{market}",
        speed=speed, strategy="momentum", record=False, seed=42,
    )  # fmt: skip
    with service.connect(settings) as conn:
        return service.register(settings, parameters, conn, name=None).run_id


def outcome(query: Any, run_id: str) -> dict[str, Any]:
    """What a run ended with: its trades, orders, final portfolio (no ids: they name the run)."""
    trades = query(
        'SELECT symbol, side, quantity, execution_price, fees, "timestamp" FROM trades'
        ' WHERE run_id = %s ORDER BY "timestamp", symbol, side',
        run_id,
    )
    orders = query(
        "SELECT symbol, side, order_type, status, quantity, filled_quantity, ts_event"
        " FROM orders WHERE run_id = %s ORDER BY ts_event, symbol, side",
        run_id,
    )
    ((cash, equity, positions, realized, drawdown),) = query(
        "SELECT cash, equity, positions, realized_pnl, max_drawdown_pct FROM portfolio_snapshots"
        " WHERE run_id = %s AND event_id LIKE '%%-final'",
        run_id,
    )
    held = sorted((p["symbol"], str(p["quantity"])) for p in positions)
    return {"trades": trades, "orders": orders, "final": (cash, equity, held, realized, drawdown)}


def assert_adds_up(query: Any, run_id: str, faulted: dict[str, Any]) -> None:
    """Every order settled; the final portfolio is what the stored trades add up to."""
    settled = "SELECT COUNT(*) FROM orders WHERE run_id = %s AND status = ANY(%s)"
    assert query(settled, run_id, ["submitted", "accepted", "partially_filled"]) == [(0,)]
    cash, _, held, _, _ = faulted["final"]
    flows = sum(
        (q * p if side == "sell" else -(q * p)) - fee for _, side, q, p, fee, _ in faulted["trades"]
    )
    assert cash == (Decimal(100_000) + flows).quantize(Decimal("1e-18"))
    totals: dict[str, Decimal] = {}
    for symbol, side, q, *_ in faulted["trades"]:
        totals[symbol] = totals.get(symbol, Decimal(0)) + (q if side == "buy" else -q)
    assert {s: Decimal(q) for s, q in held} == {s: q for s, q in totals.items() if q != 0}


def test_stages_sigkilled_repeatedly_then_everything_once_and_the_portfolio_its_trades(
    private: LocalRuntime, stages: Stages, tmp_path: Path
) -> None:
    market = tmp_path / "market.csv"
    sent = write_market_file(
        market, synthetic_candles(SYMBOLS, START, MINUTES, seed=11), Layout.CANDLES
    )
    assert sent == 50_000
    query = query_of(private)
    run_id = register(private, market, speed="1000000")  # over Redis, as fast as lockstep goes

    def status() -> str:
        ((value,),) = query("SELECT status FROM runs WHERE run_id = %s", run_id)
        return str(value)

    stored = "SELECT COUNT(*) FROM candles WHERE source = %s"
    ((source,),) = query("SELECT data_source FROM runs WHERE run_id = %s", run_id)
    eventually(lambda: query(stored, source)[0][0] > 0, timeout=60, what="the first candles")
    victims = itertools.cycle(ROLES)
    while status() == "running" and min(stages.kills.values(), default=0) < 2:
        time.sleep(KILL_EVERY_S)
        if status() == "running":
            stages.kill(next(victims))
    how = ended(private, run_id, timeout=600)
    assert how == ("completed", "market data ran out"), stages.tail()
    assert min(stages.kills.get(role, 0) for role in ROLES) >= 2, stages.kills
    epochs = query("SELECT parameters->>'epoch' FROM runs WHERE run_id = %s", run_id)[0][0]
    stages.stop()

    # Everything sent was persisted once, nothing was dead-lettered.
    ((rows, distinct),) = query(
        "SELECT COUNT(*), COUNT(DISTINCT (symbol, open_time)) FROM candles WHERE source = %s",
        source,
    )
    letters = query("SELECT stream, group_name, error FROM dead_letters")
    assert rows + len(letters) == sent, (rows, letters[:5])
    assert rows == distinct == sent
    ((snapshots, minutes),) = query(
        'SELECT COUNT(*), COUNT(DISTINCT "timestamp") FROM portfolio_snapshots'
        " WHERE run_id = %s AND event_id LIKE '%%-minute'",
        run_id,
    )
    assert snapshots == minutes == MINUTES
    faulted = outcome(query, run_id)
    assert faulted["trades"], "the replay should trade"
    assert_adds_up(query, run_id, faulted)

    # The same replay in memory, no fault: lockstep makes the faulted run decide as this one.
    started = claire(
        "papertest", "start", "--duration", "30d", "--source", f"replay:{market}",
        "--speed", "max", "--symbols", ",".join(SYMBOLS), "--no-backup", "--foreground",
    )  # fmt: skip
    ((clean_id,),) = query("SELECT run_id FROM runs WHERE run_id <> %s", run_id)
    assert ended(private, clean_id, timeout=600)[0] == "completed", started.output
    clean = outcome(query, clean_id)
    same = sum(a == b for a, b in zip(faulted["trades"], clean["trades"], strict=False))
    print(
        f"faulted run ({epochs} epochs, kills {stages.kills}) vs clean run:"
        f" {same} of {len(clean['trades'])} trades equal in order"
    )
    assert faulted["trades"] == clean["trades"]
    assert faulted["orders"] == clean["orders"]
    assert faulted["final"] == clean["final"]
