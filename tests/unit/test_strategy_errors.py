"""A strategy that raises never kills the run: alerted with its file and line, the event
skipped; N exceptions in a row halt it, and the run ends with that reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from engine.bus.memory import InMemoryBus
from engine.events import AlertRaised, Event, SignalGenerated
from engine.events.orders import OrderSide
from engine.marketdata.synthetic import synthetic_candles
from engine.services.pipeline import build_pipeline, run_in_memory
from engine.services.signal import SignalStage
from engine.settings import PapertestSettings, Settings
from engine.strategy import BaseStrategy, MarketEvent, StrategyContext, make_signal
from engine.streams import Stream

START = datetime(2026, 1, 5, tzinfo=UTC)


class Flaky(BaseStrategy):
    """Raises on the candles `fails` says, buys on every other one."""

    name = "flaky"

    def __init__(self, fails: set[int]) -> None:
        self.fails = fails
        self.seen = 0

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        self.seen += 1
        if self.seen in self.fails:
            raise ZeroDivisionError("division by zero")  # the line the alert names
        return [
            make_signal(
                self.name, event, context, side=OrderSide.BUY, confidence=Decimal(1),
                reference_price=getattr(event, "close", Decimal(1)), reason="probe",
            )
        ]  # fmt: skip


def _run(fails: set[int], limit: int = 3, candles: int = 10) -> tuple[SignalStage, list[Event]]:
    bus = InMemoryBus()
    out: list[Event] = []
    bus.subscribe("probe", (Stream.SIGNALS, Stream.ALERTS), out.extend)
    stage = SignalStage(Flaky(fails), bus, "run-e", error_limit=limit)
    for candle in synthetic_candles(("BTCUSDT",), START, candles, seed=7):
        stage.handle([candle])
        bus.drain()
    return stage, out


def test_an_exception_is_an_alert_naming_the_strategys_file_and_line_and_the_event_is_skipped() -> (
    None
):
    stage, out = _run({2, 5})
    alerts = [e for e in out if isinstance(e, AlertRaised)]
    signals = [e for e in out if isinstance(e, SignalGenerated)]
    assert len(signals) == 8  # 10 candles, 2 skipped
    assert [a.code for a in alerts] == ["strategy_error", "strategy_error"]
    assert all(a.level == "warning" for a in alerts)
    assert alerts[0].message.startswith(
        f"strategy flaky raised ZeroDivisionError: division by zero at {__file__}:"
    )
    assert "on BTCUSDT at 2026-01-05T00:02:00+00:00; the event is skipped" in alerts[0].message
    assert stage.errors == 2
    assert stage.halt_reason is None  # never 3 in a row


def test_exceptions_in_a_row_halt_the_strategy_with_a_critical_alert() -> None:
    stage, out = _run({4, 5, 6}, limit=3)
    alerts = [e for e in out if isinstance(e, AlertRaised)]
    assert [a.code for a in alerts] == ["strategy_error"] * 3 + ["strategy_halted"]
    assert alerts[-1].level == "critical"
    assert stage.halt_reason is not None
    assert stage.halt_reason.startswith("strategy flaky halted after 3 exceptions in a row")
    signals = [e for e in out if isinstance(e, SignalGenerated)]
    assert len(signals) == 3  # candles 1-3; halted from the 6th on, nothing more asked
    assert stage._strategy.seen == 6  # type: ignore[attr-defined]


def test_a_halted_strategy_ends_the_run_with_its_reason() -> None:
    settings = Settings(papertest=PapertestSettings(strategy_error_limit=2))
    bus = InMemoryBus()
    pipeline = build_pipeline(settings, bus, run_id="run-h", symbols=["BTCUSDT"])
    pipeline.signal._strategy = Flaky(set(range(5, 1000)))  # type: ignore[assignment]
    summary = run_in_memory(pipeline, bus, synthetic_candles(("BTCUSDT",), START, 300, seed=7))
    assert summary.halted
    assert summary.market_events == 6  # the 6th candle's second exception halts it
    assert pipeline.halt_reason is not None
    assert pipeline.halt_reason.startswith("strategy flaky halted after 2 exceptions in a row")


class RaisesAfterAnHour(BaseStrategy):
    """A user's strategy with a bug that shows after its first hour of candles (the CLI
    test runs it in a real engine by its dotted path)."""

    name = "raises-after-an-hour"

    def __init__(self) -> None:
        self.seen = 0

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        self.seen += 1
        closes: dict[str, Decimal] = {}
        if self.seen > 120:  # 2 symbols x 60 minutes: then the bug, a KeyError
            closes[event.symbol] += Decimal(1)
        return []
