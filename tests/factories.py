"""Event factories with sensible defaults; the same arguments give the same event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.events import (
    Candle,
    OrderResultReported,
    OrderSubmitted,
    PortfolioSnapshotTaken,
    PositionSnapshot,
    RiskDecided,
    SignalGenerated,
    TradeTick,
)

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


def _envelope(event_id: str, at: datetime, source: str, run_id: str | None) -> dict[str, Any]:
    return {"event_id": event_id, "ts_event": at, "ts_init": at, "source": source, "run_id": run_id}


def _result(
    order_id: str, number: int, status: str, run_id: str | None, at: datetime
) -> dict[str, Any]:
    """The fields every order result of these factories shares."""
    return {
        **_envelope(f"result-{order_id}-{number}", at, "engine.execution", run_id),
        "order_id": order_id,
        "symbol": "BTCUSDT",
        "order_type": "market",
        "status": status,
    }


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


def candle(
    index: int = 0,
    *,
    symbol: str = "BTCUSDT",
    close: Decimal | str = "95000",
    volume: Decimal | str = "12.5",
    source: str = "synthetic",
    run_id: str | None = None,
) -> Candle:
    """Return the 1-minute candle number `index` (open = high = low = close unless widened)."""
    opened = EPOCH + timedelta(minutes=index)
    price = Decimal(str(close))
    return Candle(
        event_id=f"candle-{source}-{symbol}-{index}",
        ts_event=opened + timedelta(minutes=1),
        ts_init=opened + timedelta(minutes=1),
        source=source,
        run_id=run_id,
        symbol=symbol,
        open_time=opened,
        close_time=opened + timedelta(minutes=1),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(str(volume)),
        quote_volume=Decimal(str(volume)) * price,
    )


def signal(
    index: int = 0, *, symbol: str = "BTCUSDT", side: str = "buy", run_id: str | None = "run-1"
) -> SignalGenerated:
    at = EPOCH + timedelta(minutes=index)
    return SignalGenerated(
        **_envelope(f"sig-{symbol}-{index}", at, "engine.signal", run_id),
        symbol=symbol,
        side=side,
        strategy="momentum",
        confidence=Decimal("0.5"),
        reference_price=Decimal("95000"),
        reason="momentum 0.6% over 15m",
    )


def risk_decision(
    signal_id: str = "sig-BTCUSDT-0",
    *,
    approved: bool = True,
    reason_code: str = "approved",
    run_id: str | None = "run-1",
) -> RiskDecided:
    return RiskDecided(
        **_envelope(f"decision-{signal_id}", EPOCH, "engine.risk", run_id),
        signal_id=signal_id,
        approved=approved,
        reason_code=reason_code,
        order_id=f"order-{signal_id}" if approved else None,
    )


def order(
    order_id: str = "o1",
    *,
    symbol: str = "BTCUSDT",
    side: str = "buy",
    order_type: str = "market",
    quantity: Decimal | str = "0.05",
    price: Decimal | str | None = None,
    run_id: str | None = "run-1",
    at: datetime = EPOCH,
) -> OrderSubmitted:
    return OrderSubmitted(
        event_id=f"order-{order_id}",
        ts_event=at,
        ts_init=at,
        source="engine.risk",
        run_id=run_id,
        order_id=order_id,
        signal_id=f"sig-{order_id}",
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=Decimal(str(quantity)),
        price=None if price is None else Decimal(str(price)),
    )


def fill(
    order_id: str = "o1",
    *,
    number: int = 1,
    status: str = "filled",
    side: str = "buy",
    quantity: Decimal | str = "0.05",
    filled: Decimal | str | None = None,
    price: Decimal | str = "95010",
    reference: Decimal | str = "95000",
    fee: Decimal | str = "2.37525",
    run_id: str | None = "run-1",
    at: datetime = EPOCH,
) -> OrderResultReported:
    """Return fill `number` of an order (a filled or partially_filled result)."""
    return OrderResultReported(
        **_result(order_id, number, status, run_id, at),
        side=side,
        quantity=Decimal(str(quantity)),
        filled_quantity=Decimal(str(filled if filled is not None else quantity)),
        execution_price=Decimal(str(price)),
        reference_price=Decimal(str(reference)),
        slippage_bps=Decimal("1.0526"),
        fee=Decimal(str(fee)),
        fee_currency="USDT",
        trade_id=f"trade-{order_id}-{number}",
    )


def refusal(
    order_id: str = "o1",
    *,
    number: int = 1,
    status: str = "rejected",
    reason: str | None = "no market price for BTCUSDT",
    run_id: str | None = "run-1",
    at: datetime = EPOCH,
) -> OrderResultReported:
    """Return a result that fills nothing (rejected, cancelled, expired, accepted)."""
    return OrderResultReported(
        **_result(order_id, number, status, run_id, at),
        side="buy",
        quantity=Decimal("0.05"),
        reason=reason,
    )


def snapshot(
    number: int = 0,
    *,
    cash: Decimal | str = "95000",
    positions: tuple[PositionSnapshot, ...] = (),
    run_id: str | None = "run-1",
) -> PortfolioSnapshotTaken:
    """Return a snapshot whose equity is cash plus its positions at their average price."""
    at = EPOCH + timedelta(minutes=number)
    value = sum((p.quantity * p.average_price for p in positions), Decimal(0))
    equity = Decimal(str(cash)) + value
    return PortfolioSnapshotTaken(
        event_id=f"snap-{run_id}-{number}",
        ts_event=at,
        ts_init=at,
        source="engine.portfolio",
        run_id=run_id,
        cash=Decimal(str(cash)),
        equity=equity,
        positions_value=value,
        realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(0),
        exposure=value,
        exposure_pct=value / equity if equity > 0 else Decimal(0),
        daily_drawdown=Decimal(0),
        max_drawdown=Decimal(0),
        positions=positions,
    )


def position(
    symbol: str = "BTCUSDT", quantity: str = "0.05", price: str = "95000"
) -> PositionSnapshot:
    return PositionSnapshot(symbol=symbol, quantity=Decimal(quantity), average_price=Decimal(price))


def rally_then_slide(minute: int) -> Decimal:
    """A price by minute: flat, then a rally (an entry), then a slide (the exits)."""
    if minute < 5:
        return Decimal(95_000)
    if minute < 20:
        return Decimal(95_000) * (1 + Decimal("0.003") * (minute - 4))
    return Decimal(95_000) * (1 + Decimal("0.003") * 15) * (1 - Decimal("0.004") * (minute - 19))
