"""Execution quality: what each order cost against the price it was decided at
(implementation shortfall), slippage, fill ratio, partial fills and refusals.

Per market order with a decision price and at least one fill, s = +1 for a buy and -1 for a
sell, over its fills i (quantity q, arrival price reference, fill price execution, fee):
  delay    = s x Σ q_i x (reference_i - decision)   the market moved while the order waited
  slippage = s x Σ q_i x (execution_i - reference_i)
  fees     = Σ fee_i
  total    = delay + slippage + fees
in the quote currency (exact), and in bps of Σ q_i x decision (28 digits). A positive cost
is money lost against the decision price.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from engine.events.orders import LIMITS_AT_FILL
from engine.reports.metrics import MATH, ZERO, FillRow, exact, percentile

BASIS_POINTS = Decimal(10_000)
COMPONENTS = ("delay", "slippage", "fees", "total")
STATISTICS = ("min", "p50", "p90", "p99", "max", "mean")


@dataclass(frozen=True)
class OrderRow:
    """One row of `orders`."""

    order_id: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    filled_quantity: Decimal
    status: str
    reason: str | None  # the order's own reason (risk's decision)
    status_reason: str | None  # what its latest result said
    decision_price: Decimal | None
    ts: datetime  # decided at (event time)


@dataclass(frozen=True)
class OrderCost:
    """The implementation shortfall of one market order."""

    order_id: str
    symbol: str
    side: str
    decided_at: datetime
    decision_price: Decimal
    fills: int
    quantity: Decimal  # Σ q_i
    notional: Decimal  # Σ q_i x decision
    delay: Decimal
    slippage: Decimal
    fees: Decimal
    total: Decimal
    bps: dict[str, Decimal]  # component -> cost / notional x 10,000
    reason: str | None


@dataclass
class CostSummary:
    """Every measured order's cost, their totals and their distribution in bps."""

    measured: int
    without_decision_price: int  # market orders with fills but no decision price (left out)
    limit_orders: int  # limit orders with fills (not measured: they wait for their price)
    notional: Decimal
    totals: dict[str, Decimal]  # component -> quote currency
    totals_bps: dict[str, Decimal | None]
    distribution_bps: dict[str, dict[str, Decimal | None]]
    orders: list[OrderCost] = field(default_factory=list)


@dataclass
class ExecutionStats:
    """How orders were filled, and what it cost."""

    orders: int
    filled_orders: int  # status filled
    orders_with_fills: int  # at least one fill, whatever the final status
    partial_fills: int  # orders that ended with 0 < filled < ordered
    fill_ratio: Decimal | None  # orders_with_fills / orders
    quantity_fill_ratio: Decimal | None  # Σ filled quantity / Σ ordered quantity
    slippage_bps: dict[str, Decimal | None] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    #: Buys execution cut short so the position and exposure limits hold at the fill price
    #: ("position" or "exposure" -> orders), the rest of each cancelled.
    cut_by_limits: dict[str, int] = field(default_factory=dict)
    costs: CostSummary | None = None
    #: Orders by type (market, limit) and by how they ended (filled, expired, ...).
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)


def distribution(values: Sequence[Decimal]) -> dict[str, Decimal | None]:
    """min, nearest-rank p50/p90/p99, max and mean (Σ exact, / n in 28 digits)."""
    ordered = sorted(values)
    return {
        "min": ordered[0] if ordered else None,
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else None,
        "mean": _mean(ordered) if ordered else None,
    }


@exact
def _mean(values: Sequence[Decimal]) -> Decimal:
    return MATH.divide(sum(values, ZERO), Decimal(len(values)))


