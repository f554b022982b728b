"""The report's data quality from the database, and a recording's candles its own.

Replays through `claire papertest start ... --speed max --foreground`, as a user runs them:
a 6-minute hole in one symbol's file is 6 missing minutes of that symbol in the report and
in `papertest status`; a different recording at the same path is a different source, so a
second run reads its own prices, never the first run's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.events.market_data import Candle
from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from tests.support import claire

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = datetime(2026, 3, 2, tzinfo=UTC)
HOLE = (START + timedelta(minutes=60), START + timedelta(minutes=66))  # ETH, 6 minutes


def replay(db: Db, home: Path, path: Path, duration: str) -> tuple[str, dict[str, Any]]:
    claire(
        "papertest", "start", "--duration", duration, "--source", f"replay:{path}",
        "--speed", "max", "--symbols", ",".join(SYMBOLS), "--foreground", "--no-backup",
    )  # fmt: skip
    ((run_id,),) = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")
    report = json.loads((home / "reports" / str(run_id) / "report.json").read_text())
    return str(run_id), report


def candles(seed: int, minutes: int) -> list[Candle]:
    return list(synthetic_candles(SYMBOLS, START, minutes, seed=seed))


def test_a_hole_in_one_symbols_file_is_its_missing_minutes_in_report_and_status(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    market = tmp_path / "holed.csv"
    held = [
        c
        for c in candles(3, 180)
        if not (c.symbol == "ETHUSDT" and HOLE[0] <= c.open_time < HOLE[1])
    ]
    write_market_file(market, held, Layout.CANDLES)

    run_id, report = replay(db, runtime_home, market, "3h")

    system = report["system"]
    assert system["missing_minutes_by_symbol"] == {"BTCUSDT": 0, "ETHUSDT": 6}
    assert (system["data_gaps"], system["missing_minutes"]) == (1, 6)
    (gap,) = report["gaps"]
    assert (gap["symbol"], gap["missing"]) == ("ETHUSDT", 6)
    assert gap["gap_start"] == HOLE[0].isoformat()
    assert any(c.startswith("data gaps: 1 hole in") and "6 minutes" in c for c in report["caveats"])
    status = json.loads(claire("papertest", "status", run_id, "--json").stdout)
    assert status["missing_minutes"] == {"BTCUSDT": 0, "ETHUSDT": 6}
    assert status["resumes"] == 0


def test_another_recording_at_the_same_path_is_another_source_with_its_own_prices(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    market = tmp_path / "recorded.csv"
    first, second = candles(1, 60), candles(2, 60)
    assert first[0].open != second[0].open or first[-1].close != second[-1].close
    write_market_file(market, first, Layout.CANDLES)
    run_a, report_a = replay(db, runtime_home, market, "1h")
    write_market_file(market, second, Layout.CANDLES)
    run_b, report_b = replay(db, runtime_home, market, "1h")

    sources = dict(
        db.execute(
            "SELECT run_id, data_source FROM runs WHERE run_id = ANY(%s)", ([run_a, run_b],)
        ).fetchall()
    )
    assert sources[run_a] != sources[run_b]
    for report, market_candles in ((report_a, first), (report_b, second)):
        last = {c.symbol: c.close for c in market_candles}
        stored = dict(
            db.execute(
                "SELECT DISTINCT ON (symbol) symbol, close FROM candles WHERE source = %s"
                " ORDER BY symbol, open_time DESC",
                (report["run"]["data_source"],),
            ).fetchall()
        )
        assert stored == last  # each run's candles are its recording's
        assert report["system"]["missing_minutes"] == 0
    # each buy and hold read its own recording's prices
    assert report_a["benchmark"]["return"] != report_b["benchmark"]["return"]
