"""The paper execution model: prices from the market, slippage, fees, latency, partial fills."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.execution import EXECUTION_SOURCE, PaperExecution, derived_id
from engine.domain.fill_limits import FillLimits
from engine.domain.fills import Fill
from engine.domain.market import MarketData, MarketState
from engine.events import (
    Candle,
    OrderResultReported,
    OrderSubmitted,
    QuoteTick,
    TradeTick,
    decode_event,
    encode_event,
)
from engine.events.orders import OrderSide, OrderStatus, OrderType
from engine.settings import ExecutionSettings, RiskSettings

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
BTC = "BTCUSDT"
D = Decimal
CASH = D(100000)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def trade(ms: int, price: str | Decimal, quantity: str | Decimal = "100", symbol: str = BTC):
    return TradeTick(
        ts_event=at(ms),
        source="synthetic",
        symbol=symbol,
        price=D(price),
        quantity=D(quantity),
        side="buy",
    )


def quote(ms: int, bid: str | Decimal, ask: str | Decimal, symbol: str = BTC) -> QuoteTick:
    return QuoteTick(
        ts_event=at(ms),
        source="synthetic",
        symbol=symbol,
        bid_price=D(bid),
        bid_quantity=D(1),
        ask_price=D(ask),
        ask_quantity=D(1),
    )


def candle(ms: int, close: str | Decimal, volume: str | Decimal = "100") -> Candle:
    return Candle(
        ts_event=at(ms),
        source="synthetic",
        symbol=BTC,
        open_time=at(ms) - timedelta(minutes=1),
        close_time=at(ms),
        open=D(close),
        high=D(close),
        low=D(close),
        close=D(close),
        volume=D(volume),
        quote_volume=D(volume) * D(close),
    )


def order(
    order_id: str = "o1",
    *,
    side: str = "buy",
    quantity: str | Decimal = "0.1",
    price: str | Decimal | None = None,
    ms: int = 0,
    symbol: str = BTC,
    expires_at: datetime | None = None,
    time_in_force: str | None = None,
) -> OrderSubmitted:
    return OrderSubmitted(
        event_id=f"order-{order_id}",
        ts_event=at(ms),
        source="engine.risk",
        run_id="run-1",
        order_id=order_id,
        symbol=symbol,
        side=side,
        order_type="market" if price is None else "limit",
        quantity=D(quantity),
        price=None if price is None else D(price),
        expires_at=expires_at,
        time_in_force=time_in_force,
    )


@dataclass
class Venue:
    """A market state and the execution model reading it, fed like the service feeds them."""

    execution: PaperExecution
    market: MarketState = field(default_factory=MarketState)

    def feed(self, *events: MarketData) -> list[OrderResultReported]:
        results: list[OrderResultReported] = []
        for event in events:
            self.market.apply(event)
            results += self.execution.on_market_data(event, event.ts_event)
        return results

    def submit(self, submitted: OrderSubmitted) -> list[OrderResultReported]:
        return self.execution.submit(submitted, submitted.ts_event)


def venue(**overrides: object) -> Venue:
    """Return a venue with zero latency unless told otherwise, and the default fees."""
    execution_settings = ExecutionSettings(**{"latency_ms": 0, **overrides})
    market = MarketState()
    return Venue(PaperExecution(execution_settings, market), market)


def only(results: list[OrderResultReported]) -> OrderResultReported:
    assert len(results) == 1, results
    return results[0]


# -- market orders ---------------------------------------------------------------------


def test_market_buy_when_quote_known_then_fills_at_ask_plus_slippage() -> None:
    v = venue()
    v.feed(trade(0, "95000", quantity="100"), quote(1, "94990", "95010"))

    result = only(v.submit(order(ms=2)))

    # slippage = 1 bp base + 10 bp x 0.1 / 100 = 1.01 bp above the ask
    assert result.status is OrderStatus.FILLED
    assert result.reference_price == D("95010")
    assert result.execution_price == D("95019.59601")
    assert result.slippage_bps == D("1.01")
    assert result.filled_quantity == D("0.1")
    assert result.fee == D("0.1") * D("95019.59601") * D("0.0005")
    assert result.fee_currency == "USDT"
    assert result.trade_id == "o1:f1"


def test_market_sell_when_quote_known_then_fills_at_bid_minus_slippage() -> None:
    v = venue()
    v.feed(trade(0, "95000", quantity="100"), quote(1, "94990", "95010"))

    result = only(v.submit(order(side="sell", ms=2)))

    assert result.reference_price == D("94990")
    assert result.execution_price == D("94980.40601")
    assert result.slippage_bps == D("1.01")  # positive: worse for the seller


@pytest.mark.parametrize(
    "last", [trade(0, "95000", quantity="100"), candle(0, "95000", volume="100")]
)
def test_market_buy_when_no_quote_then_fills_at_last_trade_or_close(last: MarketData) -> None:
    v = venue()
    v.feed(last)

    result = only(v.submit(order(ms=1)))

    assert result.reference_price == D("95000")
    assert result.execution_price == D("95000") * D("1.000101")


@pytest.mark.parametrize(
    ("quantity", "cap_bps", "expected_bps"),
    [
        ("0.1", "50", "1.01"),
        ("1", "50", "1.1"),
        ("10", "50", "2"),
        ("50", "50", "6"),
        ("100", "50", "11"),
        ("50", "5", "5"),
    ],
)
def test_slippage_when_order_grows_against_volume_then_grows_up_to_the_cap(
    quantity: str, cap_bps: str, expected_bps: str
) -> None:
    v = venue(partial_fill_fraction="1", slippage_cap_bps=cap_bps)
    v.feed(trade(0, "100", quantity="100"))

    result = v.submit(order(quantity=quantity, ms=1))[0]

    assert result.slippage_bps == D(expected_bps)


def test_market_order_when_no_recent_volume_then_cap_slippage_and_whole_fill() -> None:
    v = venue()
    v.feed(quote(0, "99", "100"))  # quotes carry no traded volume

    result = only(v.submit(order(quantity="5", ms=1)))

    assert result.status is OrderStatus.FILLED
    assert result.filled_quantity == D(5)
    assert result.slippage_bps == D(50)
    assert result.execution_price == D("100.5")


def test_taker_fee_when_no_slippage_then_exactly_five_basis_points() -> None:
    v = venue(slippage_base_bps="0", slippage_impact_bps="0")
    v.feed(trade(0, "95000", quantity="100"))

    result = only(v.submit(order(quantity="0.1", ms=1)))

    assert result.execution_price == D(95000)
    assert result.fee == D("4.75")


def test_market_order_when_price_is_huge_then_fee_is_still_exact() -> None:
    # 12 digits before the point: beyond what an 18-place quantise fits in 28 digits.
    v = venue(slippage_base_bps="0", slippage_impact_bps="0")
    v.feed(trade(0, "123456789012.5", quantity="100"))

    result = only(v.submit(order(quantity="0.3", ms=1)))

    assert result.fee == D("18518518.351875")


def test_sell_when_slippage_cap_exceeds_the_price_then_price_stays_positive() -> None:
    v = venue(slippage_cap_bps="20000")
    v.feed(quote(0, "10", "11"))

    result = only(v.submit(order(side="sell", quantity="1", ms=1)))

    assert result.execution_price is not None
    assert result.execution_price > 0


@pytest.mark.parametrize("latency_ms", [0, 50])
def test_market_order_when_no_price_for_symbol_then_rejected_with_reason(latency_ms: int) -> None:
    v = venue(latency_ms=latency_ms)
    v.feed(trade(0, "3000", symbol="ETHUSDT"))

    result = only(v.submit(order(ms=1)))

    assert result.status is OrderStatus.REJECTED
    assert result.reason == "no market price for BTCUSDT"
    assert result.filled_quantity == 0
    assert result.execution_price is None
    assert result.trade_id is None
    assert v.execution.open_orders() == []


def test_limit_order_when_no_price_for_symbol_then_rejected() -> None:
    v = venue()

    result = only(v.submit(order(price="95000")))

    assert result.status is OrderStatus.REJECTED


# -- latency ---------------------------------------------------------------------------


def test_latency_when_price_moves_before_it_elapses_then_fill_uses_first_price_after() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0")
    v.feed(quote(0, "94990", "95010"))

    assert v.submit(order(ms=10)) == []
    assert v.feed(quote(40, "95090", "95100")) == []  # 30 ms after the order: still waiting
    result = only(v.feed(quote(70, "94000", "94100")))

    assert result.reference_price == D(94100)
    assert result.execution_price == D(94100)
    assert result.ts_event == at(70)
    assert v.execution.open_orders() == []


def test_latency_when_data_arrives_exactly_at_order_time_plus_latency_then_fills_there() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0")
    v.feed(quote(0, "94990", "95010"))
    v.submit(order(ms=10))

    assert v.feed(quote(59, "95090", "95100")) == []
    result = only(v.feed(quote(60, "95190", "95200")))

    assert result.reference_price == D(95200)
    assert result.execution_price == D(95200)
    assert result.ts_event == at(60)


def test_latency_when_only_other_symbols_trade_then_order_keeps_waiting() -> None:
    v = venue(latency_ms=50)
    v.feed(quote(0, "94990", "95010"), quote(0, "2999", "3001", symbol="ETHUSDT"))
    v.submit(order(ms=0))

    assert v.feed(quote(100, "2999", "3001", symbol="ETHUSDT")) == []
    waiting = v.execution.open_order("o1")
    assert waiting is not None
    assert waiting.fillable_from == at(50)
    assert waiting.remaining_quantity == D("0.1")


def bar(
    close_ms: int,
    open_: str,
    close: str,
    *,
    volume: str = "100",
    minutes: int = 1,
    gap_ms: int = 0,
) -> Candle:
    """A candle closing at `close_ms`, opened `minutes` earlier (plus `gap_ms`: MEXC candles
    close 1 ms before the next opens)."""
    high, low = max(D(open_), D(close)), min(D(open_), D(close))
    return Candle(
        ts_event=at(close_ms),
        source="replay",
        symbol=BTC,
        open_time=at(close_ms) - timedelta(minutes=minutes) + timedelta(milliseconds=gap_ms),
        close_time=at(close_ms),
        open=D(open_),
        high=high,
        low=low,
        close=D(close),
        volume=D(volume),
        quote_volume=D(volume) * D(close),
    )


MINUTE_MS = 60_000


@pytest.mark.parametrize("gap_ms", [0, 1])  # synthetic bars touch, MEXC's leave 1 ms
def test_latency_when_only_candles_then_fills_at_the_next_candles_open(gap_ms: int) -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0")
    v.feed(bar(0, "95000", "95100", gap_ms=gap_ms))  # the strategy decides on this close
    v.submit(order(ms=0))

    result = only(v.feed(bar(MINUTE_MS, "95120", "96000", gap_ms=gap_ms)))

    assert result.reference_price == D(95120)  # the open, never the close a minute later
    assert result.execution_price == D(95120)
    assert result.ts_event == at(MINUTE_MS)  # booked when that candle is known
    assert result.status is OrderStatus.FILLED


def test_latency_when_candles_and_arrival_late_in_the_bar_then_its_close() -> None:
    v = venue(latency_ms=45_000, slippage_cap_bps="0")
    v.feed(bar(0, "95000", "95100"))
    v.submit(order(ms=0))

    result = only(v.feed(bar(MINUTE_MS, "95120", "96000")))

    assert result.reference_price == D(96000)  # 45 s in: the close (15 s away) is nearer


def test_latency_when_candles_and_decided_inside_a_bar_then_never_its_earlier_open() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0")
    v.feed(trade(-30_000, "95000"))
    v.submit(order(ms=-30_000))  # decided on a trade, half-way through the bar below

    result = only(v.feed(bar(0, "94000", "95500")))

    assert result.reference_price == D(95500)  # its open came before the decision


def test_latency_when_candles_and_remainder_then_each_later_fill_at_that_bars_open() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0", partial_fill_fraction="0.5")
    v.feed(bar(0, "100", "100", volume="0.5"))
    v.submit(order(quantity="0.8", ms=0))

    first = only(v.feed(bar(MINUTE_MS, "101", "109", volume="0.5")))  # half of 1.0 recent
    second = only(v.feed(bar(2 * MINUTE_MS, "102", "108", volume="0.5")))

    assert (first.filled_quantity, first.reference_price) == (D("0.5"), D(101))
    assert (second.filled_quantity, second.reference_price) == (D("0.3"), D(102))


# -- a market order's validity --------------------------------------------------------------

HOUR_MS = 60 * MINUTE_MS


def test_market_order_when_candles_resume_after_an_outage_then_expired_stale_not_filled() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0")
    v.feed(bar(0, "95000", "95100"))
    v.submit(order(ms=0))

    result = only(v.feed(bar(3 * HOUR_MS, "97000", "97100")))  # data returns 3 h later

    assert result.status is OrderStatus.EXPIRED
    assert result.filled_quantity == 0
    assert result.execution_price is None
    assert ": stale: no price of BTCUSDT within 5 s" in str(result.reason)
    assert v.execution.open_orders() == []


def test_market_order_when_the_next_trade_comes_within_its_validity_then_filled() -> None:
    v = venue(latency_ms=50)
    v.feed(trade(0, "95000"))
    v.submit(order(ms=0))

    assert only(v.feed(trade(5_050, "95010"))).status is OrderStatus.FILLED  # 5 s after arrival


def test_market_order_when_the_next_trade_comes_after_its_validity_then_expired_stale() -> None:
    v = venue(latency_ms=50)
    v.feed(trade(0, "95000"))
    v.submit(order(ms=0))

    result = only(v.feed(trade(5_051, "95010")))

    assert result.status is OrderStatus.EXPIRED
    assert "stale" in str(result.reason)


def test_market_order_when_ttl_is_longer_than_the_outage_then_filled_at_the_open() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0", market_order_ttl_seconds=4 * 3600)
    v.feed(bar(0, "95000", "95100"))
    v.submit(order(ms=0))

    result = only(v.feed(bar(3 * HOUR_MS, "97000", "97100")))

    assert (result.status, result.execution_price) == (OrderStatus.FILLED, D(97000))


def test_market_order_when_an_outage_follows_a_partial_fill_then_the_rest_expires_stale() -> None:
    v = venue(latency_ms=50, slippage_cap_bps="0", partial_fill_fraction="0.5")
    v.feed(bar(0, "100", "100", volume="0.5"))
    v.submit(order(quantity="0.8", ms=0))
    first = only(v.feed(bar(MINUTE_MS, "101", "109", volume="0.5")))

    rest = only(v.feed(bar(2 * HOUR_MS, "102", "108", volume="0.5")))

    assert (first.status, first.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D("0.5"))
    assert rest.status is OrderStatus.EXPIRED
    assert str(rest.reason).startswith("expired with 0.3 of 0.8 unfilled")


# -- limits at the fill ------------------------------------------------------------------


def limited_venue(cash: str = "100000", **limits: str) -> tuple[Venue, FillLimits]:
    market = MarketState()
    risk = RiskSettings(**{"max_position": "0.05", "max_exposure": "0.10", **limits})
    fill_limits = FillLimits(risk, market, D(cash))
    settings = ExecutionSettings(latency_ms=50, slippage_cap_bps="0")
    return Venue(PaperExecution(settings, market, limits=fill_limits), market), fill_limits


def position_share(result: OrderResultReported, cash: Decimal = CASH) -> Decimal:
    """The bought position's share of equity right after its fill (valued at the fill)."""
    assert result.execution_price is not None
    value = result.filled_quantity * result.execution_price
    equity = cash - value - result.fee + value
    return value / equity


