"""The signal stage: history warms the strategy but never trades."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.bus.memory import InMemoryBus
from engine.events import Event
from engine.marketdata.synthetic import synthetic_candles
from engine.services.signal import SignalStage
from engine.settings import Settings
from engine.strategy import load_strategy
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)


def signals_for(source: str) -> list[Event]:
    settings = Settings()
    bus = InMemoryBus()
    out: list[Event] = []
    bus.subscribe("probe", (Stream.SIGNALS,), out.extend)
    stage = SignalStage(load_strategy("momentum", settings.strategy), bus, "run-w")
    stage.handle(list(synthetic_candles(("BTCUSDT", "ETHUSDT"), START, 600, seed=7, source=source)))
    bus.drain()
    return out


def test_live_candles_then_signals() -> None:
    assert len(signals_for("mexc")) > 0


def test_history_and_backfilled_candles_then_no_signal() -> None:
    assert signals_for("mexc.history") == []
    assert signals_for("mexc.backfill") == []
