"""The golden replays: what a fixed candle file and a fixed tick file lead to, stored row by row,
must stay exactly what it was.

Each replay runs as a user runs it (`claire papertest start ... --speed max --foreground`);
then every row the run stored (its candles or ticks, signals, risk decisions, orders, order
results, trades, positions, snapshots, alerts, market gaps) is read back, the run's own id and
the wall-clock columns taken out, and hashed table by table. The hashes are committed in
`tests/golden/replays.json`: a faster engine must reproduce them exactly, and a change that
alters what a run decides shows here as the table whose rows changed.

The market files come from this module's own seeded walk (not the engine's synthetic source),
so a change to the engine cannot change its own test data. When a change of results is meant
(a new fill rule), `UPDATE_GOLDEN=1` writes the new hashes, to be committed with the
change and its reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.events import Candle, TradeTick
from engine.marketdata.files import Layout, write_market_file
from tests.support import claire

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
GOLDEN = Path(__file__).parents[1] / "golden" / "replays.json"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
MINUTE, SECOND = timedelta(minutes=1), timedelta(seconds=1)
FIRST_PRICE = {"BTCUSDT": 65_000, "ETHUSDT": 3_200}
#: Wall-clock columns (when a row was made, not what it says) and the run's own id.
UNSTABLE = frozenset({"ts_init", "updated_at", "created_at", "run_id"})
#: What a run decides and keeps, by its run id.
RUN_TABLES = (
    "signals",
    "risk_decisions",
    "orders",
    "order_results",
    "trades",
    "positions",
    "portfolio_snapshots",
    "alerts",
    "market_gaps",
)


def walk(seed: int, steps: int) -> Iterator[tuple[int, str, Decimal, float]]:
    """Yield (step, symbol, price, noise) for each symbol and step: whole cents walking with
    a drift that changes every 90 steps, so momentum rules find trends and reversals."""
    rng = random.Random(seed)
    cents = {s: FIRST_PRICE[s] * 100 for s in SYMBOLS}
    drift = dict.fromkeys(SYMBOLS, 0.0)
    for step in range(steps):
        for symbol in SYMBOLS:
            if step % 90 == 0:
                drift[symbol] = rng.choice((-0.0009, -0.0003, 0.0, 0.0003, 0.0009))
            move = drift[symbol] + rng.gauss(0, 0.0008)
            cents[symbol] = max(100, round(cents[symbol] * (1 + move)))
            yield step, symbol, Decimal(cents[symbol]) / 100, rng.random()


def candle_file(path: Path, minutes: int) -> None:
    """Recorded-looking 1-minute candles: opens apart from the previous close, wicks."""
    candles = []
    previous: dict[str, Decimal] = {}
    for step, symbol, close, noise in walk(7, minutes):
        opened = previous.get(symbol, close) * (1 + Decimal(round((noise - 0.5) * 8)) / 10_000)
        opened = opened.quantize(Decimal("0.01"))
        wick = (close * Decimal("0.0004") * Decimal(noise)).quantize(Decimal("0.01"))
        at = START + step * MINUTE
        candles.append(
            Candle(
                event_id=f"golden-{symbol}-{step}",
                ts_event=at + MINUTE,
                ts_init=at + MINUTE,
                source="golden",
                symbol=symbol,
                interval="1m",
                open_time=at,
                close_time=at + MINUTE,
                open=opened,
                high=max(opened, close) + wick,
                low=min(opened, close) - wick,
                close=close,
                volume=Decimal(round(5 + noise * 40, 3)),
                quote_volume=(Decimal(round(5 + noise * 40, 3)) * close).quantize(Decimal("0.01")),
            )
        )
        previous[symbol] = close
    write_market_file(path, candles, Layout.CANDLES)


def tick_file(path: Path, seconds: int) -> None:
    """One trade per symbol per second."""
    ticks = [
        TradeTick(
            event_id=f"golden-{symbol}-{step}",
            ts_event=START + step * SECOND,
            ts_init=START + step * SECOND,
            source="golden",
            symbol=symbol,
            price=price,
            quantity=Decimal(1 + round(noise * 499)) / 1000,
            side="buy" if noise < 0.5 else "sell",
        )
        for step, symbol, price, noise in walk(11, seconds)
    ]
    write_market_file(path, ticks, Layout.TRADES)


def replay(db: Db, path: Path, duration: str) -> tuple[str, str]:
    claire(
        "papertest", "start", "--duration", duration, "--source", f"replay:{path}",
        "--speed", "max", "--symbols", ",".join(SYMBOLS), "--foreground", "--no-backup",
    )  # fmt: skip
    ((run_id, status, source),) = db.execute(
        "SELECT run_id, status, data_source FROM runs ORDER BY started_at DESC LIMIT 1"
    ).fetchall()
    assert status == "completed"
    return str(run_id), str(source)


def plain(value: Any, run_id: str) -> Any:
    """A stored value as stable text: times in UTC, JSON with sorted keys, no run id."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str):
        return value.replace(run_id, "RUN")
    return str(value) if isinstance(value, Decimal) else value


def table_digest(
    db: Db, table: str, where: str, params: tuple[str, ...], run_id: str
) -> dict[str, Any]:
    columns = [
        name
        for (name,) in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY column_name",
            (table,),
        ).fetchall()
        if name not in UNSTABLE
    ]
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = db.execute(f"SELECT {quoted} FROM {table} WHERE {where}", params).fetchall()
    lines = sorted(json.dumps([plain(v, run_id) for v in row]) for row in rows)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return {"rows": len(lines), "sha256": digest}


def stored(db: Db, run_id: str, source: str, market_table: str) -> dict[str, Any]:
    digests = {
        market_table: table_digest(
            db, market_table, "source = %s OR source LIKE %s", (source, f"{source}.%"), run_id
        )
    }
    for table in RUN_TABLES:
        digests[table] = table_digest(db, table, "run_id = %s", (run_id,), run_id)
    return digests


def check(name: str, got: dict[str, Any]) -> None:
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden[name] = got
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n")
        return
    assert name in golden, f"no golden figures for {name}: run with UPDATE_GOLDEN=1"
    changed = {t: (golden[name].get(t), got[t]) for t in got if golden[name].get(t) != got[t]}
    assert not changed, f"{name}: stored rows changed (was, now): {changed}"


def test_candle_replay_stores_exactly_the_golden_rows(tmp_path: Path, db: Db) -> None:
    market = tmp_path / "golden-candles.csv"
    candle_file(market, minutes=2 * 1440)
    run_id, source = replay(db, market, "2d")
    got = stored(db, run_id, source, "candles")
    ((peak_rss_mb,),) = db.execute(
        "SELECT peak_rss_mb FROM run_control WHERE run_id = %s", (run_id,)
    ).fetchall()
    assert 20 < peak_rss_mb < 4096  # the engine records its own memory (the bench)
    assert got["trades"]["rows"] > 20, "the walk should make the default strategy trade"
    check("candles_2d", got)


def test_tick_replay_stores_exactly_the_golden_rows(
    tmp_path: Path, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIRE_MARKET_RECORD_TICKS", "true")  # the ticks themselves as well
    market = tmp_path / "golden-ticks.csv"
    tick_file(market, seconds=6 * 3600)
    run_id, source = replay(db, market, "6h")
    got = stored(db, run_id, source, "trade_ticks")
    assert got["trades"]["rows"] > 5, "the walk should make the default strategy trade"
    check("ticks_6h", got)
