"""The engine SIGKILLed again and again during a 50,000-event replay, restarted each time.

The engine runs as the Docker runtime runs it (`python -m engine serve`: the feed and every
stage in one process), on servers of the test's own; the test plays Docker's restart policy
and kills it at fixed points of the run's event time (after so many stored snapshots), not
of the wall clock. A run is the unit of restart: each start resumes from what PostgreSQL
holds, so the run must lose nothing and double nothing (every event persisted once, nothing
dead-lettered, every order settled, the final portfolio what its trades add up to), and end
with the same trades, orders and final portfolio as the same replay run once without a fault.
"""

from __future__ import annotations

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
from engine.runs import service
from engine.runtime.local import LocalRuntime
from engine.settings import Settings
from tests.e2e.private import claire, ended, query_of
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MINUTES = 25_000  # x 2 symbols: 50,000 market events
START = datetime(2026, 1, 5, tzinfo=UTC)
#: The engine is killed once the run has stored this share of its minute snapshots.
KILL_AT = (0.15, 0.35, 0.55, 0.75)


@dataclass
class Engine:
    """The engine container's process, restarted when killed (as Docker would)."""

    home: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0
    starts: list[float] = field(default_factory=list)

    def start(self) -> None:
        env = {**os.environ, "CLAIRE_HOME": str(self.home), "CLAIRE_MONITOR_PORT": "0"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                # named as an engine container is: each restart takes its run back at once
                [sys.executable, "-m", "engine", "serve", "--name", "engine-under-test"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts.append(time.monotonic())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.kills += 1
        self.start()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture
def engine(private: LocalRuntime, tmp_path: Path) -> Iterator[Engine]:
    running = Engine(private.paths.home, tmp_path / "engine.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def register(private: LocalRuntime, market: Path) -> str:
    """Register a full-speed replay of `market` the way `claire papertest start` does."""
    settings = Settings(home=private.paths.home)
    parameters = service.make_parameters(
        duration="30d", capital="100000", symbols=",".join(SYMBOLS), source=f"replay:{market}",
        speed="max", strategy="momentum", record=False, seed=42,
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


def test_engine_sigkilled_repeatedly_then_everything_once_and_the_same_run_as_unfaulted(
    private: LocalRuntime, engine: Engine, tmp_path: Path
) -> None:
    market = tmp_path / "market.csv"
    sent = write_market_file(
        market, synthetic_candles(SYMBOLS, START, MINUTES, seed=11), Layout.CANDLES
    )
    assert sent == 50_000
    query = query_of(private)
    run_id = register(private, market)
    minute_snapshots = (
        "SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s AND event_id LIKE '%%-minute'"
    )
    for share in KILL_AT:
        eventually(
            lambda share=share: query(minute_snapshots, run_id)[0][0] >= share * MINUTES,
            timeout=120,
            interval=0.05,
            what=f"{share:.0%} of the run stored",
        )
        engine.kill()
    how = ended(private, run_id, timeout=300)
    assert how == ("completed", "market data ran out"), engine.tail()
    assert engine.kills == len(KILL_AT)
    epochs = query("SELECT epoch FROM run_control WHERE run_id = %s", run_id)[0][0]
    assert int(epochs) == len(KILL_AT) + 1, engine.tail()  # every kill cut the run short
    engine.stop()

    # Everything sent was persisted once, nothing was dead-lettered.
    ((source,),) = query("SELECT data_source FROM runs WHERE run_id = %s", run_id)
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

    # The same replay once more, no fault.
    started = claire(
        "papertest", "start", "--duration", "30d", "--source", f"replay:{market}",
        "--speed", "max", "--symbols", ",".join(SYMBOLS), "--no-backup", "--foreground",
    )  # fmt: skip
    ((clean_id,),) = query("SELECT run_id FROM runs WHERE run_id <> %s", run_id)
    assert ended(private, clean_id, timeout=300)[0] == "completed", started.output
    clean = outcome(query, clean_id)
    print(
        f"faulted run ({epochs} epochs, {engine.kills} kills): {len(faulted['trades'])} trades,"
        f" clean run {len(clean['trades'])}"
    )
    assert faulted["trades"] == clean["trades"]
    assert faulted["orders"] == clean["orders"]
    assert faulted["final"] == clean["final"]