def test_limits_at_fill_when_price_rose_after_the_decision_then_fill_reduced_rest_cancelled() -> (
    None
):
    v, _ = limited_venue()
    v.feed(bar(0, "100", "100", volume="1000000"))
    v.submit(order(quantity="50", ms=0))  # 5,000 at the decision: 5 % of equity

    results = v.feed(bar(MINUTE_MS, "110", "110", volume="1000000"))  # opens 10 % higher

    fill, rest = results
    assert fill.status is OrderStatus.PARTIALLY_FILLED
    assert fill.filled_quantity < D(50)
    assert position_share(fill) <= D("0.05")
    assert position_share(fill) > D("0.0499")  # as much as the limit lets through
    assert rest.status is OrderStatus.CANCELLED
    assert rest.reason is not None
    assert "limits at the fill" in rest.reason
    assert "position above 5%" in rest.reason
    assert v.execution.open_orders() == []


def test_limits_at_fill_when_price_fell_then_whole_order_fills() -> None:
    v, _ = limited_venue()
    v.feed(bar(0, "100", "100", volume="1000000"))
    v.submit(order(quantity="50", ms=0))

    fill = only(v.feed(bar(MINUTE_MS, "90", "90", volume="1000000")))

    assert (fill.status, fill.filled_quantity) == (OrderStatus.FILLED, D(50))


