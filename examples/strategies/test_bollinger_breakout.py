"""The Bollinger breakout example on synthetic days through the in-memory paper pipeline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine.engine_process.strategy_check import CheckResult, check_strategy
from engine.events.orders import OrderSide, OrderType, TimeInForce
from engine.settings import Settings
from engine.strategy import load_strategy
from engine.strategy.base import warmup_of
from engine.strategy.params import StrategyParamsError

PATH = "examples.strategies.bollinger_breakout:BollingerBreakout"


def run(params: dict[str, str], days: int = 2) -> CheckResult:
    return check_strategy(Settings(), PATH, params, symbols=["BTCUSDT", "ETHUSDT"], days=days)


def test_it_buys_breakouts_with_ioc_limits_sized_by_quote_amount() -> None:
    result = run({"quote_amount": "2500"})
    assert result.ok
    assert result.round_trips
    buys = [o for o in result.orders if o.side is OrderSide.BUY]
    assert buys
    assert all(o.order_type is OrderType.LIMIT and o.time_in_force is TimeInForce.IOC for o in buys)
    for buy in buys:
        assert buy.price is not None
        assert buy.price * buy.quantity <= Decimal(2500)  # risk sized it at the limit price
        assert buy.price * buy.quantity > Decimal(2499)
    assert all(s.ts_event.minute % 15 == 0 for s in result.signals)


def test_an_asked_size_over_the_limits_is_capped_and_said() -> None:
    result = run({"quote_amount": "50000"})  # max position 5 % of 100,000 = 5,000
    buys = [o for o in result.orders if o.side is OrderSide.BUY]
    assert buys
    first = buys[0]
    assert first.price is not None
    assert first.price * first.quantity <= Decimal(5000)
    assert first.reason is not None
    assert "asked 50000, capped at the room 5000" in first.reason


def test_the_warm_up_is_as_long_as_the_bands() -> None:
    strategy = load_strategy(PATH, Settings().strategy, {"period": "30", "interval": "1h"})
    assert warmup_of(strategy) == timedelta(hours=30)


def test_a_wrong_parameter_is_one_line() -> None:
    with pytest.raises(StrategyParamsError, match="parameter period=1: Input should be"):
        load_strategy(PATH, Settings().strategy, {"period": "1"})
