"""Orders risk has approved that have not finished: they count against the limits.

Between an approval and its fill the portfolio does not show the order yet. Without this
book a second signal could be approved before the first order fills (position limit
exceeded), and an exit could try to sell what another exit is already selling.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.domain.market import MarketState
from engine.domain.risk import PortfolioView
from engine.events import OrderResultReported, OrderSubmitted
from engine.events.orders import OrderSide


@dataclass
class _Open:
    symbol: str
    side: OrderSide
    remaining: Decimal


class OpenOrderBook:
    """Remaining quantity of every approved order until its result ends it."""

    def __init__(self) -> None:
        self._orders: dict[str, _Open] = {}

    def on_order(self, order: OrderSubmitted) -> None:
        self.restore(order.order_id, order.symbol, order.side, order.quantity)

    def restore(self, order_id: str, symbol: str, side: OrderSide, remaining: Decimal) -> None:
        """Hold an order approved before a restart, with what of it may still fill."""
        self._orders.setdefault(order_id, _Open(symbol, side, remaining))

    def on_result(self, result: OrderResultReported) -> None:
        held = self._orders.get(result.order_id)
        if held is None:
            return
        held.remaining -= result.filled_quantity
        if result.status.is_terminal or held.remaining <= 0:
            del self._orders[result.order_id]

    def pending(self, symbol: str, side: OrderSide) -> Decimal:
        """Return the unfilled base quantity of open orders on one side of a symbol."""
        return sum(
            (o.remaining for o in self._orders.values() if o.symbol == symbol and o.side is side),
            Decimal(0),
        )

    def __len__(self) -> int:
        return len(self._orders)


class CommittedPortfolio:
    """The portfolio as risk must see it for one decision.

    For an entry, a symbol's quantity is what is held plus open buys less open sells, and
    exposure includes open buys. For an exit (`exit=True`), the quantity is only what may be
    sold now: held, less what open sells will already take.
    """

    def __init__(
        self,
        portfolio: PortfolioView,
        book: OpenOrderBook,
        market: MarketState,
        *,
        exit: bool = False,
    ) -> None:
        self._portfolio = portfolio
        self._book = book
        self._market = market
        self._exit = exit

    @property
    def equity(self) -> Decimal:
        return self._portfolio.equity

    @property
    def exposure(self) -> Decimal:
        """Exposure including the value of open buys at the current mark."""
        extra = Decimal(0)
        for symbol in self._market.symbols():
            pending = self._book.pending(symbol, OrderSide.BUY)
            mark = self._market.mark_price(symbol)
            if pending and mark is not None:
                extra += pending * mark
        return self._portfolio.exposure + extra

    @property
    def daily_drawdown(self) -> Decimal:
        return self._portfolio.daily_drawdown

    @property
    def max_drawdown(self) -> Decimal:
        return self._portfolio.max_drawdown

    def quantity(self, symbol: str) -> Decimal:
        held = self._portfolio.quantity(symbol)
        sold = self._book.pending(symbol, OrderSide.SELL)
        if self._exit:
            return max(held - sold, Decimal(0))
        return held + self._book.pending(symbol, OrderSide.BUY) - sold