def test_limits_at_fill_when_exposure_full_then_rejected_with_reason() -> None:
    v, limits = limited_venue(min_notional="5")
    v.feed(bar(0, "100", "100", volume="1000000"), trade(1, "10", symbol="ETHUSDT"))
    limits.apply(
        Fill("t-eth", "o-eth", "ETHUSDT", OrderSide.BUY, D(1000), D(10), D(0), "USDT", at(1))
    )  # 10,000 of ETH: the whole 10 % exposure
    v.submit(order(quantity="10", ms=1))

    result = only(v.feed(bar(MINUTE_MS, "100", "100", volume="1000000")))

    assert result.status is OrderStatus.REJECTED
    assert result.reason is not None
    assert "exposure above 10%" in result.reason


def test_limits_at_fill_when_sell_then_never_limited() -> None:
    v, limits = limited_venue()
    v.feed(bar(0, "100", "100", volume="1000000"))
    limits.apply(Fill("t1", "o0", BTC, OrderSide.BUY, D(500), D(100), D(0), "USDT", at(0)))
    v.submit(order(side="sell", quantity="500", ms=0))  # 50 % of equity held: sell it all

    result = only(v.feed(bar(MINUTE_MS, "150", "150", volume="1000000")))

    assert (result.status, result.filled_quantity) == (OrderStatus.FILLED, D(500))


