"""`--symbols` and a replay: the run plays only the symbols asked for, named once each.

Before, `--symbols` was ignored for a replay (a run with `--symbols SOLUSDT` on a BTC/ETH
file traded BTC and ETH and recorded SOLUSDT), `--symbols ""` silently used the defaults and
`BTCUSDT,BTCUSDT` fed BTC twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.errors import PermanentError
from engine.events import Candle
from engine.marketdata.files import Layout, read_market_data, write_market_file
from engine.marketdata.source import MarketItem, ReplaySource
from engine.marketdata.synthetic import synthetic_candles
from engine.runs import service
from engine.runs.registry import RunParameters
from engine.settings import PapertestSettings, symbols_problem

START = datetime(2026, 1, 5, tzinfo=UTC)
DEFAULTS = ("BTCUSDT", "ETHUSDT")


def parameters(symbols: str | None, source: str = "synthetic") -> RunParameters:
    return service.make_parameters(
        duration="1h",
        capital="1000",
        symbols=symbols,
        source=source,
        speed="max",
        strategy="momentum",
        record=False,
        seed=42,
        default_symbols=DEFAULTS,
    )


def recording(directory: Path) -> Path:
    """A BTC/ETH candle file and SOL/ETH warmup history beside it."""
    write_market_file(
        directory / "candles.csv",
        synthetic_candles(("BTCUSDT", "ETHUSDT"), START, 30, seed=3),
        Layout.CANDLES,
    )
    write_market_file(
        directory / "warmup_candles.csv",
        synthetic_candles(("SOLUSDT", "ETHUSDT"), START.replace(day=4), 30, seed=4),
        Layout.CANDLES,
    )
    return directory


def collect(source: ReplaySource) -> list[MarketItem]:
    async def run() -> list[MarketItem]:
        return [item async for item in source.items()]

    return asyncio.run(run())


@pytest.mark.parametrize("given", ["", " ", ",", " , "])
def test_symbols_naming_none_then_refused_not_the_defaults(given: str) -> None:
    with pytest.raises(PermanentError, match="names no symbol: give one at least, like BTCUSDT"):
        parameters(given)


def test_symbols_not_given_then_defaults_except_for_a_replay(tmp_path: Path) -> None:
    assert parameters(None).symbols == DEFAULTS
    assert parameters(None, f"replay:{tmp_path}").symbols == ()  # its files' (the preflight)
    assert parameters(" btcusdt,SOLUSDT ", f"replay:{tmp_path}").symbols == (
        "BTCUSDT",
        "SOLUSDT",
    )


@pytest.mark.parametrize(
    ("symbols", "problem"),
    [
        (("BTCUSDT", "BTCUSDT"), "BTCUSDT is named more than once: name each symbol once"),
        (
            ("ETHUSDT", "BTCUSDT", "ETHUSDT", "BTCUSDT"),
            "BTCUSDT, ETHUSDT is named more than once: name each symbol once",
        ),
        ((), "must name at least one symbol"),
        (("BTC-USD",), "'BTC-USD' is not a symbol like BTCUSDT"),
        (("BTCUSDT", "ETHUSDT"), None),
    ],
)
def test_symbols_problem(symbols: tuple[str, ...], problem: str | None) -> None:
    assert symbols_problem(symbols) == problem


def test_repeated_symbols_then_the_setting_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="named more than once"):
        PapertestSettings(symbols=["BTCUSDT", "BTCUSDT"])


def test_read_with_symbols_then_only_theirs_warmup_included(tmp_path: Path) -> None:
    path = recording(tmp_path)

    every = list(read_market_data(path))
    eth = list(read_market_data(path, symbols={"ETHUSDT"}))

    assert {e.symbol for e in every} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert {e.symbol for e in eth} == {"ETHUSDT"}
    assert len(eth) == 60  # 30 minutes traded, 30 of history
    assert eth == [e for e in every if e.symbol == "ETHUSDT"]


def test_replay_source_with_symbols_then_plays_only_them(tmp_path: Path) -> None:
    path = recording(tmp_path)

    played = collect(ReplaySource(path, ["BTCUSDT"]))
    everything = collect(ReplaySource(path))

    assert {i.symbol for i in played if isinstance(i, Candle)} == {"BTCUSDT"}
    assert len(played) == 30
    assert {i.symbol for i in everything if isinstance(i, Candle)} == {
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
    }
