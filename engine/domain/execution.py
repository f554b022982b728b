"""The paper execution model: orders in, order results out, priced from the market only.

Pure and event-driven: no I/O and no clock. Two inputs move it, both carrying event time:
`submit(order, now)` and `on_market_data(event, now)` (after the caller applied the event
to the shared `MarketState`). The same inputs always give the same results, ids included.

Rules, and the choices made where the issue left room:
- No market price ever seen for the symbol: the order (market or limit) is rejected.
- Market orders fill at the arrival price plus slippage against the trader:
  `min(cap, base + impact * fill quantity / recent volume)` bps, the cap when volume is 0.
  An order decided at event time t arrives at t + latency and fills at the first market
  price observable then: the next trade or quote of its symbol (ask to buy, bid to sell,
  else last trade); on candle data, the candle covering the arrival gives its open when it
  opened after the decision and the open is nearer the arrival than its close (with a
  latency under half a bar: the open of the next candle, never a later close), else its
  close. The fill is booked at the event time of that market data (a candle's close), and
  its reference price is the arrival price. With no latency it fills at once at the market.
- Limits hold at the fill (with `FillLimits`): a buy fills only as much as keeps its
  position and all exposure within the risk limits at its execution price; the rest is
  cancelled, or the order rejected when what is left is below the minimum notional.
- Limit orders are evaluated at submission (latency applies to market orders only). A
  marketable one fills at once as taker, at the market plus slippage capped by the limit;
  otherwise it rests (`accepted`) and fills at the limit price with the maker fee
  (reference = limit, slippage 0) when the ask (buy) / bid (sell), or the last price
  without a quote, reaches the limit. It expires at `expires_at`, or submission time plus
  `limit_order_ttl_seconds`; a market order expires only if it has `expires_at`. Expiry
  is checked on every market data event, of any symbol (or by calling `expire_due`). Its
  time in force may say otherwise: `gtc` never expires (it rests until filled, or the
  run's data ends), `gtd` expires at `expires_at`, `ioc` fills what it can at submission
  and the rest expires at once.
- A market order is valid for `market_order_ttl_seconds` after its arrival, and again after
  each partial fill: when the first price of its symbol it could fill at was observed later
  than that (a feed outage, a stalled run), it expires with the reason `stale` instead of
  filling at whatever the market is when data returns. A candle shows the market live
  from its open (a coarser bar is no outage), a tick at its own time.
- Partial fills: one fill takes at most `partial_fill_fraction * recent volume`; the rest
  fills on later market data for the symbol, one fill per order per event. With recent
  volume 0 the size cannot be measured and the whole remainder fills. Fills sum exactly to
  the ordered quantity and no remainder is ever left below the smallest storable amount.
- Slippage is reported as measured: signed bps of the fill price against the reference.
- Ids are derived from the order id: results `"<order_id>:<n>"`, trades `"<order_id>:f<n>"`
  (unless a `trade_id_factory` is given), so a replay or a redelivery repeats them.
- An order submitted again by a resumed run (`prior_results` > 0) goes on where it was: the
  rest of its quantity, its results and trades numbered on, resting or waiting as before
  (what it did when first submitted is not done again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, TypedDict

from engine.domain.fill_limits import BuyRoom, FillLimits
from engine.domain.fills import Fill
from engine.domain.market import MarketData, MarketState
from engine.domain.positions import exact
from engine.events import Candle, OrderResultReported, OrderSubmitted
from engine.events.envelope import stamped
from engine.events.fields import SMALLEST_AMOUNT
from engine.events.orders import LIMITS_AT_FILL, OrderSide, OrderStatus, OrderType, TimeInForce
from engine.money import quantize
from engine.settings import ExecutionSettings

#: The `source` of every result this model produces.
EXECUTION_SOURCE: Final = "engine.execution"
BASIS_POINTS: Final = Decimal(10_000)
_MAX_ID_LENGTH: Final = 128
_LONGEST_SUFFIX: Final = 24


def derived_id(order_id: str, suffix: str) -> str:
    """Return `"<order_id>:<suffix>"`, hashing an order id too long for a 128-char id."""
    if len(order_id) + 1 + len(suffix) > _MAX_ID_LENGTH:
        order_id = hashlib.sha256(order_id.encode("utf-8")).hexdigest()
    return f"{order_id}:{suffix[:_LONGEST_SUFFIX]}"


def _plain(value: Decimal) -> str:
    """Write an amount for a person: fixed point, no trailing zeros."""
    return format(value.normalize(), "f")


def _observed_at(event: MarketData | None, now: datetime) -> datetime:
    """When the market `event` shows was live: a candle from its open, a tick at its time."""
    if isinstance(event, Candle):
        return event.open_time
    return event.ts_event if event is not None else now


@dataclass(frozen=True)
class OpenOrder:
    """A read-only view of an order execution is still working on."""

    order: OrderSubmitted
    remaining_quantity: Decimal
    #: When the order expires (None: never, for a market order without `expires_at`).
    expires_at: datetime | None
    #: The earliest event time at which it may fill (submission time + latency).
    fillable_from: datetime
    #: True for a limit order on the book (it fills at its limit price as maker).
    resting: bool

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def symbol(self) -> str:
        return self.order.symbol

    @property
    def filled_quantity(self) -> Decimal:
        return self.order.quantity - self.remaining_quantity


@dataclass
class _WorkingOrder:
    order: OrderSubmitted
    remaining: Decimal
    expires_at: datetime | None
    fillable_from: datetime
    resting: bool = False
    results: int = 0
    fills: int = 0
    #: A market order's price must be observed by then (None: limit orders).
    stale_after: datetime | None = None

    def view(self) -> OpenOrder:
        return OpenOrder(
            self.order, self.remaining, self.expires_at, self.fillable_from, self.resting
        )


class _FillFields(TypedDict, total=False):
    """The fields only a fill result carries."""

    filled_quantity: Decimal
    execution_price: Decimal
    reference_price: Decimal
    slippage_bps: Decimal
    fee: Decimal
    fee_currency: str
    trade_id: str


@dataclass(frozen=True)
class _Fill:
    quantity: Decimal
    execution_price: Decimal
    reference_price: Decimal
    fee_rate: Decimal
    liquidity: str


class PaperExecution:
    """Simulated MEXC spot execution: fills priced from the latest market data for a symbol."""

    def __init__(
        self,
        settings: ExecutionSettings,
        market: MarketState,
        *,
        quote_currency: str = "USDT",
        trade_id_factory: Callable[[], str] | None = None,
        limits: FillLimits | None = None,
    ) -> None:
        self._settings = settings
        self._market = market
        self._limits = limits
        self._quote_currency = quote_currency
        self._trade_id_factory = trade_id_factory
        self._latency = timedelta(milliseconds=settings.latency_ms)
        self._market_ttl = timedelta(seconds=settings.market_order_ttl_seconds)
        self._open: dict[str, _WorkingOrder] = {}
        self._known: set[str] = set()

    # -- read-only state -------------------------------------------------------------

    def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        """Return the orders still waiting or resting, oldest first (one symbol if given)."""
        return [w.view() for w in self._open.values() if symbol in (None, w.order.symbol)]

    def open_order(self, order_id: str) -> OpenOrder | None:
        working = self._open.get(order_id)
        return working.view() if working else None

    def is_known(self, order_id: str) -> bool:
        """Tell whether an order with this id was ever submitted (duplicates are ignored)."""
        return order_id in self._known

    # -- inputs ----------------------------------------------------------------------

    @exact
    def submit(self, order: OrderSubmitted, now: datetime) -> list[OrderResultReported]:
        """Take a new order at event time `now`; a known order id gives no results."""
        if order.order_id in self._known:
            return []
        self._known.add(order.order_id)
        working = _WorkingOrder(
            order,
            remaining=order.quantity - order.filled_quantity,  # a resubmitted order: the rest
            expires_at=self._expiry(order, now),
            fillable_from=now + self._latency if order.order_type is OrderType.MARKET else now,
            results=order.prior_results,
            fills=order.prior_fills,
        )
        if order.order_type is OrderType.MARKET:
            working.stale_after = working.fillable_from + self._market_ttl
        if working.expires_at is not None and now >= working.expires_at:
            return [self._end(working, OrderStatus.EXPIRED, now)]
        if order.prior_results:  # submitted again: what it did when first submitted is done
            working.resting = order.order_type is OrderType.LIMIT
            self._open[order.order_id] = working
            return []
        if self._market.reference_price(order.symbol, order.side) is None:
            reason = f"no market price for {order.symbol}"
            return [self._result(working, OrderStatus.REJECTED, now, reason=reason)]
        if order.order_type is OrderType.MARKET:
            return self._submit_market(working, now)
        return self._submit_limit(working, now)

    def on_market_data(self, event: MarketData, now: datetime) -> list[OrderResultReported]:
        """Expire due orders, then fill the orders of `event.symbol` the market now allows."""
        if not self._open:
            return []  # most market events: nothing to work, no context to switch
        return self._work_open(event, now)

    @exact
    def _work_open(self, event: MarketData, now: datetime) -> list[OrderResultReported]:
        results = self.expire_due(now)
        for working in list(self._open.values()):
            if working.order.symbol == event.symbol and event.ts_event >= working.fillable_from:
                results.extend(self._work(working, now, event))
        return results

    @exact
    def expire_due(self, now: datetime) -> list[OrderResultReported]:
        """End every open order whose expiry is at or before `now` with an `expired` result."""
        due = [w for w in self._open.values() if w.expires_at is not None and now >= w.expires_at]
        if not due:
            return []
        return [self._end(working, OrderStatus.EXPIRED, now) for working in due]

    @exact
    def cancel_all(self, now: datetime, why: str) -> list[OrderResultReported]:
        """Cancel every waiting or resting order (the run's market data ended)."""
        return [
            self._end(working, OrderStatus.CANCELLED, now, why=why)
            for working in list(self._open.values())
        ]

    @exact
    def cancel(self, order_id: str, now: datetime) -> list[OrderResultReported]:
        """Cancel a waiting or resting order; an unknown or finished order gives no results."""
        working = self._open.get(order_id)
        if working is None:
            return []
        return [self._end(working, OrderStatus.CANCELLED, now)]

    # -- order flow ------------------------------------------------------------------

    def _expiry(self, order: OrderSubmitted, now: datetime) -> datetime | None:
        if order.time_in_force is TimeInForce.GTC:
            return None
        if order.expires_at is not None or order.order_type is OrderType.MARKET:
            return order.expires_at
        return now + timedelta(seconds=self._settings.limit_order_ttl_seconds)

    def _submit_market(self, working: _WorkingOrder, now: datetime) -> list[OrderResultReported]:
        self._open[working.order.order_id] = working
        if self._latency:
            return []  # it fills on the first market data at or after fillable_from
        return self._work(working, now)

    def _submit_limit(self, working: _WorkingOrder, now: datetime) -> list[OrderResultReported]:
        self._open[working.order.order_id] = working
        market_price = self._crossing_price(working.order)
        working.resting = True
        if working.order.time_in_force is TimeInForce.IOC:
            taken = [] if market_price is None else self._taker(working, market_price, now)
            if working.order.order_id not in self._open:
                return taken
            why = "immediate or cancel: the market did not reach the limit"
            if taken:
                why = "immediate or cancel: the rest did not fill at once"
            return [*taken, self._end(working, OrderStatus.EXPIRED, now, why=why)]
        if market_price is None:
            return [self._result(working, OrderStatus.ACCEPTED, now, reason="resting")]
        return self._taker(working, market_price, now)

    def _work(
        self, working: _WorkingOrder, now: datetime, event: MarketData | None = None
    ) -> list[OrderResultReported]:
        order = working.order
        if order.order_type is OrderType.MARKET:
            price = self._arrival_price(working, event)
            if price is None:  # unreachable once the symbol was seen; never invent a price
                return []
            observed_at = _observed_at(event, now)
            if working.stale_after is not None and observed_at > working.stale_after:
                return [
                    self._end(
                        working, OrderStatus.EXPIRED, now, why=self._stale(working, observed_at)
                    )
                ]
            return self._taker(working, price, now)
        if self._crossing_price(order) is None:
            return []
        return self._within_limits(
            working, lambda quantity: self._maker_fill(working, quantity), now
        )

    def _arrival_price(self, working: _WorkingOrder, event: MarketData | None) -> Decimal | None:
        """Return the first price observable at the order's arrival (see the module's rules)."""
        if isinstance(event, Candle) and event.open_time >= working.order.ts_event:
            arrival = working.fillable_from
            if arrival - event.open_time <= event.ts_event - arrival:
                return event.open
            return event.close
        return self._market.reference_price(working.order.symbol, working.order.side)

    def _stale(self, working: _WorkingOrder, observed_at: datetime) -> str:
        assert working.stale_after is not None  # only market orders go stale
        since = working.stale_after - self._market_ttl
        return (
            f"stale: no price of {working.order.symbol} within "
            f"{self._market_ttl.total_seconds():.0f} s of {since.isoformat()} (the next was "
            f"observed at {observed_at.isoformat()}; CLAIRE_EXECUTION_MARKET_ORDER_TTL_SECONDS)"
        )

    def _taker(
        self, working: _WorkingOrder, market_price: Decimal, now: datetime
    ) -> list[OrderResultReported]:
        def fill(quantity: Decimal) -> _Fill:
            return self._taker_fill(working, quantity, market_price, now)

        return self._within_limits(working, fill, now)

    def _within_limits(
        self, working: _WorkingOrder, fill_of: Callable[[Decimal], _Fill], now: datetime
    ) -> list[OrderResultReported]:
        """Fill what the market allows now, as far as the limits hold at the fill price; end
        the order with the reason when they stop it."""
        wanted = self._fill_quantity(working, now)
        fill = fill_of(wanted)
        if self._limits is None or working.order.side is OrderSide.SELL:
            return [self._fill(working, fill, now)]
        room = self._limits.room(working.order.symbol, wanted, fill.execution_price, fill.fee_rate)
        if room.reason is None:
            return [self._fill(working, fill, now)]
        if room.quantity > 0:
            fill = fill_of(room.quantity)
            if fill.quantity * fill.execution_price >= self._limits.min_notional:
                return [self._fill(working, fill, now), self._end_by_limits(working, now, room)]
        return [self._end_by_limits(working, now, room)]

    def _end_by_limits(
        self, working: _WorkingOrder, now: datetime, room: BuyRoom
    ) -> OrderResultReported:
        filled_before = working.fills > 0 or working.order.filled_quantity > 0
        status = OrderStatus.CANCELLED if filled_before else OrderStatus.REJECTED
        return self._end(working, status, now, why=f"{LIMITS_AT_FILL}: {room.reason}")

    def _end(
        self, working: _WorkingOrder, status: OrderStatus, now: datetime, why: str | None = None
    ) -> OrderResultReported:
        self._open.pop(working.order.order_id, None)
        remaining, quantity = _plain(working.remaining), _plain(working.order.quantity)
        reason = f"{status} with {remaining} of {quantity} unfilled"
        if status is OrderStatus.EXPIRED and working.expires_at is not None:
            reason = f"{reason} (expiry {working.expires_at.isoformat()})"
        if why:
            reason = f"{reason}: {why}"
        return self._result(working, status, now, reason=reason)

    # -- pricing ---------------------------------------------------------------------

    def _crossing_price(self, order: OrderSubmitted) -> Decimal | None:
        """Return the market price when it reaches the order's limit, else None."""
        price = self._market.reference_price(order.symbol, order.side)
        if price is None or order.price is None:
            return None
        crosses = price <= order.price if order.side is OrderSide.BUY else price >= order.price
        return price if crosses else None

    def _taker_fill(
        self, working: _WorkingOrder, quantity: Decimal, market_price: Decimal, now: datetime
    ) -> _Fill:
        order = working.order
        reference = quantize(market_price)
        bps = self._slippage_bps(order.symbol, quantity, now)
        factor = bps / BASIS_POINTS
        if order.side is OrderSide.BUY:
            price = quantize(reference * (1 + factor))
            if order.price is not None:
                price = min(price, quantize(order.price))
        else:
            # A slippage cap of 10,000 bps or more must still leave a positive price.
            price = max(quantize(reference * (1 - factor)), SMALLEST_AMOUNT)
            if order.price is not None:
                price = max(price, quantize(order.price))
        return _Fill(quantity, price, reference, self._settings.taker_fee, "taker")

    def _maker_fill(self, working: _WorkingOrder, quantity: Decimal) -> _Fill:
        assert working.order.price is not None  # only limit orders rest
        limit = quantize(working.order.price)
        return _Fill(quantity, limit, limit, self._settings.maker_fee, "maker")

    def _slippage_bps(self, symbol: str, quantity: Decimal, now: datetime) -> Decimal:
        """Return `min(cap, base + impact * quantity / recent volume)`; the cap at volume 0."""
        settings = self._settings
        volume = self._market.recent_volume(symbol, now)
        if volume <= 0:
            return settings.slippage_cap_bps
        impact = settings.slippage_impact_bps * quantity / volume
        return min(settings.slippage_cap_bps, settings.slippage_base_bps + impact)

    def _fill_quantity(self, working: _WorkingOrder, now: datetime) -> Decimal:
        """Return this fill's size: at most the partial-fill share of recent volume."""
        remaining = working.remaining
        volume = self._market.recent_volume(working.order.symbol, now)
        if volume <= 0:
            return remaining  # nothing to measure the order against: fill it all
        share = max(quantize(self._settings.partial_fill_fraction * volume), SMALLEST_AMOUNT)
        if remaining - share < SMALLEST_AMOUNT:
            return remaining  # never leave a remainder too small to store or fill
        return share

    # -- results ---------------------------------------------------------------------

    def _fill(self, working: _WorkingOrder, fill: _Fill, now: datetime) -> OrderResultReported:
        working.remaining -= fill.quantity
        working.fills += 1
        if working.stale_after is not None:
            working.stale_after = now + self._market_ttl
        done = working.remaining == 0
        if done:
            del self._open[working.order.order_id]
        status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        result = self._result(working, status, now, fill=fill, reason=f"{fill.liquidity} fill")
        if self._limits is not None:
            self._limits.apply(Fill.from_result(result, quote_currency=self._quote_currency))
        return result

    def _trade_id(self, working: _WorkingOrder) -> str:
        if self._trade_id_factory is not None:
            return self._trade_id_factory()
        return derived_id(working.order.order_id, f"f{working.fills}")

    def _result(
        self,
        working: _WorkingOrder,
        status: OrderStatus,
        now: datetime,
        *,
        fill: _Fill | None = None,
        reason: str | None = None,
    ) -> OrderResultReported:
        working.results += 1
        order = working.order
        fill_fields = self._fill_fields(working, fill) if fill else _FillFields()
        return OrderResultReported(
            **stamped(
                derived_id(order.order_id, str(working.results)),
                now,
                EXECUTION_SOURCE,
                order.run_id,
            ),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            status=status,
            quantity=order.quantity,
            reason=reason,
            **fill_fields,
        )

    def _fill_fields(self, working: _WorkingOrder, fill: _Fill) -> _FillFields:
        reference = fill.reference_price
        worse_by = fill.execution_price - reference
        if working.order.side is OrderSide.SELL:
            worse_by = -worse_by
        return _FillFields(
            filled_quantity=fill.quantity,
            execution_price=fill.execution_price,
            reference_price=reference,
            slippage_bps=quantize(worse_by / reference * BASIS_POINTS),
            fee=quantize(fill.quantity * fill.execution_price * fill.fee_rate),
            fee_currency=self._quote_currency,
            trade_id=self._trade_id(working),
        )