@settings(max_examples=200, deadline=None)
@given(
    decided=st.integers(min_value=50, max_value=200),
    opened=st.integers(min_value=50, max_value=200),
    held=st.integers(min_value=0, max_value=60),
    fee=st.sampled_from(["0", "0.0005", "0.01"]),
)
def test_limits_at_fill_property_no_fill_leaves_position_or_exposure_above_the_limit(
    decided: int, opened: int, held: int, fee: str
) -> None:
    market = MarketState()
    limits = FillLimits(RiskSettings(), market, D(100000))
    settings_ = ExecutionSettings(latency_ms=50, taker_fee=fee, slippage_base_bps="3")
    v = Venue(PaperExecution(settings_, market, limits=limits), market)
    v.feed(bar(0, str(decided), str(decided)))
    if held:
        limits.apply(Fill("t0", "o0", BTC, OrderSide.BUY, D(held), D(decided), D(0), "USDT", at(0)))
    v.submit(order(quantity=str(D(5000) / D(decided)), ms=0))

    results = v.feed(bar(MINUTE_MS, str(opened), str(opened)))

    cash = D(100000) - D(held) * D(decided)
    for result in results:
        if result.is_fill:
            assert result.execution_price is not None
            cash -= result.filled_quantity * result.execution_price + result.fee
            value = (D(held) + result.filled_quantity) * result.execution_price
            equity = cash + value
            assert value <= D("0.05") * equity
            assert value <= D("0.10") * equity


