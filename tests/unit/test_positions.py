"""Fills and positions: average entry, realized PnL with fees, partial closes, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.domain.errors import DomainError, InvalidFillError, OversellError
from engine.domain.fills import Fill
from engine.domain.positions import Position
from engine.errors import PermanentError
from engine.events.orders import OrderSide
from tests import factories

EPOCH = datetime(2026, 1, 5, 9, tzinfo=UTC)
TAKER = Decimal("0.0005")
_numbers = iter(range(1, 10**9))


def trade(
    side: OrderSide,
    quantity: str,
    price: str,
    *,
    symbol: str = "BTCUSDT",
    fee: str | None = None,
    at: datetime | None = None,
    trade_id: str | None = None,
) -> Fill:
    """Return a fill; the fee defaults to the taker fee on its notional."""
    amount, cost = Decimal(quantity), Decimal(price)
    number = next(_numbers)
    return Fill(
        trade_id=trade_id or f"t{number}",
        order_id=f"o{number}",
        symbol=symbol,
        side=side,
        quantity=amount,
        price=cost,
        fee=Decimal(fee) if fee is not None else amount * cost * TAKER,
        fee_currency="USDT",
        ts=at or EPOCH,
    )


def buy(
    quantity: str,
    price: str,
    *,
    symbol: str = "BTCUSDT",
    fee: str | None = None,
    at: datetime | None = None,
    trade_id: str | None = None,
) -> Fill:
    return trade(OrderSide.BUY, quantity, price, symbol=symbol, fee=fee, at=at, trade_id=trade_id)


def sell(
    quantity: str,
    price: str,
    *,
    symbol: str = "BTCUSDT",
    fee: str | None = None,
    at: datetime | None = None,
    trade_id: str | None = None,
) -> Fill:
    return trade(OrderSide.SELL, quantity, price, symbol=symbol, fee=fee, at=at, trade_id=trade_id)


# -- Fill ------------------------------------------------------------------------------


def test_from_result_when_fill_then_fields_copied() -> None:
    result = factories.fill(quantity="0.05", price="95010", fee="2.37525")

    fill = Fill.from_result(result)

    assert fill.trade_id == "trade-o1-1"
    assert fill.order_id == "o1"
    assert fill.side is OrderSide.BUY
    assert (fill.quantity, fill.price, fill.fee) == (
        Decimal("0.05"),
        Decimal(95010),
        Decimal("2.37525"),
    )
    assert fill.fee_currency == "USDT"
    assert fill.ts == result.ts_event


def test_from_result_when_partial_fill_then_filled_quantity_used() -> None:
    result = factories.fill(status="partially_filled", quantity="1", filled="0.25")

    assert Fill.from_result(result).quantity == Decimal("0.25")


def test_from_result_when_amount_has_more_places_than_storage_then_quantised() -> None:
    result = factories.fill(fee="0.1234567890123456789012")

    assert Fill.from_result(result).fee == Decimal("0.123456789012345679")


@pytest.mark.parametrize("status", ["rejected", "cancelled", "expired", "accepted"])
def test_from_result_when_not_a_fill_then_value_error(status: str) -> None:
    with pytest.raises(ValueError, match="reports no fill"):
        Fill.from_result(factories.refusal(status=status))


def test_from_result_when_fee_in_base_currency_then_refused() -> None:
    result = factories.fill().model_copy(update={"fee_currency": "BTC"})

    with pytest.raises(InvalidFillError, match="only fees in the quote currency USDT"):
        Fill.from_result(result)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", Decimal(0), "quantity must be greater than 0"),
        ("price", Decimal(-1), "price must be greater than 0"),
        ("fee", Decimal("-0.01"), "fee must not be negative"),
        ("price", Decimal("NaN"), "price must be a finite Decimal"),
        ("ts", datetime(2026, 1, 5), "ts must be a timezone-aware datetime"),
    ],
)
def test_fill_when_field_out_of_range_then_invalid_fill_error(
    field: str, value: object, message: str
) -> None:
    fields = {
        "trade_id": "t",
        "order_id": "o",
        "symbol": "BTCUSDT",
        "side": OrderSide.BUY,
        "quantity": Decimal(1),
        "price": Decimal(1),
        "fee": Decimal(0),
        "fee_currency": "USDT",
        "ts": EPOCH,
        field: value,
    }
    with pytest.raises(InvalidFillError, match=message):
        Fill(**fields)  # type: ignore[arg-type]


def test_fill_when_ts_has_offset_then_converted_to_utc() -> None:
    at = datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1)))

    fill = buy("1", "1", at=at)

    assert fill.ts == EPOCH
    assert fill.ts.tzinfo is UTC


def test_errors_when_raised_then_part_of_the_engine_tree() -> None:
    assert issubclass(OversellError, DomainError)
    assert issubclass(DomainError, PermanentError)
    assert issubclass(InvalidFillError, ValueError)


# -- Position --------------------------------------------------------------------------


def test_apply_when_buy_then_average_is_price_and_fee_realized() -> None:
    position = Position("BTCUSDT")

    assert position.apply(buy("0.5", "95000")) is True

    assert position.quantity == Decimal("0.5")
    assert position.average_price == Decimal(95000)
    assert position.realized_pnl == Decimal("-23.75")
    assert position.fees_paid == Decimal("23.75")


def test_apply_when_buy_then_sell_at_profit_then_realizes_profit_minus_both_fees() -> None:
    position = Position("BTCUSDT")
    position.apply(buy("0.5", "95000"))  # fee 23.75

    position.apply(sell("0.5", "96000"))  # fee 24

    assert position.realized_pnl == Decimal(500) - Decimal("23.75") - Decimal(24)
    assert position.fees_paid == Decimal("47.75")


def test_apply_when_sold_to_zero_then_closed_and_average_reset() -> None:
    position = Position("BTCUSDT")
    position.apply(buy("0.5", "95000"))

    position.apply(sell("0.5", "94000"))

    assert position.quantity == 0
    assert position.average_price == 0
    assert not position.is_open
    assert position.realized_pnl == Decimal(-500) - Decimal("23.75") - Decimal("23.5")


def test_apply_when_partial_close_then_average_kept_and_part_realized() -> None:
    position = Position("BTCUSDT")
    position.apply(buy("1", "100", fee="0"))

    position.apply(sell("0.4", "110", fee="0.022"))

    assert position.quantity == Decimal("0.6")
    assert position.average_price == Decimal(100)
    assert position.realized_pnl == Decimal("4") - Decimal("0.022")


def test_apply_when_averaging_up_with_two_buys_then_volume_weighted_average() -> None:
    position = Position("ETHUSDT")
    position.apply(buy("0.1", "100", symbol="ETHUSDT", fee="0"))

    position.apply(buy("0.2", "130", symbol="ETHUSDT", fee="0"))

    assert position.quantity == Decimal("0.3")
    assert position.average_price == Decimal(120)
    assert position.cost_basis == Decimal(36)


def test_apply_when_average_does_not_terminate_then_remainder_realized_not_lost() -> None:
    position = Position("BTCUSDT")
    position.apply(buy("1", "1", fee="0"))

    position.apply(buy("2", "2", fee="0"))  # 5 / 3 per unit

    assert position.average_price == Decimal("1.666666666666666667")
    # Everything paid is either carried in the position or already realized.
    assert position.cost_basis - position.realized_pnl == Decimal(5)


def test_apply_when_selling_more_than_held_then_oversell_error_and_nothing_changes() -> None:
    position = Position("BTCUSDT")
    position.apply(buy("0.5", "95000"))
    before = (position.quantity, position.average_price, position.realized_pnl)

    with pytest.raises(OversellError, match=r"only 0\.5 held"):
        position.apply(sell("0.50000001", "95000"))

    assert (position.quantity, position.average_price, position.realized_pnl) == before


def test_apply_when_selling_flat_position_then_oversell_error() -> None:
    with pytest.raises(OversellError):
        Position("BTCUSDT").apply(sell("0.1", "95000"))


def test_apply_when_duplicate_trade_id_then_ignored() -> None:
    position = Position("BTCUSDT")
    fill = buy("0.5", "95000")
    position.apply(fill)

    assert position.apply(fill) is False
    assert position.apply(sell("0.5", "99000", trade_id=fill.trade_id)) is False

    assert position.quantity == Decimal("0.5")
    assert position.fees_paid == Decimal("23.75")
    assert position.has_applied(fill.trade_id)


def test_apply_when_other_symbol_then_invalid_fill_error() -> None:
    with pytest.raises(InvalidFillError, match="ETHUSDT"):
        Position("BTCUSDT").apply(buy("1", "3000", symbol="ETHUSDT"))


def test_unrealized_pnl_when_marked_then_mark_minus_average_times_quantity() -> None:
    position = Position("BTCUSDT")
    position.apply(buy("0.5", "95000"))

    assert position.unrealized_pnl(Decimal(97000)) == Decimal(1000)
    assert position.unrealized_pnl(Decimal(94000)) == Decimal(-500)
    assert position.market_value(Decimal(94000)) == Decimal(47000)


def test_exact_code_runs_in_the_exact_context_and_gives_the_callers_back() -> None:
    from decimal import getcontext, localcontext

    from engine.domain.positions import EXACT_CONTEXT, exact

    @exact
    def inner() -> Decimal:
        assert getcontext() is EXACT_CONTEXT
        return Decimal(1) / Decimal(3)

    @exact
    def outer() -> Decimal:
        return inner() + Decimal(0)  # nested: still exact

    with localcontext(prec=5) as caller:
        assert outer() == EXACT_CONTEXT.divide(Decimal(1), Decimal(3))
        assert getcontext() is caller
        assert Decimal(1) / Decimal(3) == Decimal("0.33333")
