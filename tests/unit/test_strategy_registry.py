"""The strategy registry: registered names, dotted paths, and clear errors for the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.errors import PermanentError
from engine.events import SignalGenerated
from engine.events.orders import OrderSide
from engine.settings import StrategySettings
from engine.strategy import (
    BaseStrategy,
    MarketEvent,
    MomentumStrategy,
    PositionsContext,
    Strategy,
    StrategyContext,
    StrategyNotFoundError,
    load_strategy,
    make_signal,
    register_strategy,
    registered_strategies,
    signal_event_id,
)
from engine.strategy import base as strategy_base
from tests.factories import candle

MODULE = "tests.unit.test_strategy_registry"


class BuyEveryCandle(BaseStrategy):
    """A user's strategy: buy on every candle."""

    name = "buy-every-candle"

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        price = getattr(event, "close", None)
        if price is None:
            return []
        return [
            make_signal(
                self.name,
                event,
                context,
                side=OrderSide.BUY,
                confidence=Decimal(1),
                reference_price=price,
                reason="every candle",
            )
        ]


class SettingsKeeper(BaseStrategy):
    """A strategy whose constructor takes the settings."""

    name = "settings-keeper"

    def __init__(self, settings: StrategySettings) -> None:
        self.settings = settings


class NotAStrategy:
    """Has a name but cannot trade."""

    name = "not-a-strategy"


class BadlyNamed(BaseStrategy):
    name = "Bad Name"


class Exploding(BaseStrategy):
    name = "exploding"

    def __init__(self) -> None:
        raise RuntimeError("no market for me")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register strategies without leaking them into other tests."""
    monkeypatch.setattr(strategy_base, "_REGISTRY", dict(strategy_base._REGISTRY))


def test_load_strategy_when_momentum_then_momentum_with_settings() -> None:
    settings = StrategySettings(lookback_minutes=30)

    strategy = load_strategy("momentum", settings)

    assert isinstance(strategy, MomentumStrategy)
    assert strategy.settings is settings
    assert strategy.name == "momentum"
    assert "momentum" in registered_strategies()


def test_load_strategy_when_name_in_other_case_then_found() -> None:
    assert isinstance(load_strategy(" Momentum ", StrategySettings()), MomentumStrategy)


def test_load_strategy_when_each_call_then_new_instance() -> None:
    settings = StrategySettings()

    assert load_strategy("momentum", settings) is not load_strategy("momentum", settings)


@pytest.mark.parametrize("path", [f"{MODULE}:BuyEveryCandle", f"{MODULE}.BuyEveryCandle"])
def test_load_strategy_when_dotted_path_then_user_strategy(path: str) -> None:
    strategy = load_strategy(path, StrategySettings())
    context = PositionsContext(run_id="run-7")

    signals = strategy.on_market_data(candle(3, close="101"), context)

    assert isinstance(strategy, BuyEveryCandle)
    assert isinstance(strategy, Strategy)
    assert [(s.strategy, s.side, s.run_id) for s in signals] == [
        ("buy-every-candle", OrderSide.BUY, "run-7")
    ]


def test_load_strategy_when_class_takes_settings_then_given_them() -> None:
    settings = StrategySettings(cooldown_minutes=3)

    strategy = load_strategy(f"{MODULE}:SettingsKeeper", settings)

    assert isinstance(strategy, SettingsKeeper)
    assert strategy.settings is settings


def test_load_strategy_when_unknown_name_then_error_names_registered() -> None:
    with pytest.raises(StrategyNotFoundError) as caught:
        load_strategy("meanreversion", StrategySettings())

    message = caught.value.message
    assert "'meanreversion'" in message
    assert "registered strategies: momentum" in message
    assert isinstance(caught.value, PermanentError)
    assert caught.value.hint is not None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("nowhere.rules:Breakout", "cannot import module 'nowhere.rules'"),
        (f"{MODULE}:Missing", f"module '{MODULE}' has no 'Missing'"),
        (f"{MODULE}:NotAStrategy", "made a NotAStrategy, which is not a strategy"),
        (f"{MODULE}:MODULE", "is not a strategy class or factory"),
        (f"{MODULE}:BadlyNamed", "has name 'Bad Name'; it must be a lower-case code"),
        (f"{MODULE}:Exploding", "could not be created: RuntimeError: no market for me"),
        (":Breakout", "must be package.module:ClassName"),
    ],
)
def test_load_strategy_when_path_is_not_a_strategy_then_clear_error(
    path: str, expected: str
) -> None:
    with pytest.raises(StrategyNotFoundError) as caught:
        load_strategy(path, StrategySettings())

    assert expected in caught.value.message
    assert path.rsplit(":", maxsplit=1)[-1] in caught.value.message


def test_register_strategy_when_registered_then_loadable_by_name(registry: None) -> None:
    register_strategy("every-candle")(BuyEveryCandle)

    strategy = load_strategy("every-candle", StrategySettings())

    assert isinstance(strategy, BuyEveryCandle)
    assert "every-candle" in registered_strategies()


def test_register_strategy_when_name_taken_by_another_then_refused(registry: None) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("momentum")(BuyEveryCandle)


def test_register_strategy_when_name_not_a_code_then_refused() -> None:
    with pytest.raises(ValueError, match="lower-case code"):
        register_strategy("My Strategy")


def test_signal_event_id_when_same_input_then_same_id() -> None:
    ts = datetime(2026, 1, 5, 0, 15, 0, 123, tzinfo=UTC)

    first = signal_event_id("momentum", "BTCUSDT", ts, OrderSide.SELL)

    assert first == signal_event_id("momentum", "BTCUSDT", ts, OrderSide.SELL)
    assert first == "sig-momentum-BTCUSDT-20260105T001500000123-sell"


def test_signal_event_id_when_too_long_then_hashed_within_limit() -> None:
    ts = datetime(2026, 1, 5, tzinfo=UTC)
    long_name = "x" * 64

    event_id = signal_event_id(long_name, "A" * 40, ts, OrderSide.BUY)

    assert len(event_id) <= 128
    assert event_id.startswith("sig-")
    assert event_id == signal_event_id(long_name, "A" * 40, ts, OrderSide.BUY)
    assert event_id != signal_event_id(long_name, "A" * 40, ts, OrderSide.SELL)


def test_signal_event_id_when_runs_differ_then_ids_differ() -> None:
    ts = datetime(2026, 1, 5, 0, 15, tzinfo=UTC)

    first = signal_event_id("momentum", "BTCUSDT", ts, OrderSide.BUY, "run-a")
    second = signal_event_id("momentum", "BTCUSDT", ts, OrderSide.BUY, "run-b")

    assert first != second
    assert "run-a" in first
