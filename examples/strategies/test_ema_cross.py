"""The EMA crossover example on two synthetic days through the engine's in-memory pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.bus.memory import InMemoryBus
from engine.events import Event, SignalGenerated
from engine.marketdata.synthetic import synthetic_candles
from engine.services.pipeline import build_pipeline, run_in_memory
from engine.settings import Settings
from engine.strategy import load_strategy
from engine.strategy.params import StrategyParamsError
from engine.streams import Stream
from examples.strategies.ema_cross import EmaCross

PATH = "examples.strategies.ema_cross:EmaCross"
START = datetime(2026, 1, 5, tzinfo=UTC)


def signals(params: dict[str, str]) -> list[SignalGenerated]:
    settings = Settings()
    bus = InMemoryBus()
    seen: list[Event] = []
    bus.subscribe("probe", (Stream.SIGNALS,), seen.extend)
    pipeline = build_pipeline(
        settings, bus, run_id="ex-ema", symbols=["BTCUSDT", "ETHUSDT"], strategy=PATH,
        strategy_params=params,
    )  # fmt: skip
    market = synthetic_candles(("BTCUSDT", "ETHUSDT"), START, 2 * 1440, seed=3)
    run_in_memory(pipeline, bus, market)
    return [e for e in seen if isinstance(e, SignalGenerated)]


def test_it_trades_in_and_out_on_15_minute_bars() -> None:
    got = signals({"fast": "8", "slow": "21"})
    buys = [s for s in got if s.side == "buy"]
    sells = [s for s in got if s.side == "sell"]
    assert buys
    assert sells
    assert all(s.strategy == "ema-cross" for s in got)
    assert all(s.ts_event.minute % 15 == 0 for s in got)  # each at a 15-minute bar's close
    assert all(s.reason == "EMA 8 crossed above EMA 21" for s in buys)
    assert {(s.reason or "").split(":")[0] for s in sells} <= {
        "EMA 8 crossed below EMA 21",
        "ATR stop",
    }


def test_its_parameters_change_what_it_does() -> None:
    assert signals({"fast": "8", "slow": "21"}) != signals({"fast": "5", "slow": "50"})
    hourly = signals({"interval": "1h"})
    assert all(s.ts_event.minute == 0 for s in hourly)


def test_a_wrong_parameter_is_one_line() -> None:
    with pytest.raises(StrategyParamsError, match="parameter fast=1: Input should be greater"):
        load_strategy(PATH, Settings().strategy, {"fast": "1"})
    strategy = load_strategy(PATH, Settings().strategy, {})
    assert isinstance(strategy, EmaCross)
    assert strategy.params.slow == 26
