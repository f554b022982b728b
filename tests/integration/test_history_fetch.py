"""`claire data fetch` and the history download against the local MEXC stand-in."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.events import Candle
from engine.marketdata.fetch import fetch_history
from engine.marketdata.files import read_market_data
from engine.marketdata.mexc import MexcRest, UnknownSymbolError
from engine.marketdata.mexc.rest import KLINES
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 3, tzinfo=UTC)
END = T0 + timedelta(days=2)
FACTS = ("symbol", "open_time", "open", "high", "low", "close", "volume", "quote_volume")


class InterruptedFetchError(Exception):
    """Stands for a fetch killed half way."""


def facts(candle: Candle) -> tuple[object, ...]:
    return tuple(getattr(candle, name) for name in FACTS)


def fetch(
    standin: MexcStandIn, out: Path, symbols: list[str], stop_after: int | None = None
) -> object:
    calls = 0

    def progress(symbol: str, done: int, expected: int) -> None:
        nonlocal calls
        calls += 1
        if stop_after is not None and calls >= stop_after:
            raise InterruptedFetchError

    async def body() -> object:
        async with MexcRest(standin.rest_url) as rest:
            return await fetch_history(
                rest, symbols, "1m", start=T0, end=END, out=out, progress=progress
            )

    return asyncio.run(body())


def test_two_symbols_two_days_then_every_candle_once_in_order(
    mexc_standin: MexcStandIn, tmp_path: Path
) -> None:
    served = {s: mexc_standin.generate_klines(s, T0, 2 * 1440) for s in ("BTCUSDT", "ETHUSDT")}
    out = tmp_path / "history.parquet"

    fetch(mexc_standin, out, ["BTCUSDT", "ETHUSDT"])

    back = list(read_market_data(out))
    assert len(back) == 2 * 2 * 1440
    assert [c.ts_event for c in back] == sorted(c.ts_event for c in back)
    for symbol, candles in served.items():
        assert [facts(c) for c in back if c.symbol == symbol] == [facts(c) for c in candles]
    assert not out.with_name(out.name + ".parts").exists()


def test_interrupted_fetch_then_second_run_reuses_what_it_had(
    mexc_standin: MexcStandIn, tmp_path: Path
) -> None:
    mexc_standin.generate_klines("BTCUSDT", T0, 2 * 1440)
    out = tmp_path / "btc.csv"
    with pytest.raises(InterruptedFetchError):
        fetch(mexc_standin, out, ["BTCUSDT"], stop_after=3)
    first = mexc_standin.requests(KLINES)

    result = fetch(mexc_standin, out, ["BTCUSDT"])

    assert result.chunks_reused == 3  # type: ignore[attr-defined]
    assert mexc_standin.requests(KLINES) - first == result.chunks_downloaded  # type: ignore[attr-defined]
    assert result.chunks_downloaded + 3 == 6  # type: ignore[attr-defined] # 2 days / 480 minutes
    assert len(list(read_market_data(out))) == 2 * 1440


def test_unknown_symbol_then_named_and_nothing_written(
    mexc_standin: MexcStandIn, tmp_path: Path
) -> None:
    out = tmp_path / "x.csv"
    with pytest.raises(UnknownSymbolError, match="NOPEUSDT"):
        fetch(mexc_standin, out, ["BTCUSDT", "NOPEUSDT"])
    assert not out.exists()
    assert mexc_standin.requests(KLINES) == 0


def test_rate_limited_then_waits_and_completes(mexc_standin: MexcStandIn, tmp_path: Path) -> None:
    mexc_standin.generate_klines("BTCUSDT", T0, 2 * 1440)
    mexc_standin.answer_429(1, retry_after=1)
    out = tmp_path / "btc.csv"
    fetch(mexc_standin, out, ["BTCUSDT"])
    assert mexc_standin.answered[429] == 1
    assert len(list(read_market_data(out))) == 2 * 1440


@pytest.mark.cli
def test_cli_fetch_then_inspect_reads_the_file(
    mexc_standin: MexcStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    mexc_standin.generate_klines("BTCUSDT", now - timedelta(days=1, minutes=5), 1440 + 5)
    monkeypatch.setenv("CLAIRE_MEXC_REST_URL", mexc_standin.rest_url)
    out = tmp_path / "btc.csv"

    fetched = CliRunner().invoke(
        app, ["data", "fetch", "BTCUSDT", "--days", "1", "--out", str(out)]
    )
    inspected = CliRunner().invoke(app, ["data", "inspect", str(out), "--json"])

    assert fetched.exit_code == 0, fetched.output
    assert "wrote 1,440 candles" in fetched.stdout
    summary = json.loads(inspected.stdout)
    assert summary["rows"] == 1440
    assert summary["symbols"][0]["missing_minutes"] == 0
