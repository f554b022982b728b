"""A live papertest on the MEXC stand-in, then `claire papertest compare RUN --replay`.

- Without an outage, the run's own recording replayed at full speed agrees with it trade
  for trade. The stand-in plays 40 minutes of market (a rally, then a slide: the strategy
  enters and exits) in about a minute of wall time: each minute's kline, book and trade are
  pushed with event times ahead of the clock, with a pause between them.
- With an outage (the connection drops while the minute that would have been the entry
  goes by), the difference is put down to it. This one runs on the wall clock (about four
  minutes): the live source notices a hole and back-fills it by the clock.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.events import Candle
from tests.browser import seen_in_chromium
from tests.factories import rally_then_slide as price_at
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
SYMBOL = "BTCUSDT"
MINUTES = 40
PAUSE_S = 0.4  # between pushes: the stages are done with one before the next arrives
FILLS = """
SELECT symbol, side, quantity, execution_price, fees, "timestamp" FROM trades
 WHERE run_id = %s ORDER BY "timestamp", trade_id
"""


def quiet_history(until: datetime, minutes: int = 180) -> list[Candle]:
    return [
        a_candle(until + timedelta(minutes=m), Decimal(95_000), Decimal(95_000), 10, Decimal(20))
        for m in range(-minutes, 0)
    ]


def a_candle(opened: datetime, o: Decimal, c: Decimal, wick: int, volume: Decimal) -> Candle:
    """The 1-minute candle opened at `opened`: its high and low `wick` beyond the body."""
    return Candle(
        event_id=f"candle-mexc-{SYMBOL}-{opened:%Y%m%dT%H%M}",
        ts_event=opened + timedelta(minutes=1),
        ts_init=opened + timedelta(minutes=1),
        source="mexc",
        symbol=SYMBOL,
        open_time=opened,
        close_time=opened + timedelta(minutes=1),
        open=o,
        high=max(o, c) + wick,
        low=min(o, c) - wick,
        close=c,
        volume=volume,
        quote_volume=volume * c,
    )


def play(standin: MexcStandIn, t0: datetime, minutes: int) -> None:
    """Per minute: its kline (which closes the minute before), then a book 3 s and a trade
    6 s into it. The live run holds events 2 s of event time to order them: each push
    releases the one before, so a candle's order is at execution before the next quote."""
    for minute in range(minutes + 2):
        start = t0 + timedelta(minutes=minute)
        ms = int(start.timestamp() * 1000)
        price, before = price_at(minute), price_at(max(0, minute - 1))
        high, low = max(price, before) + 5, min(price, before) - 5
        standin.push_kline(
            SYMBOL, ms // 1000, str(before), str(price), str(high), str(low),
            "25", str(Decimal(25) * price),
        )  # fmt: skip
        time.sleep(PAUSE_S)
        standin.push_book(SYMBOL, str(price - 1), "0.8", str(price + 1), "0.6", ms + 3_000)
        time.sleep(PAUSE_S)
        standin.push_deal(SYMBOL, str(price), "0.05", "buy", ms + 6_000, f"t{minute}")
        time.sleep(PAUSE_S)


def fills(db: Db, run_id: str) -> list[tuple[object, ...]]:
    return db.execute(FILLS, (run_id,)).fetchall()


def test_a_live_run_and_the_replay_of_its_recording_agree_trade_for_trade(
    mexc_standin: MexcStandIn, monkeypatch: pytest.MonkeyPatch, db: Db, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC).replace(second=0, microsecond=0)
    mexc_standin.set_klines(SYMBOL, quiet_history(t0))
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    monkeypatch.setenv("CLAIRE_MEXC_WS_URL", mexc_standin.ws_url)
    started = claire(
        "papertest", "start", "--source", "mexc", "--duration", "2h", "--symbols", SYMBOL,
        "--no-backup", "--json",
    )  # fmt: skip
    run_id = str(json.loads(started.stdout)["run_id"])
    eventually(lambda: mexc_standin.subscription_count >= 3, timeout=60, what="subscriptions")
    warmed = "SELECT COUNT(*) FROM candles WHERE source = 'mexc.history'"
    eventually(lambda: _scalar(db, warmed) >= 110, timeout=60, what="the warm-up")

    play(mexc_standin, t0, MINUTES)
    last = t0 + timedelta(minutes=MINUTES)
    eventually(
        lambda: _scalar(
            db, 'SELECT MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %s', run_id
        ) >= last,
        timeout=60,
        what="the last minute played",
    )  # fmt: skip
    claire("papertest", "stop", run_id)
    paper = fills(db, run_id)
    assert len(paper) >= 2, "the session should have traded (an entry and an exit)"

    out = tmp_path / "replay"
    compared = json.loads(
        claire("papertest", "compare", run_id, "--replay", "--out", str(out), "--json").stdout
    )

    replay_id = compared["replay_run"]
    assert compared["paper_run"] == run_id
    assert replay_id != run_id
    # A sceptic's check, from the database: every fill the same, to the last digit.
    assert fills(db, replay_id) == paper
    assert compared["agrees"] is True
    assert {m["how"] for m in compared["fills"]} == {"same"}
    assert len(compared["fills"]) == len(paper)
    assert compared["trips"] == []
    assert Decimal(compared["difference"]) == 0
    assert {Decimal(v) for v in compared["attribution"].values()} == {Decimal(0)}
    replay_run = _row(db, "SELECT status, parameters FROM runs WHERE run_id = %s", replay_id)
    assert replay_run[0] == "completed"
    assert replay_run[1]["source"].startswith("replay:")
    assert replay_run[1]["speed"] == "max"
    assert {p.name for p in out.iterdir()} == {
        "replay.html", "replay.md", "replay.json", "returns.png"
    }  # fmt: skip
    seen = seen_in_chromium(out / "replay.html")
    [chart] = seen["images"]
    assert chart["id"] == "chart-returns"
    assert chart["width"] > 300
    assert seen["external"] == []
    assert seen["errors"] == []
    # the summary, the PnL by cause, the trips that differ (none: a note), every fill
    assert seen["tables"] == [7, 1 + 8, 1 + len(paper)]


