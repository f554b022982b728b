"""Read back what a run had done, so a restarted engine continues where it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

from engine.domain.fills import Fill
from engine.domain.orders import OrderSide
from engine.domain.risk import RiskState


@dataclass(frozen=True)
class OpenOrder:
    """An order still open when the run stopped: what of it may still fill."""

    order_id: str
    symbol: str
    side: OrderSide
    remaining: Decimal


@dataclass(frozen=True)
class RunState:
    """A run's fills (in order), drawdown high-water marks, latest marks, risk state and the
    orders still open."""

    fills: tuple[Fill, ...] = ()
    peak_equity: Decimal | None = None
    max_drawdown: Decimal | None = None
    marks: dict[str, Decimal] = field(default_factory=dict)
    halt_reason: str | None = None
    snapshot_sequence: int = 0
    open_orders: tuple[OpenOrder, ...] = ()

    def risk_state(self) -> RiskState:
        return RiskState(
            halt_reason=self.halt_reason, drawdown_alerted=self.halt_reason is not None
        )


_FILLS = """
SELECT trade_id, order_id, symbol, side, quantity, execution_price, fees, fee_currency, "timestamp"
  FROM trades WHERE run_id = %s ORDER BY "timestamp", trade_id
"""
_HIGH_WATER = """
SELECT MAX(equity), MAX(max_drawdown_pct), COALESCE(MAX(sequence), 0)
  FROM portfolio_snapshots WHERE run_id = %s
"""
_LATEST_POSITIONS = """
SELECT positions FROM portfolio_snapshots WHERE run_id = %s
 ORDER BY "timestamp" DESC, sequence DESC LIMIT 1
"""
#: The statuses of an order that may still fill (engine.papertest.recovery resubmits them).
OPEN_STATUSES = "('submitted', 'accepted', 'partially_filled')"
_OPEN = f"""
SELECT order_id, symbol, side, quantity - filled_quantity FROM orders
 WHERE run_id = %s AND status IN {OPEN_STATUSES} ORDER BY ts_event, order_id
"""
_HALT = """
SELECT message FROM alerts WHERE run_id = %s AND code = 'abort_drawdown' AND NOT cleared
 ORDER BY ts_event LIMIT 1
"""


def load_run_state(conn: psycopg.Connection[Any], run_id: str) -> RunState:
    """Return what the database holds of `run_id` (empty for a new run)."""
    fills = tuple(
        Fill(
            trade_id=row[0],
            order_id=row[1],
            symbol=row[2],
            side=OrderSide(row[3]),
            quantity=row[4],
            price=row[5],
            fee=row[6],
            fee_currency=row[7],
            ts=row[8],
        )
        for row in conn.execute(_FILLS, (run_id,)).fetchall()
    )
    peak, drawdown, sequence = conn.execute(_HIGH_WATER, (run_id,)).fetchone() or (None, None, 0)
    latest = conn.execute(_LATEST_POSITIONS, (run_id,)).fetchone()
    marks = {
        p["symbol"]: Decimal(str(p["market_price"]))
        for p in (latest[0] if latest else [])
        if p.get("market_price") is not None
    }
    halt = conn.execute(_HALT, (run_id,)).fetchone()
    open_orders = tuple(
        OpenOrder(order_id, symbol, OrderSide(side), remaining)
        for order_id, symbol, side, remaining in conn.execute(_OPEN, (run_id,)).fetchall()
    )
    return RunState(
        fills, peak, drawdown, marks, halt[0] if halt else None, int(sequence), open_orders
    )
