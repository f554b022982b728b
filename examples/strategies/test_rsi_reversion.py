"""The RSI reversion example on two synthetic days through the in-memory paper pipeline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine.engine_process.strategy_check import SYNTHETIC_START, CheckResult, check_strategy
from engine.events.orders import OrderSide, OrderType, TimeInForce
from engine.settings import Settings
from engine.strategy import load_strategy
from engine.strategy.params import StrategyParamsError
from examples.strategies.rsi_reversion import RsiReversion

PATH = "examples.strategies.rsi_reversion:RsiReversion"


def run(params: dict[str, str]) -> CheckResult:
    return check_strategy(Settings(), PATH, params, symbols=["BTCUSDT", "ETHUSDT"], days=2)


def test_it_bids_under_the_close_and_offers_half_at_the_take_profit() -> None:
    result = run({})
    assert result.ok
    assert result.round_trips
    bids = [o for o in result.orders if o.side is OrderSide.BUY]
    assert bids
    assert all(o.order_type is OrderType.LIMIT and o.time_in_force is TimeInForce.GTD for o in bids)
    for bid in bids:
        signal = next(s for s in result.signals if s.event_id == bid.signal_id)
        assert bid.price is not None
        assert bid.price < signal.reference_price  # 0.2 % under the close
        assert bid.expires_at == signal.ts_event + timedelta(minutes=30)
        assert signal.equity_fraction == Decimal("0.04")
        assert bid.price * bid.quantity <= Decimal("100000") * Decimal("0.04") * Decimal("1.01")
    offers = [o for o in result.orders if o.order_type is OrderType.LIMIT and o.side == "sell"]
    assert offers
    assert all(o.time_in_force is TimeInForce.GTC for o in offers)


def test_the_rsi_is_warm_at_the_first_traded_bar() -> None:
    strategy = load_strategy(PATH, Settings().strategy, {})
    assert isinstance(strategy, RsiReversion)
    assert strategy.warmup == timedelta(minutes=5 * 15)
    result = run({"oversold": "49"})  # a bid at nearly every dip: the first as early as it can
    first = min(s.ts_event for s in result.signals)
    assert first >= SYNTHETIC_START  # nothing traded on the warm-up before it
    assert first < SYNTHETIC_START + timedelta(hours=1)


def test_its_parameters_change_what_it_does() -> None:
    assert len(run({"oversold": "20"}).orders) < len(run({"oversold": "40"}).orders)


def test_a_wrong_parameter_is_one_line() -> None:
    with pytest.raises(StrategyParamsError, match="parameter overbought=40: Input should be"):
        load_strategy(PATH, Settings().strategy, {"overbought": "40"})