def _scalar(db: Db, query: str, *params: Any) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row[0] if row[0] is not None else 0


def _row(db: Db, query: str, *params: Any) -> tuple[Any, ...]:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row


def candle(opened: datetime, open_: str, close: str) -> Candle:
    return a_candle(opened, Decimal(open_), Decimal(close), 5, Decimal(25))


def wait_until(at: datetime) -> None:
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def push_minute(standin: MexcStandIn, opened: datetime, open_: str, close: str, book: str) -> None:
    """A minute's kline (which closes the minute before), then a book 3 s and a trade 6 s in."""
    ms = int(opened.timestamp() * 1000)
    price = Decimal(book)
    high, low = max(Decimal(open_), Decimal(close)) + 5, min(Decimal(open_), Decimal(close)) - 5
    standin.push_kline(SYMBOL, ms // 1000, open_, close, str(high), str(low), "25",
                       str(Decimal(25) * Decimal(close)))  # fmt: skip
    wait_until(opened + timedelta(seconds=3))
    standin.push_book(SYMBOL, str(price - 1), "0.8", str(price + 1), "0.6", ms + 3_000)
    wait_until(opened + timedelta(seconds=6))
    standin.push_deal(SYMBOL, str(price), "0.05", "buy", ms + 6_000, f"t{ms}")


def test_an_outage_that_cost_the_paper_run_its_entry_is_put_down_to_it(
    mexc_standin: MexcStandIn, monkeypatch: pytest.MonkeyPatch, db: Db, tmp_path: Path
) -> None:
    """Minute 1 jumps 1.05 %: the entry (a look-back of 1 minute, threshold 0.8 %). The
    connection drops in it; the feed back-fills it from REST when minute 2 shows the hole,
    as history the paper run learns from and never trades. Its recording holds it with the
    others: the replay enters on it, and exits on minute 2's fall. The paper run never
    trades; the replay's round trip, all of the difference, is the gap's."""
    now = datetime.now(UTC)
    m0 = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (m0 - now).total_seconds() < 20:  # the run must be warm before minute 0
        m0 += timedelta(minutes=1)
    minute = [m0 + timedelta(minutes=i) for i in range(4)]
    rest = [*quiet_history(m0), candle(minute[0], "95000", "95000")]
    mexc_standin.set_klines(SYMBOL, [*rest, candle(minute[1], "95000", "96000")])
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    monkeypatch.setenv("CLAIRE_MEXC_WS_URL", mexc_standin.ws_url)
    started = claire(
        "papertest", "start", "--source", "mexc", "--duration", "1h", "--symbols", SYMBOL,
        "--param", "lookback_minutes=1", "--param", "entry_threshold=0.008",
        "--param", "cooldown_minutes=0", "--no-backup", "--json",
    )  # fmt: skip
    run_id = str(json.loads(started.stdout)["run_id"])
    eventually(lambda: mexc_standin.subscription_count >= 3, timeout=60, what="subscriptions")

    wait_until(minute[0] + timedelta(milliseconds=300))
    push_minute(mexc_standin, minute[0], "95000", "95000", "95000")
    wait_until(minute[1] + timedelta(milliseconds=500))
    mexc_standin.push_book(
        SYMBOL, "94999", "0.8", "95001", "0.6", int(minute[1].timestamp() * 1000) + 500
    )
    wait_until(minute[1] + timedelta(seconds=5))  # minute 0 was sent by the clock at 0:02
    assert mexc_standin.drop_connections() >= 1  # nothing of minute 1 comes over it
    wait_until(minute[2] + timedelta(milliseconds=300))
    push_minute(mexc_standin, minute[2], "96000", "95000", "96000")
    wait_until(minute[3] + timedelta(milliseconds=300))
    push_minute(mexc_standin, minute[3], "95000", "95000", "95000")
    # Live events are held 2 s of event time for ordering: a last quote releases minute 3's
    # trade, which closes the instant of its book (the sale's fill in the replay).
    wait_until(minute[3] + timedelta(seconds=9))
    mexc_standin.push_book(
        SYMBOL, "94999", "0.8", "95001", "0.6", int(minute[3].timestamp() * 1000) + 9_000
    )
    eventually(
        lambda: _scalar(
            db, 'SELECT MAX("timestamp") FROM portfolio_snapshots WHERE run_id = %s', run_id
        ) >= minute[3],
        timeout=30,
        what="minute 3's quote played",
    )  # fmt: skip
    claire("papertest", "stop", run_id)
    backfilled = "SELECT COUNT(*) FROM candles WHERE source = 'mexc.backfill' AND open_time = %s"
    assert _scalar(db, backfilled, minute[1]) == 1
    assert fills(db, run_id) == []  # the entry minute came as history: never traded

    compared = json.loads(
        claire("papertest", "compare", run_id, "--replay", "--out", str(tmp_path), "--json").stdout
    )

    replay_id = compared["replay_run"]
    buy, sell = fills(db, replay_id)
    assert (buy[1], buy[5]) == ("buy", minute[2] + timedelta(seconds=3))
    assert (sell[1], sell[5]) == ("sell", minute[3] + timedelta(seconds=3))
    # A sceptic's PnL of the replay's trip: what the sale brought, less the buy and both fees.
    by_hand = sell[2] * sell[3] - buy[2] * buy[3] - buy[4] - sell[4]
    assert compared["agrees"] is False
    [trip] = compared["trips"]
    assert trip["paper"] is None
    assert trip["cause"] == "outages and gaps"
    assert "gap" in trip["why"]
    assert Decimal(trip["effect"]) == -by_hand
    assert Decimal(compared["difference"]) == -by_hand
    attribution = {k: Decimal(v) for k, v in compared["attribution"].items() if Decimal(v)}
    assert attribution == {"outages and gaps": -by_hand}