# -- partial fills ---------------------------------------------------------------------


def test_partial_fills_when_order_exceeds_volume_share_then_sum_exactly_to_quantity() -> None:
    v = venue(slippage_cap_bps="0")
    v.feed(trade(0, "100", quantity="1"))

    results = v.submit(order(quantity="0.35", ms=1))
    results += v.feed(trade(100, "101", quantity="1"))
    assert v.execution.open_order("o1") is not None
    results += v.feed(trade(200, "102", quantity="1"))

    assert [r.filled_quantity for r in results] == [D("0.1"), D("0.2"), D("0.05")]
    assert [r.status for r in results] == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert [r.execution_price for r in results] == [D(100), D(101), D(102)]
    assert sum(r.filled_quantity for r in results) == D("0.35")
    assert len({r.trade_id for r in results}) == 3
    assert all(r.quantity == D("0.35") for r in results)
    assert v.execution.open_orders() == []
    assert v.feed(trade(300, "103")) == []


def test_partial_fill_when_remainder_would_be_unstorable_then_fills_it_all() -> None:
    v = venue()
    v.feed(trade(0, "100", quantity="1"))

    result = only(v.submit(order(quantity="0.1000000000000000005", ms=1)))

    assert result.status is OrderStatus.FILLED
    assert result.filled_quantity == D("0.1000000000000000005")


def test_open_orders_when_partly_filled_then_show_remaining_quantity() -> None:
    v = venue()
    v.feed(trade(0, "100", quantity="1"))
    v.submit(order(quantity="0.25", ms=1))

    (open_order,) = v.execution.open_orders()

    assert open_order.order_id == "o1"
    assert open_order.remaining_quantity == D("0.15")
    assert open_order.filled_quantity == D("0.1")
    assert v.execution.open_orders("ETHUSDT") == []


def test_resubmitted_partly_filled_order_then_goes_on_with_the_same_fills_and_ids() -> None:
    """A resumed run submits a partly filled order again, saying what of it had filled:
    the rest fills as it would have, its results and trades numbered on."""
    first = venue(slippage_cap_bps="0")
    first.feed(trade(0, "100", quantity="1"))
    clean = first.submit(order(quantity="0.35", ms=1))
    clean += first.feed(trade(100, "101", quantity="1"), trade(200, "102", quantity="1"))

    again = venue(slippage_cap_bps="0")
    again.feed(trade(0, "100", quantity="1"))
    resubmitted = order(quantity="0.35", ms=1).model_copy(
        update={"filled_quantity": D("0.1"), "prior_fills": 1, "prior_results": 1}
    )
    assert again.submit(resubmitted) == []  # its first fill at submission happened already
    resumed = again.feed(trade(100, "101", quantity="1"), trade(200, "102", quantity="1"))

    assert resumed == clean[1:]
    assert [r.event_id for r in resumed] == ["o1:2", "o1:3"]
    assert [r.trade_id for r in resumed] == ["o1:f2", "o1:f3"]


def test_resubmitted_resting_limit_order_then_rests_without_a_second_acceptance() -> None:
    v = venue()
    v.feed(trade(0, "95000"))
    resting = order(price="94900", ms=1).model_copy(update={"prior_results": 1})

    assert v.submit(resting) == []
    (fill,) = v.feed(trade(10, "94850"))

    assert fill.event_id == "o1:2"
    assert fill.execution_price == D(94900)


def test_resubmitted_order_when_nothing_is_left_then_refused() -> None:
    fields = order(quantity="0.1").model_dump() | {"filled_quantity": "0.1"}
    with pytest.raises(ValueError, match="nothing would be left"):
        OrderSubmitted.model_validate(fields)


# -- limit orders ----------------------------------------------------------------------


