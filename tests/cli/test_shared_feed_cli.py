"""Five live papertests on one MEXC feed: the stand-in counts its websocket connections and
REST requests with one run and with five, and every run gets the live market."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from engine.runtime.feed_process import feed_pid
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn
from tests.support import claire, eventually

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def start_live() -> str:
    started = claire(
        "papertest", "start", "--source", "mexc", "--duration", "1h",
        "--symbols", ",".join(SYMBOLS), "--no-backup", "--json",
    )  # fmt: skip
    return str(json.loads(started.stdout)["run_id"])


def asked_of(standin: MexcStandIn, now: datetime) -> tuple[int, int, int]:
    """Websocket connections, exchangeInfo requests and warm-up history requests (klines
    from more than 30 minutes back) the stand-in saw."""
    back = (now - timedelta(minutes=30)).timestamp() * 1000
    history = sum(1 for start in standin.kline_starts() if start is None or start < back)
    return standin.connection_count, standin.requests("/api/v3/exchangeInfo"), history


def runs_snapshotted(db: Db, runs: list[str]) -> int:
    """How many of `runs` stored a portfolio snapshot."""
    query = "SELECT COUNT(DISTINCT run_id) FROM portfolio_snapshots WHERE run_id = ANY(%s)"
    return int(scalar(db, query, runs))


def scalar(db: Db, query: str, *params: Any) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def test_five_live_runs_read_one_feed_and_the_exchange_sees_one_client(
    mexc_standin: MexcStandIn, monkeypatch: pytest.MonkeyPatch, db: Db, runtime_home: Any
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for symbol in SYMBOLS:
        mexc_standin.generate_klines(symbol, now - timedelta(hours=3), 180)
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    monkeypatch.setenv("CLAIRE_MEXC_WS_URL", mexc_standin.ws_url)

    first = start_live()
    eventually(lambda: mexc_standin.subscription_count >= 6, timeout=60, what="subscriptions")
    warmed = "SELECT COUNT(*) FROM candles WHERE source = 'mexc.history' AND symbol = %s"
    for symbol in SYMBOLS:
        eventually(lambda s=symbol: scalar(db, warmed, s) >= 100, timeout=60)  # type: ignore[misc]
    time.sleep(3)  # whatever one run costs the exchange at its start is done
    one_run = asked_of(mexc_standin, now)
    feed = feed_pid(runtime_home)
    assert feed is not None

    later = [start_live() for _ in range(4)]
    runs = [first, *later]
    statuses = [json.loads(claire("papertest", "status", r, "--json").stdout) for r in runs]
    assert {s["engine"] for s in statuses} == {"running"}

    # The live market reaches every run: the minute going on now, of both symbols, closes
    # after they started (the live source sends a candle when its minute is over), and a
    # quote after it moves event time on (a snapshot is taken when the candle's instant is
    # over; the engine holds live events 2 s of event time to put them in order: a second
    # quote 5 s later releases the first).
    opened = int(time.time()) // 60 * 60
    for symbol in SYMBOLS:
        mexc_standin.push_kline(symbol, opened, "95000", "95010", "95020", "94990")
    time.sleep(max(0.0, opened + 60 + 4 - time.time()))
    for symbol in SYMBOLS:
        for later_ms in (0, 5_000):
            ms = int(time.time() * 1000) + later_ms
            mexc_standin.push_book(symbol, "95009", "1", "95011", "1", ms)
    eventually(lambda: runs_snapshotted(db, runs) == 5, timeout=150,
               what="a snapshot of the live minute in every run")  # fmt: skip
    five_runs = asked_of(mexc_standin, now)
    # No new connection, no exchangeInfo and no warm-up history for runs 2 to 5 (the feed
    # back-fills a minute that closed without a kline by REST: one client's, whatever N).
    assert five_runs == one_run
    assert mexc_standin.open_connections == 1
    assert feed_pid(runtime_home) == feed  # one feed process all along

    claire("papertest", "stop", "--all")
    assert scalar(db, "SELECT COUNT(*) FROM runs WHERE status = 'stopped'") == 5
    # The warm-up is history: no run signalled on it (a live minute after its start may).
    early = (
        "SELECT COUNT(*) FROM signals s JOIN runs r USING (run_id)"
        " WHERE s.run_id = ANY(%s) AND s.ts_event < r.started_at"
    )
    assert scalar(db, early, runs) == 0


MATRIX = """
[[run]]
strategy = "momentum"

[[run]]
strategy = "momentum"
params = { lookback_minutes = 30 }

[[run]]
strategy = "examples.strategies.ema_cross:EmaCross"

[[run]]
strategy = "examples.strategies.rsi_reversion:RsiReversion"

[[run]]
strategy = "examples.strategies.bollinger_breakout:BollingerBreakout"
"""


def test_a_live_matrix_of_five_on_one_feed_each_reported_and_compared(
    mexc_standin: MexcStandIn,
    monkeypatch: pytest.MonkeyPatch,
    db: Db,
    runtime_home: Any,
    tmp_path: Any,
) -> None:
    """`--matrix` of five live runs: one group, one feed, one client at the exchange; each
    run ends with its own report, and the group compares side by side."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for symbol in SYMBOLS:
        mexc_standin.generate_klines(symbol, now - timedelta(hours=3), 180)
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    monkeypatch.setenv("CLAIRE_MEXC_WS_URL", mexc_standin.ws_url)
    matrix = tmp_path / "runs.toml"
    matrix.write_text(MATRIX)

    started = json.loads(
        claire(
            "papertest", "start", "--source", "mexc", "--duration", "1h", "--symbols",
            ",".join(SYMBOLS), "--matrix", str(matrix), "--no-backup", "--json",
        ).stdout
    )  # fmt: skip
    group, runs = started["group_id"], [r["run_id"] for r in started["runs"]]
    assert len(runs) == len(set(r["engine"] for r in started["runs"])) == 5
    eventually(lambda: mexc_standin.subscription_count >= 6, timeout=60, what="subscriptions")
    # The live market: quotes 5 s apart (the engine holds events 2 s of event time to put
    # them in order; an instant is over when the next reaches the portfolio).
    for symbol in SYMBOLS:
        for later_ms in (0, 5_000, 10_000):
            ms = int(time.time() * 1000) + later_ms
            mexc_standin.push_book(symbol, "95009", "1", "95011", "1", ms)
    eventually(lambda: runs_snapshotted(db, runs) == 5, timeout=90,
               what="the live market in every run")  # fmt: skip
    assert (mexc_standin.connection_count, mexc_standin.open_connections) == (1, 1)

    claire("papertest", "stop", "--group", group)

    for run_id in runs:
        written = runtime_home / "reports" / run_id / "report.json"
        eventually(written.exists, timeout=60, what=f"the report of {run_id}")
    compared = json.loads(claire("papertest", "compare", "--group", group, "--json").stdout)
    assert [r["run_id"] for r in compared["runs"]] == runs
    assert [(p["a"], p["b"]) for p in compared["pairs"]] == [(runs[0], b) for b in runs[1:]]
