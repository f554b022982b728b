"""A live papertest on the MEXC stand-in: the engine process validates the symbol, warms up
on REST history, streams the websocket, and stops cleanly."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn
from tests.support import eventually

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]


def claire(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_live_papertest_on_the_stand_in_then_history_stream_and_stop(
    mexc_standin: MexcStandIn,
    monkeypatch: pytest.MonkeyPatch,
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    mexc_standin.generate_klines("BTCUSDT", now - timedelta(hours=3), 180)
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    monkeypatch.setenv("CLAIRE_MEXC_WS_URL", mexc_standin.ws_url)

    started = claire(
        "papertest",
        "start",
        "--source",
        "mexc",
        "--duration",
        "1h",
        "--symbols",
        "BTCUSDT",
        "--no-backup",
        "--json",
    )
    run_id = json.loads(started.stdout)["run_id"]
    eventually(lambda: mexc_standin.subscription_count >= 3, timeout=30, what="subscriptions")
    for second in range(3):
        at = int(time.time() * 1000)
        mexc_standin.push_deal("BTCUSDT", f"95000.{second}", "0.01", "buy", at, f"live-{second}")
        mexc_standin.push_book("BTCUSDT", "94999.5", "1", "95000.5", "1", at)
        time.sleep(0.3)

    warmed = "SELECT COUNT(*) FROM candles WHERE source = 'mexc.history'"
    eventually(lambda: (db.execute(warmed).fetchone() or (0,))[0] >= 100, timeout=30)
    status = json.loads(claire("papertest", "status", run_id, "--json").stdout)
    assert status["engine"] == "running"

    claire("papertest", "stop", run_id)
    stopped = json.loads(claire("papertest", "status", run_id, "--json").stdout)
    assert stopped["status"] == "stopped"
    signals = db.execute("SELECT COUNT(*) FROM signals WHERE run_id = %s", (run_id,)).fetchone()
    assert signals == (0,)  # history warms the strategy up; it never trades on it