def test_limit_buy_when_market_crosses_later_then_fills_at_limit_with_maker_fee() -> None:
    v = venue()
    v.feed(trade(0, "95000"), quote(1, "94990", "95010"))

    accepted = only(v.submit(order(price="94900", ms=2)))
    assert accepted.status is OrderStatus.ACCEPTED
    assert accepted.filled_quantity == 0
    assert v.feed(quote(100, "94950", "94960")) == []
    filled = only(v.feed(quote(200, "94800", "94850")))

    assert filled.status is OrderStatus.FILLED
    assert filled.execution_price == D(94900)
    assert filled.reference_price == D(94900)
    assert filled.slippage_bps == 0
    assert filled.fee == 0
    assert filled.reason == "maker fill"
    assert v.execution.open_orders() == []


def test_limit_sell_when_no_quote_and_last_trade_reaches_limit_then_fills_at_limit() -> None:
    v = venue(maker_fee="0.0002")
    v.feed(trade(0, "95000"))

    only(v.submit(order(side="sell", price="95500", quantity="1", ms=1)))
    filled = only(v.feed(trade(100, "95600")))

    assert filled.execution_price == D(95500)
    assert filled.fee == D("19.1")


def test_limit_order_when_ttl_passes_then_expired() -> None:
    v = venue(limit_order_ttl_seconds=60)
    v.feed(quote(0, "94990", "95010"))
    v.submit(order(price="90000", ms=0))

    assert v.feed(quote(59_999, "94990", "95010")) == []
    expired = only(v.feed(quote(60_000, "94990", "95010", symbol="ETHUSDT")))

    assert expired.status is OrderStatus.EXPIRED
    assert expired.filled_quantity == 0
    assert expired.execution_price is None
    assert expired.reason is not None
    assert "expired" in expired.reason
    assert v.execution.open_orders() == []


def test_gtc_limit_order_when_ttl_passes_then_still_rests_and_fills_when_crossed() -> None:
    v = venue(limit_order_ttl_seconds=60)
    v.feed(quote(0, "94990", "95010"))
    assert only(v.submit(order(price="94000", time_in_force="gtc"))).status is (
        OrderStatus.ACCEPTED
    )

    assert v.feed(quote(3_600_000, "94990", "95010")) == []
    filled = only(v.feed(quote(7_200_000, "93900", "93950")))

    assert filled.status is OrderStatus.FILLED
    assert filled.execution_price == D(94000)


def test_gtc_limit_order_when_the_data_ends_then_cancelled() -> None:
    v = venue(limit_order_ttl_seconds=60)
    v.feed(quote(0, "94990", "95010"))
    v.submit(order(price="94000", time_in_force="gtc"))

    ended = only(v.execution.cancel_all(at(86_400_000), "the run's market data ended"))

    assert ended.status is OrderStatus.CANCELLED


def test_ioc_limit_order_when_market_does_not_reach_limit_then_expires_at_once() -> None:
    v = venue()
    v.feed(quote(0, "94990", "95010"))

    expired = only(v.submit(order(price="94000", time_in_force="ioc")))

    assert expired.status is OrderStatus.EXPIRED
    assert expired.reason is not None
    assert "immediate or cancel" in expired.reason
    assert v.execution.open_orders() == []


def test_ioc_limit_order_when_marketable_then_fills_at_once_as_taker() -> None:
    v = venue()
    v.feed(quote(0, "94990", "95010"))

    filled = only(v.submit(order(price="95100", time_in_force="ioc")))

    assert filled.status is OrderStatus.FILLED
    assert D(95010) <= filled.execution_price <= D(95100)
    assert v.execution.open_orders() == []


def test_ioc_limit_order_when_only_part_can_fill_then_rest_expires() -> None:
    v = venue(partial_fill_fraction="0.5")
    v.feed(trade(0, "95000", quantity="0.1"), quote(1, "94990", "95010"))

    results = v.submit(order(price="95100", quantity="1", time_in_force="ioc", ms=2))

    assert [r.status for r in results] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.EXPIRED]
    assert results[0].filled_quantity < D(1)
    assert v.execution.open_orders() == []


def test_gtd_limit_order_without_expiry_then_refused_by_the_event() -> None:
    with pytest.raises(ValueError, match="expires_at"):
        order(price="94000", time_in_force="gtd")


def test_limit_order_when_expires_at_given_then_used_instead_of_ttl() -> None:
    v = venue(limit_order_ttl_seconds=3600)
    v.feed(quote(0, "94990", "95010"))
    v.submit(order(price="90000", expires_at=at(500)))

    assert only(v.feed(quote(500, "94990", "95010"))).status is OrderStatus.EXPIRED


def test_limit_order_when_already_expired_at_submission_then_expired() -> None:
    v = venue()
    v.feed(quote(0, "94990", "95010"))

    result = only(v.submit(order(price="96000", ms=10, expires_at=at(5))))

    assert result.status is OrderStatus.EXPIRED