def test_an_engine_killed_mid_run_and_resumed_still_agrees_with_its_replay(
    db: Db, tmp_path: Path
) -> None:
    """SIGKILL mid-run, then `claire papertest resume`: the resumed engine plays the market
    after its cut again (and the market before it as history); its recording holds each
    minute once, in order, so it replays, and the difference is put down in full. (Paced
    over Redis and in memory may fill a burst's order at another quote under load: the
    trade-for-trade agreement is the no-outage live test's, where events come spaced.)"""
    started = json.loads(
        claire(
            "papertest", "start", "--source", "synthetic", "--speed", "900", "--duration", "12h",
            "--record", "--no-backup", "--json",
        ).stdout
    )  # fmt: skip
    run_id, pid = str(started["run_id"]), int(started["engine"].split()[-1])
    snapshots = "SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s"
    eventually(lambda: _scalar(db, snapshots, run_id) > 200, timeout=60, what="a few hours in")
    os.kill(pid, signal.SIGKILL)
    claire("papertest", "resume", run_id)
    eventually(
        lambda: _scalar(db, "SELECT status FROM runs WHERE run_id = %s", run_id) == "completed",
        timeout=120,
        what="the resumed run to end",
    )
    assert _scalar(db, "SELECT epoch FROM run_control WHERE run_id = %s", run_id) >= 2

    compared = json.loads(
        claire("papertest", "compare", run_id, "--replay", "--out", str(tmp_path), "--json").stdout
    )

    recorded = Path(os.environ["CLAIRE_HOME"]) / "data" / "recordings" / run_id
    recording = {p.name for p in recorded.iterdir()}
    assert recording == {"candles_BTCUSDT.csv", "candles_ETHUSDT.csv"}  # no warm-up again
    for name in recording:
        opened = [line.split(",")[1] for line in (recorded / name).read_text().splitlines()[1:]]
        assert opened == sorted(set(opened), key=int), name  # each minute once, in order
    assert _scalar(db, "SELECT status FROM runs WHERE run_id = %s", compared["replay_run"]) == (
        "completed"
    )
    assert len(fills(db, compared["replay_run"])) > 10
    attributed = sum((Decimal(v) for v in compared["attribution"].values()), Decimal(0))
    assert attributed == Decimal(compared["difference"])
    # Asked again: the same replay, compared again; --fresh replays once more.
    again = ("papertest", "compare", run_id, "--replay", "--out", str(tmp_path), "--json")
    assert json.loads(claire(*again).stdout)["replay_run"] == compared["replay_run"]
    fresh = json.loads(claire(*again, "--fresh").stdout)
    assert fresh["replay_run"] != compared["replay_run"]