@exact
def order_cost(order: OrderRow, fills: Sequence[FillRow]) -> OrderCost:
    """The shortfall of one market order with a decision price, over its fills."""
    decision = order.decision_price
    if decision is None:
        raise ValueError(f"order {order.order_id} has no decision price to measure from")
    sign = 1 if order.side == "buy" else -1
    quantity = sum((f.quantity for f in fills), ZERO)
    notional = quantity * decision
    delay = sign * sum((f.quantity * (_arrival(f) - decision) for f in fills), ZERO)
    slippage = sign * sum((f.quantity * (f.price - _arrival(f)) for f in fills), ZERO)
    fees = sum((f.fee for f in fills), ZERO)
    amounts = {"delay": _plus(delay), "slippage": _plus(slippage), "fees": fees}
    amounts["total"] = delay + slippage + fees
    return OrderCost(
        order_id=order.order_id,
        symbol=order.symbol,
        side=order.side,
        decided_at=order.ts,
        decision_price=decision,
        fills=len(fills),
        quantity=quantity,
        notional=notional,
        delay=amounts["delay"],
        slippage=amounts["slippage"],
        fees=fees,
        total=amounts["total"],
        bps={k: _bps(v, notional) for k, v in amounts.items()},
        reason=order.reason,
    )


def _plus(value: Decimal) -> Decimal:
    """`value` with a zero shown as 0, never -0 (a sell's sign flip of nothing)."""
    return value.copy_abs() if value.is_zero() else value


def _arrival(fill: FillRow) -> Decimal:
    return fill.reference_price if fill.reference_price is not None else fill.price


def _bps(amount: Decimal, notional: Decimal) -> Decimal:
    return _plus(MATH.divide(MATH.multiply(amount, BASIS_POINTS), notional))


@exact
def implementation_shortfall(orders: Sequence[OrderRow], fills: Sequence[FillRow]) -> CostSummary:
    """Measure every market order with a decision price and a fill; count those left out."""
    by_order: dict[str, list[FillRow]] = defaultdict(list)
    for fill in fills:
        by_order[fill.order_id].append(fill)
    filled = [o for o in orders if by_order.get(o.order_id)]
    market = [o for o in filled if o.order_type == "market"]
    costs = [order_cost(o, by_order[o.order_id]) for o in market if o.decision_price]
    notional = sum((c.notional for c in costs), ZERO)
    totals = {k: sum((getattr(c, k) for c in costs), ZERO) for k in COMPONENTS}
    return CostSummary(
        measured=len(costs),
        without_decision_price=len(market) - len(costs),
        limit_orders=len(filled) - len(market),
        notional=notional,
        totals=totals,
        totals_bps={k: _bps(v, notional) if notional else None for k, v in totals.items()},
        distribution_bps={k: distribution([c.bps[k] for c in costs]) for k in COMPONENTS},
        orders=costs,
    )


def _cut_by(order: OrderRow) -> str:
    """Which limit cut a partly filled order short ("" when none did)."""
    reason = order.status_reason or ""
    if order.status != "cancelled" or LIMITS_AT_FILL not in reason:
        return ""
    return "exposure" if "the exposure above" in reason else "position"


def execution_stats(
    fills: Sequence[FillRow], orders: Sequence[OrderRow], rejection_reasons: Sequence[str]
) -> ExecutionStats:
    """Return fill ratios, partial fills, the slippage distribution, refusals by reason and
    the implementation shortfall."""
    with_fills = [o for o in orders if o.filled_quantity > 0]
    ordered = sum((o.quantity for o in orders), ZERO)
    filled_quantity = sum((o.filled_quantity for o in orders), ZERO)
    count = Decimal(len(orders))
    return ExecutionStats(
        orders=len(orders),
        filled_orders=sum(1 for o in orders if o.status == "filled"),
        orders_with_fills=len(with_fills),
        partial_fills=sum(1 for o in with_fills if o.filled_quantity < o.quantity),
        fill_ratio=MATH.divide(Decimal(len(with_fills)), count) if orders else None,
        quantity_fill_ratio=MATH.divide(filled_quantity, ordered) if ordered else None,
        slippage_bps=distribution([f.slippage_bps for f in fills if f.slippage_bps is not None]),
        rejections=dict(sorted(Counter(rejection_reasons).items())),
        cut_by_limits=dict(sorted(Counter(_cut_by(o) for o in with_fills if _cut_by(o)).items())),
        costs=implementation_shortfall(orders, fills),
        by_type={
            kind: dict(sorted(Counter(o.status for o in orders if o.order_type == kind).items()))
            for kind in sorted({o.order_type for o in orders})
        },
    )
