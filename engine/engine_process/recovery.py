"""What a resumed run does before it continues: clear its streams, settle its orders, and
record the downtime.

The database is the run's memory. Events still in Redis from before the crash are dropped
(the feed plays market data after the last stored snapshot again); an open order is submitted
to execution again, so open orders survive: a resting limit order always, a market order
when the run is on recorded or synthetic data (the market it waits for is played again; live,
the market moved on while the engine was down, so it is cancelled with its reason); for a
live run, the time the engine was down is a gap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from engine.bus.redis_streams import RedisStreamBus
from engine.events import Event, MarketDataGap, OrderResultReported, OrderSubmitted
from engine.events.envelope import bounded_id, stamped
from engine.events.orders import OrderStatus
from engine.services.base import RECOVERY_SOURCE
from engine.storage.run_state import open_orders_at
from engine.streams import Stream


def clear_streams(bus: RedisStreamBus) -> None:
    """Delete every stream of the run's namespace (and its id counters)."""
    keys = [bus.key(stream) for stream in Stream]
    keys += [f"{bus.namespace}:_ids:counter", f"{bus.namespace}:_ids:clock"]
    bus.client.delete(*keys)


def open_order_events(
    conn: psycopg.Connection[Any],
    run_id: str,
    now: datetime,
    *,
    live: bool,
    before: datetime | None = None,
) -> list[Event]:
    """Return the events that settle a crashed run's open orders (those open at `before`,
    of what it had filled by then; None: as stored)."""
    events: list[Event] = []
    for order in open_orders_at(conn, run_id, before):
        if order.order_type == "limit" or not live:
            events.append(
                OrderSubmitted(
                    event_id=bounded_id(f"{order.event_id}-resubmitted"),
                    ts_event=order.ts_event,
                    ts_init=now,
                    source=RECOVERY_SOURCE,
                    run_id=run_id,
                    order_id=order.order_id,
                    signal_id=order.signal_id,
                    symbol=order.symbol,
                    side=order.side,
                    order_type=order.order_type,
                    quantity=order.quantity,
                    price=order.price,
                    expires_at=order.expires_at,
                    time_in_force=order.time_in_force,
                    reason=order.reason,
                    decision_price=order.decision_price,
                    filled_quantity=order.filled_quantity,
                    prior_fills=order.fills,
                    prior_results=order.results,
                )
            )
            continue
        events.append(
            OrderResultReported(
                **stamped(f"result-{order.order_id}-recovery", now, RECOVERY_SOURCE, run_id),
                order_id=order.order_id,
                symbol=order.symbol,
                side=order.side,
                order_type=order.order_type,
                status=OrderStatus.CANCELLED,
                quantity=order.quantity,
                reason="the engine stopped before this market order was filled",
            )
        )
    return events


def downtime_gaps(
    run_id: str, symbols: tuple[str, ...], since: datetime, until: datetime
) -> list[MarketDataGap]:
    """Return one `downtime` gap per symbol for the time the engine was down."""
    missing = max(0, int((until - since).total_seconds() // 60))
    return [
        MarketDataGap(
            **stamped(
                f"gap-{run_id}-{symbol}-downtime-{since:%Y%m%dT%H%M%S}",
                until,
                RECOVERY_SOURCE,
                run_id,
            ),
            symbol=symbol,
            cause="downtime",
            gap_start=since,
            gap_end=until,
            missing=missing,
            backfilled=0,
            detail="the engine was down (crash or reboot) and was resumed",
        )
        for symbol in symbols
    ]
