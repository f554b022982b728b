"""Trading events: a strategy's signal, risk's decision, an order and its results."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator

from engine.events.envelope import EventEnvelope
from engine.events.fields import (
    Code,
    Currency,
    Identifier,
    NonNegativeDecimal,
    OrderTypeField,
    PositiveDecimal,
    SideField,
    SignedDecimal,
    StatusField,
    Symbol,
    Text,
    TimeInForceField,
    UnitFraction,
    UtcDatetime,
    rule_error,
)
from engine.events.orders import OrderSide, OrderStatus, OrderType, TimeInForce


def _priced_as_typed(value: Decimal | None, info: ValidationInfo) -> Decimal | None:
    """A limit order has a price, a market order none."""
    order_type = info.data.get("order_type")
    if order_type is OrderType.MARKET and value is not None:
        raise rule_error("must be absent for a market order")
    if order_type is OrderType.LIMIT and value is None:
        raise rule_error("required for a limit order")
    return value


def _limits_only(value: TimeInForce | None, info: ValidationInfo) -> TimeInForce | None:
    if value is not None and info.data.get("order_type") is OrderType.MARKET:
        raise rule_error("only a limit order has a time in force")
    return value


class SignalGenerated(EventEnvelope):
    """A strategy wants to trade; its `event_id` is the signal id risk decisions refer to.

    What it asks for, all optional (without any: a market buy risk sizes to its limits, or
    a market sell of the whole holding):
    - `order_type` limit with its `limit_price`, and a `time_in_force` (gtc, gtd with its
      `expires_at`, ioc; none: the engine's limit order TTL);
    - for a buy, a size: `equity_fraction` of equity or `quote_amount` in the quote
      currency (risk still caps it at its limits, and its decision says so);
    - for a sell, `close_fraction` of the holding (none: all of it).
    """

    type: Literal["signal"] = "signal"
    symbol: Symbol
    side: SideField
    strategy: Code
    confidence: UnitFraction
    #: The market price the strategy saw when it decided.
    reference_price: PositiveDecimal
    reason: Text | None = None
    order_type: OrderTypeField = OrderType.MARKET
    limit_price: PositiveDecimal | None = Field(default=None, validate_default=True)
    time_in_force: TimeInForceField | None = None
    expires_at: UtcDatetime | None = Field(default=None, validate_default=True)
    equity_fraction: UnitFraction | None = None
    quote_amount: PositiveDecimal | None = None
    close_fraction: UnitFraction | None = None

    @property
    def signal_id(self) -> str:
        """Return the id orders and risk decisions use for this signal."""
        return self.event_id

    @field_validator("limit_price")
    @classmethod
    def _limit_has_price(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _priced_as_typed(value, info)

    @field_validator("time_in_force")
    @classmethod
    def _only_limits_rest(
        cls, value: TimeInForce | None, info: ValidationInfo
    ) -> TimeInForce | None:
        return _limits_only(value, info)

    @field_validator("expires_at")
    @classmethod
    def _expiry_of_gtd(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        good_till_date = info.data.get("time_in_force") is TimeInForce.GTD
        if good_till_date and value is None:
            raise rule_error("required for a gtd (good till date) limit order")
        if not good_till_date and value is not None:
            raise rule_error("only a gtd (good till date) limit order has an expiry")
        return value

    @field_validator("equity_fraction", "quote_amount")
    @classmethod
    def _buy_size(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is None:
            return value
        if info.data.get("side") is OrderSide.SELL:
            raise rule_error("sizes a buy; a sell says close_fraction (default: all)")
        if value <= 0:
            raise rule_error("must be greater than 0")
        if info.field_name == "quote_amount" and info.data.get("equity_fraction") is not None:
            raise rule_error("give equity_fraction or quote_amount, not both")
        return value

    @field_validator("close_fraction")
    @classmethod
    def _sell_size(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is None:
            return value
        if info.data.get("side") is OrderSide.BUY:
            raise rule_error("sizes a sell; a buy says equity_fraction or quote_amount")
        if value <= 0:
            raise rule_error("must be greater than 0 (of the holding)")
        return value


class RiskDecided(EventEnvelope):
    """Risk approved or denied a signal; an approval names the order it created."""

    type: Literal["risk_decision"] = "risk_decision"
    signal_id: Identifier
    approved: StrictBool
    reason_code: Code
    detail: Text | None = None
    order_id: Identifier | None = Field(default=None, validate_default=True)

    @field_validator("order_id")
    @classmethod
    def _approval_names_order(cls, value: str | None, info: ValidationInfo) -> str | None:
        approved = info.data.get("approved")
        if value is None and approved is True:
            raise rule_error("required when the decision is approved")
        if value is not None and approved is False:
            raise rule_error("must be absent when the decision is a denial (no order is created)")
        return value


#: A number of earlier results or fills of one order.
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000)]


class OrderSubmitted(EventEnvelope):
    """An order sent to execution. `quantity` is in base-asset units (BTC, not USDT).

    A market order has no `price`; a limit order must have one. An order a resumed run
    submits again says what of it had filled, in how many fills and results: execution goes
    on from there, numbering its results and trades on (`engine.domain.execution`).
    """

    type: Literal["order"] = "order"
    order_id: Identifier
    signal_id: Identifier | None = None
    symbol: Symbol
    side: SideField
    order_type: OrderTypeField
    quantity: PositiveDecimal
    price: PositiveDecimal | None = Field(default=None, validate_default=True)
    expires_at: UtcDatetime | None = None
    #: A limit order's time in force (None: it rests for the engine's limit order TTL).
    time_in_force: TimeInForceField | None = Field(default=None, validate_default=True)
    reason: Text | None = None
    #: The price the order would have paid when it was decided (ask to buy, bid to sell,
    #: else the last trade or candle close): its implementation shortfall is measured from it.
    decision_price: PositiveDecimal | None = None
    filled_quantity: NonNegativeDecimal = Decimal(0)
    prior_fills: Count = 0
    prior_results: Count = 0

    @field_validator("filled_quantity")
    @classmethod
    def _something_left_to_fill(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        quantity = info.data.get("quantity")
        if quantity is not None and value >= quantity:
            raise rule_error(f"must be less than quantity ({quantity}): nothing would be left")
        return value

    @field_validator("price")
    @classmethod
    def _price_matches_order_type(
        cls, value: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        return _priced_as_typed(value, info)

    @field_validator("time_in_force")
    @classmethod
    def _time_in_force_of_limits(
        cls, value: TimeInForce | None, info: ValidationInfo
    ) -> TimeInForce | None:
        _limits_only(value, info)
        if value is TimeInForce.GTD and info.data.get("expires_at") is None:
            raise rule_error("a gtd (good till date) order needs expires_at")
        return value


#: Result fields a fill must carry (a `trades` row needs every one of them).
_REQUIRED_FOR_FILL = (
    "execution_price",
    "reference_price",
    "slippage_bps",
    "fee_currency",
    "trade_id",
)
#: Result fields that only a fill may carry.
_ONLY_FOR_FILL = ("execution_price", "trade_id")


class OrderResultReported(EventEnvelope):
    """What execution did with an order: accepted it, filled some or all, or ended it.

    `quantity` is what the order asked for; `filled_quantity` and `execution_price` are
    the fill this result reports (one trade, id `trade_id`), not the order's running total.
    A fill status needs a fill; any other status has `filled_quantity` 0 and no price.
    `slippage_bps` is signed: positive when the fill was worse than `reference_price`.
    """

    type: Literal["order_result"] = "order_result"
    order_id: Identifier
    symbol: Symbol
    side: SideField
    order_type: OrderTypeField
    status: StatusField
    quantity: PositiveDecimal
    filled_quantity: NonNegativeDecimal = Field(default=Decimal(0), validate_default=True)
    execution_price: PositiveDecimal | None = Field(default=None, validate_default=True)
    reference_price: PositiveDecimal | None = Field(default=None, validate_default=True)
    slippage_bps: SignedDecimal | None = Field(default=None, validate_default=True)
    fee: NonNegativeDecimal = Decimal(0)
    fee_currency: Currency | None = Field(default=None, validate_default=True)
    trade_id: Identifier | None = Field(default=None, validate_default=True)
    reason: Text | None = None

    @field_validator("filled_quantity")
    @classmethod
    def _filled_quantity_fits(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        quantity = info.data.get("quantity")
        if quantity is not None and value > quantity:
            raise rule_error(f"must not exceed quantity ({quantity})")
        status = info.data.get("status")
        if isinstance(status, OrderStatus):
            if status.is_fill and value == 0:
                raise rule_error(f"must be greater than 0 for a {status} result")
            if not status.is_fill and value != 0:
                raise rule_error(f"must be 0 for a {status} result")
        return value

    @field_validator(*_REQUIRED_FOR_FILL)
    @classmethod
    def _present_exactly_for_fills(cls, value: object, info: ValidationInfo) -> object:
        status = info.data.get("status")
        if not isinstance(status, OrderStatus):
            return value
        if status.is_fill and value is None:
            raise rule_error(f"required for a {status} result")
        if not status.is_fill and value is not None and info.field_name in _ONLY_FOR_FILL:
            raise rule_error(f"must be absent for a {status} result (nothing was filled)")
        return value

    @property
    def is_fill(self) -> bool:
        """Return True when this result reports a trade."""
        return self.status.is_fill

    @property
    def notional(self) -> Decimal:
        """Return the quote-currency value of the fill (0 when nothing filled)."""
        if self.execution_price is None:
            return Decimal(0)
        return self.filled_quantity * self.execution_price
