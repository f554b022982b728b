"""Risk: sizing in base units, every limit, exits that are never blocked, alerts raised once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.market import MarketState
from engine.domain.risk import (
    PortfolioView,
    RiskEngine,
    RiskOutcome,
    RiskReason,
    size_quantity,
)
from engine.events import (
    AlertLevel,
    AlertRaised,
    OrderSubmitted,
    QuoteTick,
    RiskDecided,
    SignalGenerated,
    TradeTick,
    decode_event,
    encode_event,
)
from engine.events.orders import OrderSide, OrderType, TimeInForce
from engine.settings import RiskSettings

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
STALE_AFTER = timedelta(seconds=120)
BTC = "BTCUSDT"
ETH = "ETHUSDT"


@dataclass
class FakePortfolio:
    """The outside of the risk unit: just the figures risk reads."""

    equity: Decimal = Decimal(100_000)
    exposure: Decimal = Decimal(0)
    daily_drawdown: Decimal = Decimal(0)
    max_drawdown: Decimal = Decimal(0)
    holdings: dict[str, Decimal] = field(default_factory=dict)

    def quantity(self, symbol: str) -> Decimal:
        return self.holdings.get(symbol, Decimal(0))


def make_engine(**limits: object) -> RiskEngine:
    return RiskEngine(RiskSettings(**limits), STALE_AFTER, run_id="run-1")


def quote(
    symbol: str = BTC, *, bid: str = "94990", ask: str = "95000", at: datetime = NOW
) -> QuoteTick:
    return QuoteTick(
        event_id=f"q-{symbol}-{at.timestamp()}",
        ts_event=at,
        ts_init=at,
        source="synthetic",
        symbol=symbol,
        bid_price=Decimal(bid),
        bid_quantity=Decimal(1),
        ask_price=Decimal(ask),
        ask_quantity=Decimal(1),
    )


def trade(symbol: str = BTC, *, price: str = "95000", at: datetime = NOW) -> TradeTick:
    return TradeTick(
        event_id=f"t-{symbol}-{at.timestamp()}",
        ts_event=at,
        ts_init=at,
        source="synthetic",
        symbol=symbol,
        price=Decimal(price),
        quantity=Decimal("0.5"),
        side="buy",
    )


def market_with(*events: QuoteTick | TradeTick) -> MarketState:
    market = MarketState()
    for event in events or (quote(),):
        market.apply(event)
    return market


def signal(
    side: str = "buy", symbol: str = BTC, *, number: int = 1, **asks: object
) -> SignalGenerated:
    return SignalGenerated(
        event_id=f"sig-{number}",
        ts_event=NOW,
        ts_init=NOW,
        source="strategy",
        run_id="run-1",
        symbol=symbol,
        side=side,
        strategy="momentum",
        confidence=Decimal("0.7"),
        reference_price=Decimal(95000),
        **asks,
    )


def buy(
    engine: RiskEngine,
    portfolio: PortfolioView,
    market: MarketState,
    now: datetime = NOW,
    number: int = 1,
) -> RiskOutcome:
    return engine.decide(signal("buy", number=number), portfolio, market, now)


def sell(
    engine: RiskEngine, portfolio: PortfolioView, market: MarketState, now: datetime = NOW
) -> RiskOutcome:
    return engine.decide(signal("sell", number=2), portfolio, market, now)


# -- sizing ------------------------------------------------------------------------------


def test_decide_when_buy_asks_equity_fraction_below_the_room_then_sized_to_it_by_hand() -> None:
    engine = make_engine(max_position="0.05", max_exposure="0.10")
    asked = signal(equity_fraction=Decimal("0.02"))

    outcome = engine.decide(asked, FakePortfolio(equity=Decimal(100_000)), market_with(), NOW)

    assert outcome.order is not None
    # 2 % of 100,000 = 2,000 USDT at the ask 95,000: floor(2000 / 95000, 8 places) BTC.
    assert outcome.order.quantity == Decimal("0.02105263")
    assert outcome.decision.detail is not None
    assert "asked 2% of equity = 2000" in outcome.decision.detail
    assert "capped" not in outcome.decision.detail


def test_decide_when_buy_asks_more_than_the_limits_then_capped_and_says_so() -> None:
    engine = make_engine(max_position="0.05", max_exposure="0.10")
    asked = signal(quote_amount=Decimal(20_000))

    outcome = engine.decide(asked, FakePortfolio(equity=Decimal(100_000)), market_with(), NOW)

    assert outcome.order is not None
    assert outcome.order.quantity == size_quantity(Decimal(5000), Decimal(95000))
    assert outcome.decision.detail is not None
    assert "asked 20000, capped at the room 5000" in outcome.decision.detail


def test_decide_when_limit_buy_then_limit_order_sized_at_its_limit_price() -> None:
    engine = make_engine(max_position="0.05", max_exposure="0.10")
    asked = signal(
        order_type="limit",
        limit_price=Decimal(90_000),
        time_in_force="gtc",
        quote_amount=Decimal(1800),
    )

    outcome = engine.decide(asked, FakePortfolio(), market_with(), NOW)

    order = outcome.order
    assert order is not None
    assert order.order_type is OrderType.LIMIT
    assert order.price == Decimal(90_000)
    assert order.time_in_force is TimeInForce.GTC
    assert order.quantity == Decimal("0.02")  # 1,800 / 90,000 exactly
    assert order.decision_price == Decimal(95_000)  # the ask when it was decided


def test_decide_when_sell_asks_part_of_the_holding_then_that_part_rounded_down() -> None:
    portfolio = FakePortfolio(holdings={BTC: Decimal("0.12345679")})
    asked = signal("sell", number=2, close_fraction=Decimal("0.5"))

    outcome = make_engine().decide(asked, portfolio, market_with(), NOW)

    assert outcome.reason_code == RiskReason.APPROVED_EXIT
    assert outcome.order is not None
    assert outcome.order.quantity == Decimal("0.06172839")  # half, floored to the step
    assert outcome.decision.detail is not None
    assert "50% of 0.12345679 held" in outcome.decision.detail


def test_decide_when_sell_part_rounds_to_nothing_then_nothing_to_sell() -> None:
    portfolio = FakePortfolio(holdings={BTC: Decimal("0.00000001")})
    asked = signal("sell", number=2, close_fraction=Decimal("0.5"))

    outcome = make_engine().decide(asked, portfolio, market_with(), NOW)

    assert outcome.reason_code == RiskReason.NOTHING_TO_SELL
    assert outcome.order is None


def test_decide_when_limit_sell_then_limit_order_of_the_holding() -> None:
    portfolio = FakePortfolio(holdings={BTC: Decimal("0.5")})
    asked = signal("sell", number=2, order_type="limit", limit_price=Decimal(99_000))

    outcome = make_engine().decide(asked, portfolio, market_with(), NOW)

    assert outcome.order is not None
    assert (outcome.order.order_type, outcome.order.price) == (OrderType.LIMIT, Decimal(99_000))
    assert outcome.order.quantity == Decimal("0.5")


def test_decide_when_buy_btc_at_95000_then_quantity_in_btc_not_usdt() -> None:
    engine = make_engine(max_position="0.05", max_exposure="0.10")

    outcome = buy(engine, FakePortfolio(equity=Decimal(100_000)), market_with(quote(ask="95000")))

    assert outcome.approved
    assert outcome.reason_code == RiskReason.APPROVED
    order = outcome.order
    assert order is not None
    assert order.quantity == Decimal("0.05263157")  # BTC, never 5000
    notional = order.quantity * Decimal(95000)
    assert notional <= Decimal(5000)
    assert notional > Decimal("4999.99")
    assert order.side is OrderSide.BUY
    assert order.order_type is OrderType.MARKET
    assert order.price is None


def test_decide_when_approved_then_ids_times_and_run_derive_from_signal() -> None:
    outcome = buy(make_engine(), FakePortfolio(), market_with())

    assert outcome.decision.event_id == "rd-sig-1"
    assert outcome.decision.signal_id == "sig-1"
    assert outcome.decision.order_id == "o-sig-1"
    assert outcome.order is not None
    assert outcome.order.order_id == outcome.order.event_id == "o-sig-1"
    assert outcome.order.signal_id == "sig-1"
    for event in (outcome.decision, outcome.order):
        assert event.ts_event == event.ts_init == NOW
        assert event.run_id == "run-1"
        assert event.source == "engine.risk"


@pytest.mark.parametrize(
    ("notional", "price", "step", "expected"),
    [
        ("5000", "95000", "0.00000001", "0.05263157"),
        ("5000", "3000", "0.001", "1.666"),
        ("100", "0.37", "1", "270"),
        ("0", "95000", "0.00000001", "0"),
        ("-10", "95000", "0.00000001", "0"),
        ("0.0000001", "95000", "0.00000001", "0"),
    ],
)
def test_size_quantity_when_sized_then_rounded_down_to_step(
    notional: str, price: str, step: str, expected: str
) -> None:
    quantity = size_quantity(Decimal(notional), Decimal(price), Decimal(step))

    assert quantity == Decimal(expected)
    assert quantity * Decimal(price) <= max(Decimal(notional), Decimal(0))


def test_size_quantity_when_price_not_positive_then_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        size_quantity(Decimal(100), Decimal(0))


def test_decide_when_exposure_room_smaller_than_position_then_size_capped() -> None:
    portfolio = FakePortfolio(exposure=Decimal(7000))  # room 10,000 - 7,000 = 3,000

    outcome = buy(make_engine(), portfolio, market_with())

    assert outcome.reason_code == RiskReason.APPROVED
    assert outcome.order is not None
    assert outcome.order.quantity == size_quantity(Decimal(3000), Decimal(95000))
    assert outcome.order.quantity * Decimal(95000) <= Decimal(3000)


@pytest.mark.parametrize("exposure", ["9998", "10000", "12000"])
def test_decide_when_exposure_room_below_min_notional_then_denied_max_exposure(
    exposure: str,
) -> None:
    outcome = buy(make_engine(), FakePortfolio(exposure=Decimal(exposure)), market_with())

    assert not outcome.approved
    assert outcome.reason_code == RiskReason.MAX_EXPOSURE
    assert outcome.order is None
    assert outcome.decision.order_id is None


def test_decide_when_order_value_below_min_notional_then_denied() -> None:
    portfolio = FakePortfolio(equity=Decimal(80))  # 5% of 80 = 4 USDT < 5

    outcome = buy(make_engine(), portfolio, market_with())

    assert outcome.reason_code == RiskReason.MIN_NOTIONAL
    assert outcome.order is None
    assert "below the minimum 5" in (outcome.decision.detail or "")


def test_decide_when_equity_not_positive_then_denied_no_equity() -> None:
    outcome = buy(make_engine(), FakePortfolio(equity=Decimal(-5)), market_with())

    assert outcome.reason_code == RiskReason.NO_EQUITY


def test_decide_when_holding_part_of_max_position_then_adds_only_the_rest() -> None:
    held = Decimal("0.03")  # worth 0.03 x mark 94,995 = 2,849.85
    portfolio = FakePortfolio(exposure=Decimal("2849.85"), holdings={BTC: held})

    outcome = buy(make_engine(), portfolio, market_with())

    assert outcome.reason_code == RiskReason.APPROVED
    assert outcome.order is not None
    room = Decimal(5000) - held * Decimal(94995)
    assert outcome.order.quantity == size_quantity(room, Decimal(95000))


def test_decide_when_already_at_max_position_then_denied_max_position() -> None:
    portfolio = FakePortfolio(exposure=Decimal(5000), holdings={BTC: Decimal("0.0527")})

    outcome = buy(make_engine(), portfolio, market_with())

    assert outcome.reason_code == RiskReason.MAX_POSITION
    assert outcome.order is None


# -- exits -------------------------------------------------------------------------------


def _halted(engine: RiskEngine, portfolio: FakePortfolio) -> MarketState:
    portfolio.max_drawdown = Decimal("0.09")
    engine.check(portfolio, NOW)
    return market_with()


def _stale(engine: RiskEngine, portfolio: FakePortfolio) -> MarketState:
    return market_with(quote(at=NOW - timedelta(minutes=10)))


def _over_exposure(engine: RiskEngine, portfolio: FakePortfolio) -> MarketState:
    portfolio.exposure = Decimal(25_000)
    return market_with()


def _kill_switch(engine: RiskEngine, portfolio: FakePortfolio) -> MarketState:
    engine.engage_kill_switch("operator stop")
    return market_with()


def _daily_drawdown(engine: RiskEngine, portfolio: FakePortfolio) -> MarketState:
    portfolio.daily_drawdown = Decimal("0.06")
    return market_with()


@pytest.mark.parametrize(
    ("condition", "entry_reason"),
    [
        (_halted, RiskReason.HALTED),
        (_stale, RiskReason.STALE_MARKET_DATA),
        (_over_exposure, RiskReason.MAX_EXPOSURE),
        (_kill_switch, RiskReason.KILL_SWITCH),
        (_daily_drawdown, RiskReason.DAILY_DRAWDOWN),
    ],
    ids=["halted", "stale", "over_exposure", "kill_switch", "daily_drawdown"],
)
def test_decide_when_sell_under_blocking_condition_then_exit_approved_for_whole_holding(
    condition: Callable[[RiskEngine, FakePortfolio], MarketState], entry_reason: RiskReason
) -> None:
    engine = make_engine()
    portfolio = FakePortfolio(holdings={BTC: Decimal("0.01"), ETH: Decimal(7)})
    market = condition(engine, portfolio)

    entry = buy(engine, portfolio, market)
    exit_ = sell(engine, portfolio, market)

    assert entry.reason_code == entry_reason
    assert exit_.reason_code == RiskReason.APPROVED_EXIT
    assert exit_.order is not None
    assert exit_.order.side is OrderSide.SELL
    assert exit_.order.order_type is OrderType.MARKET
    assert exit_.order.quantity == Decimal("0.01")
    assert exit_.order.price is None


def test_decide_when_sell_without_holding_then_denied_nothing_to_sell() -> None:
    outcome = sell(make_engine(), FakePortfolio(holdings={ETH: Decimal(1)}), market_with())

    assert outcome.reason_code == RiskReason.NOTHING_TO_SELL
    assert outcome.order is None


def test_decide_when_sell_dust_below_storable_amount_then_nothing_to_sell() -> None:
    portfolio = FakePortfolio(holdings={BTC: Decimal("1E-19")})

    assert sell(make_engine(), portfolio, market_with()).reason_code == RiskReason.NOTHING_TO_SELL


# -- market price and circuit breaker -----------------------------------------------------


def test_decide_when_no_market_price_then_entry_and_exit_denied() -> None:
    engine = make_engine()
    portfolio = FakePortfolio(holdings={BTC: Decimal(1)})
    empty = MarketState()

    assert buy(engine, portfolio, empty).reason_code == RiskReason.NO_MARKET_PRICE
    assert sell(engine, portfolio, empty).reason_code == RiskReason.NO_MARKET_PRICE


def test_decide_when_only_last_trade_known_then_sized_at_last_price() -> None:
    outcome = buy(make_engine(), FakePortfolio(), market_with(trade(price="50000")))

    assert outcome.order is not None
    assert outcome.order.quantity == Decimal("0.1")


def test_circuit_breaker_when_data_stale_then_one_alert_denial_and_recovery() -> None:
    engine, portfolio = make_engine(), FakePortfolio()
    market = market_with(quote(at=NOW))

    assert engine.check_market(market, [BTC], NOW + timedelta(seconds=120)) == []
    tripped = [
        alert
        for second in range(121, 300, 10)
        for alert in engine.check_market(market, [BTC], NOW + timedelta(seconds=second))
    ]
    denied = buy(engine, portfolio, market, NOW + timedelta(seconds=300))
    market.apply(quote(at=NOW + timedelta(seconds=310)))
    cleared = engine.check_market(market, [BTC], NOW + timedelta(seconds=311))
    cleared += engine.check_market(market, [BTC], NOW + timedelta(seconds=312))
    resumed = buy(engine, portfolio, market, NOW + timedelta(seconds=312), number=2)

    assert [(a.code, a.level, a.symbol, a.cleared) for a in tripped] == [
        ("market_data_stale", AlertLevel.WARNING, BTC, False)
    ]
    assert denied.reason_code == RiskReason.STALE_MARKET_DATA
    assert denied.alerts == ()  # already raised by check_market
    assert [(a.code, a.symbol, a.cleared) for a in cleared] == [("market_data_stale", BTC, True)]
    assert [str(a.level) for a in cleared] == ["info"]  # good news is not a warning
    assert resumed.reason_code == RiskReason.APPROVED


def test_decide_when_breaker_trips_on_a_signal_then_outcome_carries_the_alert() -> None:
    engine = make_engine()
    market = market_with(quote(at=NOW - timedelta(minutes=5)))

    first = buy(engine, FakePortfolio(), market)
    second = buy(engine, FakePortfolio(), market, number=2)

    assert first.reason_code == second.reason_code == RiskReason.STALE_MARKET_DATA
    assert [(a.code, a.symbol) for a in first.alerts] == [("market_data_stale", BTC)]
    assert second.alerts == ()


def test_check_market_when_symbol_never_seen_then_alert_after_stale_after() -> None:
    engine = make_engine()
    market = market_with(quote(BTC, at=NOW))

    at_start = engine.check_market(market, [BTC, ETH], NOW)
    later = engine.check_market(market, [BTC, ETH], NOW + timedelta(seconds=100))
    dead = engine.check_market(market, [ETH], NOW + timedelta(seconds=121))

    assert at_start == later == []
    assert [(a.symbol, a.cleared) for a in dead] == [(ETH, False)]
    assert "no data received" in dead[0].message


# -- drawdown ----------------------------------------------------------------------------


def test_decide_when_daily_drawdown_hit_then_entries_blocked_rest_of_utc_day() -> None:
    engine, market = make_engine(), market_with()
    portfolio = FakePortfolio(daily_drawdown=Decimal("0.05"))
    late = NOW.replace(hour=23, minute=59, second=59)
    next_day = datetime(2026, 1, 6, 0, 0, 1, tzinfo=UTC)

    hit = buy(engine, portfolio, market)
    portfolio.daily_drawdown = Decimal("0.01")  # equity recovered the same day
    market.apply(quote(at=late))
    still = buy(engine, portfolio, market, late, number=2)
    portfolio.daily_drawdown = Decimal(0)  # the portfolio resets at UTC midnight
    market.apply(quote(at=next_day))
    rolled = engine.check(portfolio, next_day)
    resumed = buy(engine, portfolio, market, next_day, number=3)

    assert hit.reason_code == still.reason_code == RiskReason.DAILY_DRAWDOWN
    assert [(a.code, a.cleared) for a in hit.alerts] == [("daily_drawdown", False)]
    assert still.alerts == ()
    assert [(a.code, a.cleared) for a in rolled] == [("daily_drawdown", True)]
    assert resumed.reason_code == RiskReason.APPROVED


def test_decide_when_daily_drawdown_below_limit_then_entry_allowed() -> None:
    portfolio = FakePortfolio(daily_drawdown=Decimal("0.0499"))

    assert buy(make_engine(), portfolio, market_with()).reason_code == RiskReason.APPROVED


def test_check_when_max_drawdown_above_abort_then_one_critical_alert_and_halt() -> None:
    engine = make_engine()
    portfolio = FakePortfolio(max_drawdown=Decimal("0.08"))

    at_level = engine.check(portfolio, NOW)  # 8% is not above 8%
    portfolio.max_drawdown = Decimal("0.0801")
    alerts = [
        alert
        for minute in range(100)
        for alert in engine.check(portfolio, NOW + timedelta(minutes=minute))
    ]
    portfolio.max_drawdown = Decimal("0.01")
    after = engine.check(portfolio, NOW + timedelta(hours=3))

    critical = [a for a in alerts if a.level is AlertLevel.CRITICAL]
    assert all(a.code != "abort_drawdown" for a in at_level)
    assert [(a.code, a.cleared) for a in critical] == [("abort_drawdown", False)]
    assert engine.halted
    assert all(a.code != "abort_drawdown" for a in after)
    denied = buy(engine, portfolio, market_with(quote(at=NOW + timedelta(hours=3))))
    assert denied.reason_code == RiskReason.HALTED


def test_check_when_drawdown_crosses_alert_level_then_one_warning_per_crossing() -> None:
    engine = make_engine()
    portfolio = FakePortfolio()
    seen: list[AlertRaised] = []

    for index, drawdown in enumerate(["0.01", "0.031", "0.032", "0.035", "0.02", "0.01", "0.04"]):
        portfolio.max_drawdown = Decimal(drawdown)
        seen += engine.check(portfolio, NOW + timedelta(minutes=index))

    assert [(a.code, a.level, a.cleared) for a in seen] == [
        ("drawdown", AlertLevel.WARNING, False),
        ("drawdown", AlertLevel.WARNING, True),
        ("drawdown", AlertLevel.WARNING, False),
    ]
    assert len({a.event_id for a in seen}) == 3


def test_alerts_when_raised_then_ids_deterministic_and_source_is_risk() -> None:
    def run() -> list[AlertRaised]:
        engine = make_engine()
        return engine.check(FakePortfolio(max_drawdown=Decimal("0.1")), NOW)

    first, second = run(), run()

    assert first == second
    assert {a.code for a in first} == {"abort_drawdown", "drawdown"}
    for alert in first:
        assert alert.source == "engine.risk"
        assert alert.ts_event == alert.ts_init == NOW
        assert alert.run_id == "run-1"
        assert alert.event_id.startswith(f"alert-run-1-{alert.code}-all-raised-")


# -- kill switch, state, time --------------------------------------------------------------


def test_kill_switch_when_engaged_then_entries_denied_until_released() -> None:
    engine, market = make_engine(), market_with()
    engine.engage_kill_switch("manual stop")

    stopped = buy(engine, FakePortfolio(), market)
    engine.release_kill_switch()
    resumed = buy(engine, FakePortfolio(), market, number=2)

    assert stopped.reason_code == RiskReason.KILL_SWITCH
    assert "manual stop" in (stopped.decision.detail or "")
    assert resumed.reason_code == RiskReason.APPROVED


def test_state_when_handed_to_new_engine_then_halt_and_breaker_survive() -> None:
    engine = make_engine()
    engine.check(FakePortfolio(max_drawdown=Decimal("0.09")), NOW)
    engine.check_market(MarketState(), [ETH], NOW)
    engine.check_market(MarketState(), [ETH], NOW + timedelta(minutes=5))

    restored = RiskEngine(RiskSettings(), STALE_AFTER, state=engine.state)

    assert restored.halted
    assert restored.check(FakePortfolio(max_drawdown=Decimal("0.09")), NOW) == []
    assert restored.state.stale_symbols == {ETH}
    assert buy(restored, FakePortfolio(), market_with()).reason_code == RiskReason.HALTED


def test_decide_when_now_is_naive_then_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        buy(make_engine(), FakePortfolio(), market_with(), NOW.replace(tzinfo=None))


def test_decide_when_same_input_twice_then_identical_output() -> None:
    def run() -> RiskOutcome:
        return buy(make_engine(), FakePortfolio(exposure=Decimal(1234)), market_with())

    assert run() == run()


# -- properties over random portfolios and prices ----------------------------------------

amounts = st.decimals(min_value="0", max_value="1000000000", places=2)
fractions = st.decimals(min_value="0", max_value="1", places=4)
prices = st.decimals(min_value="0.0001", max_value="1000000", places=4)


@settings(max_examples=300, deadline=None)
@given(
    equity=amounts,
    exposure=amounts,
    held=st.decimals(min_value="0", max_value="1000", places=8),
    ask=prices,
    max_position=fractions,
    max_exposure=fractions,
    side=st.sampled_from(["buy", "sell"]),
)
def test_decide_when_random_inputs_then_valid_decision_and_bounded_base_quantity(
    equity: Decimal,
    exposure: Decimal,
    held: Decimal,
    ask: Decimal,
    max_position: Decimal,
    max_exposure: Decimal,
    side: str,
) -> None:
    engine = make_engine(max_position=max_position, max_exposure=max_exposure)
    portfolio = FakePortfolio(equity=equity, exposure=exposure, holdings={BTC: held})
    market = market_with(quote(bid=str(ask), ask=str(ask)))

    outcome = engine.decide(signal(side), portfolio, market, NOW)

    assert decode_event(encode_event(outcome.decision)) == outcome.decision
    assert RiskDecided.model_validate(outcome.decision.model_dump()) == outcome.decision
    assert outcome.approved == (outcome.order is not None)
    if outcome.order is None:
        return
    order = outcome.order
    assert OrderSubmitted.model_validate(order.model_dump()) == order
    assert order.price is None
    if side == "sell":
        assert order.quantity == held
        return
    with localcontext(prec=80):
        notional = order.quantity * ask
        assert notional <= equity * max_position - held * ask
        assert notional <= equity * max_exposure - exposure
        assert notional >= Decimal(5)
    assert order.quantity % Decimal("0.00000001") == 0