def test_limit_buy_when_marketable_then_fills_immediately_as_taker() -> None:
    v = venue()
    v.feed(trade(0, "95000"), quote(1, "94990", "95010"))

    result = only(v.submit(order(price="96000", ms=2)))

    assert result.status is OrderStatus.FILLED
    assert result.reference_price == D(95010)
    assert result.execution_price == D("95019.59601")
    assert result.fee == result.notional * D("0.0005")
    assert result.reason == "taker fill"


def test_limit_buy_when_marketable_and_slippage_passes_limit_then_capped_at_limit() -> None:
    v = venue()
    v.feed(trade(0, "95000"), quote(1, "94990", "95010"))

    result = only(v.submit(order(price="95012", ms=2)))

    assert result.execution_price == D(95012)
    assert result.slippage_bps == (D(2) / D(95010) * 10_000).quantize(D("1E-18"))


def test_limit_sell_when_marketable_and_large_then_partial_taker_fill_and_rest() -> None:
    v = venue()
    v.feed(trade(0, "95000", quantity="1"), quote(1, "94990", "95010"))

    first = only(v.submit(order(side="sell", price="94000", quantity="0.3", ms=2)))
    rest = v.feed(trade(100, "94500", quantity="10"), quote(101, "94400", "94600"))

    assert first.status is OrderStatus.PARTIALLY_FILLED
    assert first.filled_quantity == D("0.1")
    assert first.execution_price is not None
    assert D(94000) <= first.execution_price < D(94990)
    last = only(rest)
    assert last.status is OrderStatus.FILLED
    assert last.filled_quantity == D("0.2")
    assert last.execution_price == D(94000)  # the remainder rests: maker, at the limit
    assert last.fee == 0


# -- cancel, duplicates, ids -----------------------------------------------------------


def test_cancel_when_limit_rests_then_cancelled_and_second_cancel_does_nothing() -> None:
    v = venue()
    v.feed(quote(0, "94990", "95010"))
    v.submit(order(price="90000"))

    cancelled = only(v.execution.cancel("o1", at(10)))

    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.filled_quantity == 0
    assert cancelled.ts_event == at(10)
    assert v.execution.cancel("o1", at(20)) == []
    assert v.execution.cancel("unknown", at(20)) == []
    assert v.feed(quote(30, "80000", "80010")) == []


def test_cancel_when_market_order_partly_filled_then_reason_names_the_remainder() -> None:
    v = venue()
    v.feed(trade(0, "100", quantity="1"))
    v.submit(order(quantity="0.25", ms=1))

    cancelled = only(v.execution.cancel("o1", at(10)))

    assert cancelled.reason == "cancelled with 0.15 of 0.25 unfilled"


def test_submit_when_order_id_already_known_then_no_new_results() -> None:
    v = venue()
    v.feed(trade(0, "95000"))
    submitted = order(ms=1)

    assert len(v.submit(submitted)) == 1
    assert v.submit(submitted) == []
    assert v.execution.is_known("o1")


def test_results_repeat_the_order_and_carry_event_time_and_derived_ids() -> None:
    v = venue()
    v.feed(quote(0, "94990", "95010"))
    v.submit(order(price="90000", ms=5))

    cancelled = only(v.execution.cancel("o1", at(10)))

    assert cancelled.event_id == "o1:2"
    assert (cancelled.ts_event, cancelled.ts_init) == (at(10), at(10))
    assert cancelled.source == EXECUTION_SOURCE
    assert cancelled.run_id == "run-1"
    assert (cancelled.symbol, cancelled.side, cancelled.order_type) == (
        BTC,
        OrderSide.BUY,
        OrderType.LIMIT,
    )
    assert cancelled.quantity == D("0.1")


def test_derived_id_when_order_id_is_long_then_fits_an_identifier() -> None:
    long_id = "x" * 128

    derived = derived_id(long_id, "f12")

    assert len(derived) <= 128
    assert derived.endswith(":f12")
    assert derived == derived_id(long_id, "f12")


def test_trade_id_factory_when_given_then_used_for_trade_ids() -> None:
    ids = iter(["trade-a", "trade-b"])
    market = MarketState()
    execution = PaperExecution(
        ExecutionSettings(latency_ms=0), market, trade_id_factory=lambda: next(ids)
    )
    v = Venue(execution, market)
    v.feed(trade(0, "100"))

    assert only(v.submit(order(ms=1))).trade_id == "trade-a"


