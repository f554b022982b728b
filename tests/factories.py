"""Event factories with sensible defaults; the same arguments give the same event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.events import TradeTick

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


def trade_tick(
    index: int = 0,
    *,
    symbol: str = "BTCUSDT",
    price: Decimal | str = "95000.5",
    quantity: Decimal | str = "0.01",
    source: str = "synthetic",
    run_id: str | None = None,
) -> TradeTick:
    """Return trade number `index`: its id and times derive from the index."""
    ts = EPOCH + timedelta(milliseconds=100 * index)
    return TradeTick(
        event_id=f"tick-{symbol}-{index}",
        ts_event=ts,
        ts_init=ts,
        source=source,
        run_id=run_id,
        symbol=symbol,
        price=Decimal(str(price)),
        quantity=Decimal(str(quantity)),
        side="buy" if index % 2 == 0 else "sell",
        trade_id=str(index),
    )
