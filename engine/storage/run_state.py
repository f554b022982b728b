"""Read back what a run had done, so a restarted engine continues where it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from engine.domain.fills import Fill
from engine.domain.risk import RiskState
from engine.events.orders import OrderSide


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


#: Every query reads what happened before the cut `%(before)s` (NULL: everything stored).
_BEFORE = "COALESCE(%(before)s::timestamptz, 'infinity')"
_FILLS = f"""
SELECT trade_id, order_id, symbol, side, quantity, execution_price, fees, fee_currency, "timestamp"
  FROM trades WHERE run_id = %(run)s AND "timestamp" < {_BEFORE}
 ORDER BY "timestamp", trade_id
"""
_HIGH_WATER = f"""
SELECT MAX(equity), MAX(max_drawdown_pct), COALESCE(MAX(sequence), 0)
  FROM portfolio_snapshots WHERE run_id = %(run)s AND "timestamp" < {_BEFORE}
"""
_LATEST_POSITIONS = f"""
SELECT positions FROM portfolio_snapshots WHERE run_id = %(run)s AND "timestamp" < {_BEFORE}
 ORDER BY "timestamp" DESC, sequence DESC LIMIT 1
"""
#: The orders submitted before the cut and not ended before it (by their results then):
#: what of each had filled by then, in how many fills and results.
_OPEN_ORDERS = f"""
SELECT o.order_id, o.event_id, o.signal_id, o.symbol, o.side, o.order_type, o.quantity,
       o.price, o.expires_at, o.ts_event, o.reason, o.decision_price, o.time_in_force,
       COALESCE(SUM(r.filled_quantity), 0),
       COUNT(r.trade_id), COUNT(r.event_id)
  FROM orders o
  LEFT JOIN order_results r ON r.order_id = o.order_id AND r.ts_event < {_BEFORE}
 WHERE o.run_id = %(run)s AND o.ts_event < {_BEFORE}
 GROUP BY o.order_id
HAVING NOT COALESCE(BOOL_OR(r.status IN ('filled', 'cancelled', 'rejected', 'expired')), FALSE)
 ORDER BY o.ts_event, o.order_id
"""
_HALT = f"""
SELECT message FROM alerts
 WHERE run_id = %(run)s AND code = 'abort_drawdown' AND NOT cleared AND ts_event < {_BEFORE}
 ORDER BY ts_event LIMIT 1
"""


@dataclass(frozen=True)
class StoredOpenOrder:
    """An order open at a cut, as stored: engine.engine_process.recovery submits it again."""

    order_id: str
    event_id: str
    signal_id: str | None
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    expires_at: datetime | None
    ts_event: datetime
    reason: str | None
    decision_price: Decimal | None
    time_in_force: str | None
    filled_quantity: Decimal
    fills: int
    results: int

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity


def open_orders_at(
    conn: psycopg.Connection[Any], run_id: str, before: datetime | None = None
) -> list[StoredOpenOrder]:
    """Return the orders of `run_id` open at the cut `before` (None: as stored), oldest first."""
    rows = conn.execute(_OPEN_ORDERS, {"run": run_id, "before": before}).fetchall()
    return [StoredOpenOrder(*row) for row in rows]


def load_run_state(
    conn: psycopg.Connection[Any], run_id: str, *, before: datetime | None = None
) -> RunState:
    """Return what the database holds of `run_id` (empty for a new run): everything, or with
    `before` what the run had done before that event time (a resumed run plays the rest of
    its market data again, and decides it again)."""
    cut = {"run": run_id, "before": before}
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
        for row in conn.execute(_FILLS, cut).fetchall()
    )
    peak, drawdown, sequence = conn.execute(_HIGH_WATER, cut).fetchone() or (None, None, 0)
    latest = conn.execute(_LATEST_POSITIONS, cut).fetchone()
    marks = {
        p["symbol"]: Decimal(str(p["market_price"]))
        for p in (latest[0] if latest else [])
        if p.get("market_price") is not None
    }
    halt = conn.execute(_HALT, cut).fetchone()
    open_orders = tuple(
        OpenOrder(o.order_id, o.symbol, OrderSide(o.side), o.remaining)
        for o in open_orders_at(conn, run_id, before)
    )
    return RunState(
        fills, peak, drawdown, marks, halt[0] if halt else None, int(sequence), open_orders
    )
