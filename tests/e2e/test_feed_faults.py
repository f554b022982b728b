"""A live papertest whose MEXC feed goes silent, then drops (the MEXC stand-in, real time):
stale alerts from the feed and the risk stage's circuit breaker, raised and cleared; the
missed candles back-filled from REST; every gap recorded; the engine never stops."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.e2e.private import claire
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn
from tests.support import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("claire_env")]

STALE_S = 3


class Market:
    """Deals and quotes every 0.2 s, as a live market sends them, until paused."""

    def __init__(self, standin: MexcStandIn) -> None:
        self._standin = standin
        self.flowing = threading.Event()
        self.flowing.set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.pushed = 0
        self.klines: dict[datetime, Any] = {}  # what REST serves: open time -> close

    def _run(self) -> None:
        while not self._done.is_set():
            if self.flowing.is_set():
                at = int(time.time() * 1000)
                self._standin.push_deal("BTCUSDT", "95000.5", "0.01", "buy", at, f"d{at}")
                self._standin.push_book("BTCUSDT", "95000", "1", "95001", "1", at)
                self.pushed += 1
            self._done.wait(0.2)

    def __enter__(self) -> Market:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)


@pytest.fixture
def live_run(
    mexc_standin: MexcStandIn, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Market]]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    served = mexc_standin.generate_klines("BTCUSDT", now - timedelta(hours=3), 240)  # to now + 1 h
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    monkeypatch.setenv("CLAIRE_MEXC_WS_URL", mexc_standin.ws_url)
    monkeypatch.setenv("CLAIRE_MARKET_STALE_AFTER_SECONDS", str(STALE_S))
    monkeypatch.setenv("CLAIRE_MARKET_RECORD_TICKS", "true")  # to count the live trades
    started = claire(
        "papertest", "start", "--source", "mexc", "--duration", "1h", "--symbols", "BTCUSDT",
        "--no-backup", "--json",
    )  # fmt: skip
    run_id = json.loads(started.stdout)["run_id"]
    eventually(lambda: mexc_standin.subscription_count >= 3, timeout=30, what="subscriptions")
    with Market(mexc_standin) as market:
        market.klines = {c.open_time: c.close for c in served}
        try:
            yield run_id, market
        finally:
            claire("papertest", "stop", run_id, expect=None)


def alerts(db: psycopg.Connection[Any], run_id: str) -> list[tuple[str, str, bool]]:
    return db.execute(
        "SELECT source, code, cleared FROM alerts WHERE run_id = %s AND code = 'market_data_stale'"
        " ORDER BY ts_event",
        (run_id,),
    ).fetchall()


def gaps(db: psycopg.Connection[Any], run_id: str, cause: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT missing, backfilled, gap_start, gap_end FROM market_gaps"
        " WHERE run_id = %s AND cause = %s",
        (run_id, cause),
    ).fetchall()


def test_feed_silent_then_dropped_then_alerts_breaker_backfill_and_gaps_recorded(
    live_run: tuple[str, Market],
    mexc_standin: MexcStandIn,
    db: psycopg.Connection[Any],
) -> None:
    run_id, market = live_run
    trades = "SELECT COUNT(*) FROM trade_ticks WHERE symbol = 'BTCUSDT'"
    eventually(lambda: market.pushed > 5, timeout=10, what="live data")

    # Silence: nothing for three times the stale limit.
    market.flowing.clear()
    seen = eventually(
        lambda: (
            {(source.split(".")[0], cleared) for source, _, cleared in alerts(db, run_id)}
            >= {("mexc", False), ("engine", False)}
        ),
        timeout=30,
        what="the feed's stale alert and the risk stage's circuit breaker",
    )
    assert seen
    market.flowing.set()
    eventually(
        lambda: (
            {(source.split(".")[0], cleared) for source, _, cleared in alerts(db, run_id)}
            >= {("mexc", True), ("engine", True)}
        ),
        timeout=30,
        what="both alerts to clear when data returns",
    )
    [(_, _, start, end)] = eventually(
        lambda: gaps(db, run_id, "stale"), timeout=30, what="the stale gap"
    )
    assert end - start >= timedelta(seconds=STALE_S)

    # A drop, once a minute has closed since the start: its candle comes back from REST.
    eventually(
        lambda: datetime.now(UTC).second < 50 and _closed_since_start(db, run_id),
        timeout=90,
        interval=0.5,
        what="a closed minute",
    )
    connections = mexc_standin.connection_count
    assert mexc_standin.drop_connections() >= 1
    eventually(lambda: mexc_standin.connection_count > connections, timeout=30, what="reconnect")
    [(_, backfilled, _, _)] = eventually(
        lambda: gaps(db, run_id, "disconnect"), timeout=30, what="the disconnect gap"
    )
    assert backfilled >= 1
    backfill = eventually(
        lambda: db.execute(
            "SELECT open_time, close FROM candles WHERE source = 'mexc.backfill'"
            " AND symbol = 'BTCUSDT' ORDER BY open_time"
        ).fetchall(),
        timeout=10,
        what="the back-filled candles",
    )
    assert len(backfill) == backfilled
    assert all(market.klines[t] == close for t, close in backfill)
    before = (db.execute(trades).fetchone() or (0,))[0]
    eventually(
        lambda: (db.execute(trades).fetchone() or (0,))[0] > before,
        timeout=30,
        what="live trades again after the reconnect",
    )
    status = json.loads(claire("papertest", "status", run_id, "--json").stdout)
    assert status["engine"] == "running"  # never crashed


def _closed_since_start(db: psycopg.Connection[Any], run_id: str) -> bool:
    ((started,),) = db.execute("SELECT started_at FROM runs WHERE run_id = %s", (run_id,))
    return datetime.now(UTC).replace(second=0, microsecond=0) > started.replace(
        second=0, microsecond=0
    )
