"""The position and exposure limits, held at the fill.

Risk sizes an entry at the price it sees when it decides; the order fills later, at another
price (the market moved, slippage, fees). Execution asks `FillLimits` how much of a buy may
fill at its execution price so that, right after the fill, the symbol's position is at most
`max_position` of equity and all positions together at most `max_exposure`.

Pure: cash and holdings change only through `apply(fill)`; other symbols are valued at the
market's mark price (mid, else last), the bought symbol at the fill's execution price (for a
buy at least the market: the conservative valuation).

With p the execution price, f the fee rate, H the quantity held, O the other positions'
value and E = cash + O + H·p, buying q leaves equity E - q·p·f, so the position limit L
holds when q·p·(1 + L·f) <= L·E - H·p, and the exposure limit when
q·p·(1 + L·f) <= L·E - O - H·p.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from engine.domain.fills import Fill
from engine.domain.market import MarketState
from engine.domain.risk.sizing import DEFAULT_QUANTITY_STEP, PRECISION, amount, percent
from engine.events.orders import OrderSide
from engine.money import quantize
from engine.settings import RiskSettings

ZERO = Decimal(0)


@dataclass(frozen=True)
class BuyRoom:
    """How much of a buy may fill at a price, and, when that is less than asked, why."""

    quantity: Decimal
    reason: str | None = None


class FillLimits:
    """Cash and holdings as execution filled them, and the room they leave under the limits."""

    def __init__(
        self,
        settings: RiskSettings,
        market: MarketState,
        cash: Decimal,
        *,
        quantity_step: Decimal = DEFAULT_QUANTITY_STEP,
    ) -> None:
        self._settings = settings
        self._market = market
        self._cash = cash
        self._held: defaultdict[str, Decimal] = defaultdict(Decimal)
        self._step = quantity_step

    @property
    def min_notional(self) -> Decimal:
        return self._settings.min_notional

    def apply(self, fill: Fill) -> None:
        """Count one fill in cash and holdings."""
        with localcontext(prec=PRECISION):
            if fill.side is OrderSide.BUY:
                self._cash -= fill.notional + fill.fee
                self._held[fill.symbol] += fill.quantity
            else:
                self._cash += fill.notional - fill.fee
                self._held[fill.symbol] -= fill.quantity

    def room(self, symbol: str, wanted: Decimal, price: Decimal, fee_rate: Decimal) -> BuyRoom:
        """Return how much of `wanted` may be bought at `price` (all of it when it fits)."""
        with localcontext(prec=PRECISION):
            held = self._held[symbol]
            others = self._others_value(symbol)
            equity = self._cash + others + held * price
            limits = self._settings
            by_position = self._largest(limits.max_position, equity, held * price, price, fee_rate)
            by_exposure = self._largest(
                limits.max_exposure, equity, others + held * price, price, fee_rate
            )
            largest = min(by_position, by_exposure)
            if wanted <= largest and not self._breaks(symbol, wanted, price, fee_rate):
                return BuyRoom(wanted)
            largest = self._fits(symbol, largest, price, fee_rate)
            limit, name = (
                (limits.max_position, "position")
                if by_position <= by_exposure
                else (limits.max_exposure, "exposure")
            )
            reason = (
                f"at the fill price {amount(price)} buying {amount(wanted)} {symbol} would "
                f"take the {name} above {percent(limit)} of equity: at most {amount(largest)}"
            )
            return BuyRoom(largest, reason)

    def _others_value(self, symbol: str) -> Decimal:
        value = ZERO
        for other, quantity in self._held.items():
            if other != symbol and quantity:
                mark = self._market.mark_price(other)
                value += quantity * mark if mark is not None else ZERO
        return value

    def _largest(
        self, limit: Decimal, equity: Decimal, used: Decimal, price: Decimal, fee_rate: Decimal
    ) -> Decimal:
        """Return the largest quantity (on the step grid) with `used + q·p <= limit·(E - q·p·f)`."""
        room = limit * equity - used
        if room <= 0 or price <= 0:
            return ZERO
        quantity = room / (price * (1 + limit * fee_rate)) / self._step
        return quantity.to_integral_value(rounding=ROUND_FLOOR) * self._step

    def _fits(self, symbol: str, quantity: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
        """Step `quantity` down until both limits hold with the fee rounded as it is stored."""
        while quantity > 0 and self._breaks(symbol, quantity, price, fee_rate):
            quantity -= self._step
        return max(quantity, ZERO)

    def _breaks(self, symbol: str, quantity: Decimal, price: Decimal, fee_rate: Decimal) -> bool:
        held = self._held[symbol] + quantity
        others = self._others_value(symbol)
        fee = quantize(quantity * price * fee_rate)
        equity = self._cash - quantity * price - fee + others + held * price
        limits = self._settings
        return (
            held * price > limits.max_position * equity
            or others + held * price > limits.max_exposure * equity
        )
