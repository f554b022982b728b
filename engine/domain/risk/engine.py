"""Risk: turn a strategy's signal into a market order or a denial, each with a reason code.

Pure: no I/O and no clock. Every call takes the event time `now`, so a replay decides
exactly as the live run did. The service feeds it signals (`decide`), portfolio updates
(`check`) and a timer or every market event (`check_market`), and publishes what it returns.

Rules, in the order they are checked:
- Entries (buys; spot has no shorting): kill switch, halt (stop criterion), daily drawdown
  (latched for the rest of the UTC day), a known market price, fresh market data (circuit
  breaker), equity > 0, room under `max_position` for the symbol (adding to a holding is
  allowed up to it), room under `max_exposure`, `min_notional`. The size is in BASE units:
  quantity = min(asked, position room, exposure room) / price, rounded down to
  `quantity_step`, where asked is the signal's `equity_fraction` x equity or its
  `quote_amount` (none asked: the room), and price is the ask, or a limit order's limit
  price (it pays no more). A size the limits cut says so in the decision's detail.
- Exits (sells) sell the whole holding, or the signal's `close_fraction` of it rounded down
  to `quantity_step`. They reduce risk, so the kill switch, the halt, drawdown limits,
  exposure limits, stale data and `min_notional` never block them; only `nothing_to_sell`
  and `no_market_price` (no price ever seen: never invent one) do.
- The order is what the signal asked for: market, or limit with its price and time in
  force (execution rests, fills and expires it).
- Drawdown: the run halts (critical `abort_drawdown`, for good) when max drawdown is above
  `abort_drawdown`; a warning `drawdown` when above `alert_drawdown`; entries stop for the
  rest of the UTC day once daily drawdown is > 0 and >= `max_daily_drawdown` (latched here,
  even if equity recovers that day). Risk only reads the portfolio's figures.
- Circuit breaker: a symbol is stale when its newest data is older than `stale_after`, or
  when none has arrived `stale_after` after the first check (a feed dead from the start).
- Alerts are raised once per crossing, never on every update, and cleared once when the
  condition goes away (the abort halt is never cleared: the run is over).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Final

from engine.domain.market import MarketState
from engine.domain.risk.model import (
    PortfolioView,
    RiskAlertCode,
    RiskOutcome,
    RiskReason,
    RiskState,
)
from engine.domain.risk.sizing import (
    DEFAULT_QUANTITY_STEP,
    PRECISION,
    amount,
    percent,
    size_quantity,
)
from engine.events import AlertLevel, AlertRaised, OrderSubmitted, RiskDecided, SignalGenerated
from engine.events.envelope import bounded_id, stamped
from engine.events.fields import MAX_MAGNITUDE, SMALLEST_AMOUNT
from engine.events.orders import OrderSide
from engine.settings import RiskSettings

_MAX_TEXT: Final = 2000


@dataclass(frozen=True)
class _Verdict:
    reason: RiskReason
    detail: str
    #: Base units to trade; set exactly when the verdict approves.
    quantity: Decimal | None = None
    #: The price the order would pay now (ask to buy, bid to sell, else last), when approved.
    price: Decimal | None = None


class RiskEngine:
    """Decide signals against the risk limits and watch drawdown and market data freshness."""

    def __init__(
        self,
        settings: RiskSettings,
        stale_after: timedelta,
        *,
        source: str = "engine.risk",
        run_id: str | None = None,
        quantity_step: Decimal = DEFAULT_QUANTITY_STEP,
        state: RiskState | None = None,
    ) -> None:
        if stale_after <= timedelta(0):
            raise ValueError("stale_after must be positive")
        if quantity_step < SMALLEST_AMOUNT:
            raise ValueError(f"quantity_step must be at least {SMALLEST_AMOUNT}")
        self._settings = settings
        self._stale_after = stale_after
        self._source = source
        self._run_id = run_id
        self._step = quantity_step
        self._largest_quantity = size_quantity(MAX_MAGNITUDE - 1, Decimal(1), quantity_step)
        self._state = (
            replace(state, stale_symbols=set(state.stale_symbols)) if state else RiskState()
        )

    @property
    def state(self) -> RiskState:
        """Return a copy of what risk remembers (halt, kill switch, latches, stale symbols)."""
        return replace(self._state, stale_symbols=set(self._state.stale_symbols))

    @property
    def halted(self) -> bool:
        return self._state.halt_reason is not None

    @property
    def kill_switch_engaged(self) -> bool:
        return self._state.kill_switch_reason is not None

    def engage_kill_switch(self, reason: str) -> None:
        """Stop new entries (exits still allowed) until `release_kill_switch`."""
        self._state.kill_switch_reason = reason.strip() or "engaged by the operator"

    def release_kill_switch(self) -> None:
        """Allow entries again (other limits still apply)."""
        self._state.kill_switch_reason = None

    def decide(
        self,
        signal: SignalGenerated,
        portfolio: PortfolioView,
        market: MarketState,
        now: datetime,
    ) -> RiskOutcome:
        """Approve `signal` as the order it asks for, or deny it; the outcome carries new
        alerts too."""
        alerts = [*self.check(portfolio, now), *self._watch_symbol(market, signal.symbol, now)]
        if signal.side is OrderSide.SELL:
            verdict = self._exit_verdict(signal, portfolio, market)
        else:
            verdict = self._entry_verdict(signal, portfolio, market, now)
        return self._outcome(signal, verdict, now, tuple(alerts))

    def check(self, portfolio: PortfolioView, now: datetime) -> list[AlertRaised]:
        """Apply the drawdown rules to a portfolio update; return the alerts newly raised."""
        _require_utc(now)
        return [
            *self._check_abort(portfolio, now),
            *self._check_alert_level(portfolio, now),
            *self._check_daily(portfolio, now),
        ]

    def check_market(
        self, market: MarketState, symbols: list[str], now: datetime
    ) -> list[AlertRaised]:
        """Trip or reset the circuit breaker of each symbol; return the alerts newly raised."""
        _require_utc(now)
        return [alert for symbol in symbols for alert in self._watch_symbol(market, symbol, now)]

    # -- entries and exits ---------------------------------------------------------------

    def _entry_verdict(
        self, signal: SignalGenerated, portfolio: PortfolioView, market: MarketState, now: datetime
    ) -> _Verdict:
        symbol = signal.symbol
        blocked = self._entry_block(now)
        if blocked is not None:
            return blocked
        price = market.reference_price(symbol, OrderSide.BUY)
        if price is None:
            return _Verdict(RiskReason.NO_MARKET_PRICE, f"no market price known for {symbol}")
        if market.is_stale(symbol, now, self._stale_after):
            detail = (
                f"newest market data for {symbol} is {market.age(symbol, now)} old "
                f"(limit {self._stale_after}): circuit breaker open"
            )
            return _Verdict(RiskReason.STALE_MARKET_DATA, detail)
        return self._size_entry(signal, price, portfolio, market)

    def _entry_block(self, now: datetime) -> _Verdict | None:
        state = self._state
        if state.kill_switch_reason is not None:
            detail = f"kill switch engaged ({state.kill_switch_reason}): no new entries"
            return _Verdict(RiskReason.KILL_SWITCH, detail)
        if state.halt_reason is not None:
            return _Verdict(RiskReason.HALTED, f"the run is halted: {state.halt_reason}")
        if state.daily_limit_day == _utc_day(now):
            detail = (
                f"daily drawdown reached {percent(self._settings.max_daily_drawdown)} on "
                f"{state.daily_limit_day}: entries resume the next UTC day"
            )
            return _Verdict(RiskReason.DAILY_DRAWDOWN, detail)
        return None

    def _size_entry(
        self, signal: SignalGenerated, price: Decimal, portfolio: PortfolioView, market: MarketState
    ) -> _Verdict:
        symbol, limits, equity = signal.symbol, self._settings, portfolio.equity
        if equity <= 0:
            return _Verdict(RiskReason.NO_EQUITY, f"equity is {amount(equity)}: nothing to size")
        with localcontext(prec=PRECISION):
            mark = market.mark_price(symbol)
            mark = price if mark is None else mark
            held_value = portfolio.quantity(symbol) * mark
            position_room = equity * limits.max_position - held_value
            exposure_room = equity * limits.max_exposure - portfolio.exposure
            asked = _asked_notional(signal, equity)
        denial = self._room_denial(symbol, held_value, position_room, exposure_room)
        if denial is not None:
            return denial
        room = min(position_room, exposure_room)
        cap = room if asked is None else min(asked, room)
        paid = price if signal.limit_price is None else signal.limit_price
        quantity = min(size_quantity(cap, paid, self._step), self._largest_quantity)
        with localcontext(prec=PRECISION):
            notional = quantity * paid
        if quantity <= 0 or notional < limits.min_notional:
            detail = (
                f"order value {amount(notional)} ({amount(quantity)} {symbol} at "
                f"{amount(paid)}) is below the minimum {amount(limits.min_notional)}"
            )
            return _Verdict(RiskReason.MIN_NOTIONAL, detail)
        at = f"limit {amount(paid)}" if signal.limit_price is not None else f"~{amount(paid)}"
        detail = (
            f"buy {amount(quantity)} {symbol} at {at} = {amount(notional)} "
            f"({_asked_text(signal, asked, room)}room: position {amount(position_room)}, "
            f"exposure {amount(exposure_room)})"
        )
        return _Verdict(RiskReason.APPROVED, detail, quantity, price)

    def _room_denial(
        self, symbol: str, held_value: Decimal, position_room: Decimal, exposure_room: Decimal
    ) -> _Verdict | None:
        minimum = self._settings.min_notional
        if held_value > 0 and (position_room <= 0 or position_room < minimum):
            detail = (
                f"already holding {amount(held_value)} of {symbol}: room left "
                f"{amount(position_room)} under max position "
                f"{percent(self._settings.max_position)} of equity"
            )
            return _Verdict(RiskReason.MAX_POSITION, detail)
        if exposure_room < position_room and (exposure_room <= 0 or exposure_room < minimum):
            detail = (
                f"exposure room {amount(exposure_room)} under max exposure "
                f"{percent(self._settings.max_exposure)} is below the minimum order "
                f"{amount(minimum)}"
            )
            return _Verdict(RiskReason.MAX_EXPOSURE, detail)
        return None

    def _exit_verdict(
        self, signal: SignalGenerated, portfolio: PortfolioView, market: MarketState
    ) -> _Verdict:
        symbol, share = signal.symbol, signal.close_fraction
        held = portfolio.quantity(symbol)
        if held < SMALLEST_AMOUNT:
            return _Verdict(RiskReason.NOTHING_TO_SELL, f"no {symbol} held: nothing to sell")
        price = market.reference_price(symbol, OrderSide.SELL)
        if price is None:
            return _Verdict(RiskReason.NO_MARKET_PRICE, f"no market price known for {symbol}")
        quantity, what = held, f"all {amount(held)}"
        if share is not None and share < 1:
            quantity = min(held, _floor_to(held * share, self._step))
            what = f"{amount(quantity)} ({percent(share)} of {amount(held)} held)"
            if quantity < SMALLEST_AMOUNT:
                detail = f"{percent(share)} of {amount(held)} {symbol} rounds to nothing to sell"
                return _Verdict(RiskReason.NOTHING_TO_SELL, detail)
        at = "" if signal.limit_price is None else f" at limit {amount(signal.limit_price)}"
        detail = f"sell {what} {symbol}{at} (exits are never blocked by limits)"
        return _Verdict(RiskReason.APPROVED_EXIT, detail, quantity, price)

    def _outcome(
        self,
        signal: SignalGenerated,
        verdict: _Verdict,
        now: datetime,
        alerts: tuple[AlertRaised, ...],
    ) -> RiskOutcome:
        approved = verdict.quantity is not None
        order_id = _derived_id("o", signal.event_id) if approved else None
        decision = RiskDecided(
            **stamped(_derived_id("rd", signal.event_id), now, self._source, signal.run_id),
            signal_id=signal.event_id,
            approved=approved,
            reason_code=verdict.reason.value,
            detail=verdict.detail[:_MAX_TEXT],
            order_id=order_id,
        )
        if verdict.quantity is None or order_id is None:
            return RiskOutcome(decision, None, alerts)
        order = OrderSubmitted(
            **stamped(order_id, now, self._source, signal.run_id),
            order_id=order_id,
            signal_id=signal.event_id,
            symbol=signal.symbol,
            side=signal.side,
            order_type=signal.order_type,
            quantity=verdict.quantity,
            price=signal.limit_price,
            expires_at=signal.expires_at,
            time_in_force=signal.time_in_force,
            reason=verdict.detail[:_MAX_TEXT],
            decision_price=verdict.price,
        )
        return RiskOutcome(decision, order, alerts)

    # -- drawdown and market data watch ----------------------------------------------------

    def _check_abort(self, portfolio: PortfolioView, now: datetime) -> list[AlertRaised]:
        limit = self._settings.abort_drawdown
        if self._state.halt_reason is not None or portfolio.max_drawdown <= limit:
            return []
        drawdown = percent(portfolio.max_drawdown)
        reason = f"max drawdown {drawdown} passed the abort level {percent(limit)}"
        self._state.halt_reason = f"{reason} at {now.isoformat()}"
        message = f"{reason}: the run is halted, no new entries"
        return [self._alert(RiskAlertCode.ABORT_DRAWDOWN, AlertLevel.CRITICAL, message, now)]

    def _check_alert_level(self, portfolio: PortfolioView, now: datetime) -> list[AlertRaised]:
        limit, drawdown = self._settings.alert_drawdown, portfolio.max_drawdown
        above = drawdown > limit
        if above == self._state.drawdown_alerted:
            return []
        self._state.drawdown_alerted = above
        word = "above" if above else "back to or below"
        message = f"max drawdown {percent(drawdown)} is {word} the alert level {percent(limit)}"
        code = RiskAlertCode.DRAWDOWN
        return [self._alert(code, AlertLevel.WARNING, message, now, cleared=not above)]

    def _check_daily(self, portfolio: PortfolioView, now: datetime) -> list[AlertRaised]:
        state, today = self._state, _utc_day(now)
        code, alerts = RiskAlertCode.DAILY_DRAWDOWN, list[AlertRaised]()
        if state.daily_limit_day is not None and state.daily_limit_day < today:
            state.daily_limit_day = None
            message = f"new UTC day {today}: entries allowed again"
            alerts.append(self._alert(code, AlertLevel.WARNING, message, now, cleared=True))
        if state.daily_limit_day == today:
            return alerts
        limit, drawdown = self._settings.max_daily_drawdown, portfolio.daily_drawdown
        if drawdown > 0 and drawdown >= limit:
            state.daily_limit_day = today
            message = (
                f"daily drawdown {percent(drawdown)} reached the limit {percent(limit)}: "
                f"no new entries until the next UTC day"
            )
            alerts.append(self._alert(code, AlertLevel.WARNING, message, now))
        return alerts

    def _watch_symbol(self, market: MarketState, symbol: str, now: datetime) -> list[AlertRaised]:
        state = self._state
        if state.watching_since is None:
            state.watching_since = now
        age = market.age(symbol, now)
        stale = (now - state.watching_since if age is None else age) > self._stale_after
        if stale == (symbol in state.stale_symbols):
            return []
        code = RiskAlertCode.MARKET_DATA_STALE
        if not stale:
            state.stale_symbols.discard(symbol)
            message = f"market data for {symbol} is fresh again: entries resume"
            return [self._alert(code, AlertLevel.INFO, message, now, symbol, cleared=True)]
        state.stale_symbols.add(symbol)
        seen = "no data received" if age is None else f"newest data is {age} old"
        limit = self._stale_after
        message = f"market data for {symbol} is stale ({seen}, limit {limit}): entries stopped"
        return [self._alert(code, AlertLevel.WARNING, message, now, symbol)]

    def _alert(
        self,
        code: RiskAlertCode,
        level: AlertLevel,
        message: str,
        now: datetime,
        symbol: str | None = None,
        *,
        cleared: bool = False,
    ) -> AlertRaised:
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        parts = [
            self._run_id or "",
            code.value,
            symbol or "all",
            "cleared" if cleared else "raised",
        ]
        return AlertRaised(
            **stamped(
                _derived_id("alert", *[part for part in parts if part], stamp),
                now,
                self._source,
                self._run_id,
            ),
            level=level,
            code=code.value,
            message=message[:_MAX_TEXT],
            cleared=cleared,
            symbol=symbol,
        )


def _asked_notional(signal: SignalGenerated, equity: Decimal) -> Decimal | None:
    """The quote amount a buy asks for (None: as much as the limits allow)."""
    if signal.equity_fraction is not None:
        return equity * signal.equity_fraction
    return signal.quote_amount


def _asked_text(signal: SignalGenerated, asked: Decimal | None, room: Decimal) -> str:
    if asked is None:
        return ""
    what = (
        f"{percent(signal.equity_fraction)} of equity = {amount(asked)}"
        if signal.equity_fraction is not None
        else amount(asked)
    )
    capped = f", capped at the room {amount(room)}" if asked > room else ""
    return f"asked {what}{capped}; "


def _floor_to(quantity: Decimal, step: Decimal) -> Decimal:
    with localcontext(prec=PRECISION):
        return (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _require_utc(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC event time)")


def _utc_day(now: datetime) -> date:
    _require_utc(now)
    return now.astimezone(UTC).date()


def _derived_id(prefix: str, *parts: str) -> str:
    """Build a deterministic event id (bounded: see `bounded_id`)."""
    return bounded_id("-".join((prefix, *parts)))