def test_same_inputs_when_replayed_then_identical_results() -> None:
    def run() -> list[OrderResultReported]:
        v = venue(latency_ms=20)
        out = v.feed(trade(0, "100", quantity="1"))
        out += v.submit(order("a", quantity="0.3", ms=1))
        out += v.submit(order("b", side="sell", price="105", ms=2))
        out += v.feed(trade(30, "101", quantity="1"), quote(40, "105", "106"))
        return out + v.feed(trade(50, "106", quantity="1"))

    first, second = run(), run()

    assert [r.status for r in first] == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.FILLED,
    ]
    assert [r.model_dump() for r in first] == [r.model_dump() for r in second]


def test_results_when_encoded_then_decode_to_equal_events() -> None:
    v = venue()
    v.feed(trade(0, "95000.123456789", quantity="3"))
    results = v.submit(order(quantity="0.7", ms=1)) + v.submit(order("o2", price="1", ms=1))

    assert [decode_event(encode_event(r)) for r in results] == results


# -- properties ------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=10**9).map(lambda n: D(n).scaleb(-4))
quantities = st.integers(min_value=1, max_value=10**6).map(lambda n: D(n).scaleb(-3))
market_steps = st.tuples(st.sampled_from(["trade", "quote", "candle"]), prices, quantities)
order_specs = st.tuples(
    st.sampled_from(["buy", "sell"]),
    quantities,
    st.none() | st.integers(min_value=-500, max_value=500),  # limit offset in bps, or market
)


def _market_event(index: int, kind: str, price: Decimal, quantity: Decimal) -> MarketData:
    ms = 25 * index
    if kind == "trade":
        return trade(ms, price, quantity)
    if kind == "quote":
        return quote(ms, price, price + D("0.0001") * index)
    return candle(ms, price, quantity)


def _check_fills(
    orders: dict[str, OrderSubmitted], results: list[OrderResultReported]
) -> dict[str, Decimal]:
    filled: dict[str, Decimal] = defaultdict(Decimal)
    for result in results:
        assert OrderResultReported.model_validate(result.model_dump()) == result
        if not result.is_fill:
            continue
        assert result.execution_price is not None
        assert result.reference_price is not None
        assert result.execution_price > 0
        if result.side is OrderSide.BUY:
            assert result.execution_price >= result.reference_price
        else:
            assert result.execution_price <= result.reference_price
        filled[result.order_id] += result.filled_quantity
        assert filled[result.order_id] <= orders[result.order_id].quantity
        done = filled[result.order_id] == orders[result.order_id].quantity
        assert (result.status is OrderStatus.FILLED) == done
    return filled


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(market_steps, min_size=1, max_size=25),
    specs=st.lists(st.tuples(st.integers(0, 24), order_specs), max_size=8),
    latency_ms=st.sampled_from([0, 30]),
    fraction=st.sampled_from(["0.01", "0.1", "1"]),
    cap_bps=st.sampled_from(["0", "50", "20000"]),
)
def test_random_markets_and_orders_then_fills_are_positive_bounded_and_against_trader(
    steps: list[tuple[str, Decimal, Decimal]],
    specs: list[tuple[int, tuple[str, Decimal, int | None]]],
    latency_ms: int,
    fraction: str,
    cap_bps: str,
) -> None:
    v = venue(latency_ms=latency_ms, partial_fill_fraction=fraction, slippage_cap_bps=cap_bps)
    orders: dict[str, OrderSubmitted] = {}
    results: list[OrderResultReported] = []
    for index, (kind, price, quantity) in enumerate(steps):
        results += v.feed(_market_event(index, kind, price, quantity))
        for number, (step, (side, size, offset)) in enumerate(specs):
            if step != index:
                continue
            limit = None
            if offset is not None:
                limit = max((price * (1 + D(offset) / 10_000)).quantize(D("0.0001")), D("0.0001"))
            submitted = order(f"o{number}", side=side, quantity=size, price=limit, ms=25 * index)
            orders[submitted.order_id] = submitted
            results += v.submit(submitted)
    filled = _check_fills(orders, results)
    for open_order in v.execution.open_orders():
        assert filled[open_order.order_id] + open_order.remaining_quantity == (
            orders[open_order.order_id].quantity
        )


def test_cancel_all_when_the_feed_ends_then_every_open_order_cancelled_with_why() -> None:
    v = venue(latency_ms=500)
    v.feed(quote(0, "94990", "95010"))
    v.submit(order("o-limit", price="90000"))
    v.submit(order("o-market", ms=10))  # waits for data 500 ms later: none comes

    ended = v.execution.cancel_all(at(20), "the run ended")

    assert {r.order_id: r.status for r in ended} == {
        "o-limit": OrderStatus.CANCELLED,
        "o-market": OrderStatus.CANCELLED,
    }
    assert all(r.reason is not None and r.reason.endswith(": the run ended") for r in ended)
    assert all(r.filled_quantity == 0 for r in ended)
    assert v.execution.open_orders() == []
    assert v.execution.cancel_all(at(30), "again") == []
