"""The whole pipeline on the in-memory bus, persisting to a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from engine.bus.memory import InMemoryBus, drain_all
from engine.events import Candle, SignalGenerated
from engine.marketdata.synthetic import synthetic_candles
from engine.runtime.local import LocalRuntime
from engine.services.pipeline import ReplaySummary, build_pipeline, run_in_memory
from engine.settings import ExecutionSettings, RiskSettings, Settings
from engine.storage.event_writer import EventWriter
from engine.storage.run_state import RunState, load_run_state
from tests.factories import candle, order
from tests.support import scratch_database

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

Db = psycopg.Connection[tuple[object, ...]]
START = datetime(2026, 1, 5, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def replay(
    conninfo: str,
    market: list[Candle],
    *,
    settings: Settings | None = None,
    run_id: str = "run-1",
    extra: list[object] | None = None,
    state: RunState | None = None,
    end_feed: bool = True,
) -> tuple[ReplaySummary, InMemoryBus]:
    settings = settings or Settings()
    with psycopg.connect(conninfo) as conn:
        writer = EventWriter(conn, conninfo)
        bus = InMemoryBus(on_dead_letter=lambda letter: writer.record_dead_letters([letter]))
        pipeline = build_pipeline(
            settings,
            bus,
            run_id=run_id,
            symbols=SYMBOLS,
            writer=writer,
            persistence_buffer=500,
            state=state,
        )
        summary = run_in_memory(pipeline, bus, market, end_feed=end_feed)
        for event in extra or []:
            bus.publish(event)  # type: ignore[arg-type]
            bus.drain()
        if pipeline.persistence is not None:
            pipeline.persistence.flush()
    return summary, bus


def rows(db: Db, query: str) -> list[tuple[object, ...]]:
    return db.execute(query).fetchall()


def scalar(db: Db, query: str) -> object:
    return rows(db, query)[0][0]


@pytest.fixture(scope="module")
def synthetic() -> list[Candle]:
    return list(synthetic_candles(SYMBOLS, START, 1500, seed=7))


def test_synthetic_run_leaves_trades_that_track_the_market(
    database_conninfo: str, db: Db, synthetic: list[Candle]
) -> None:
    summary, bus = replay(database_conninfo, synthetic)

    assert summary.market_events == len(synthetic)
    assert bus.dead_letters == []
    assert int(str(scalar(db, "SELECT COUNT(*) FROM trades"))) >= 10
    assert (
        scalar(db, "SELECT COUNT(*) FROM trades WHERE status NOT IN ('filled', 'partially_filled')")
        == 0
    )
    assert scalar(db, "SELECT COUNT(*) FROM trades WHERE execution_price <= 0") == 0
    # Each fill is measured against its arrival price (the open of the candle after the
    # decision, booked at that candle's close; no quotes here)
    # and slips against the trader by no more than the cap.
    off_market = rows(
        db,
        "SELECT t.trade_id FROM trades t JOIN candles c"
        "  ON c.symbol = t.symbol AND c.ts_event = t.timestamp"
        " WHERE t.reference_price <> c.open"
        "    OR t.slippage_bps <= 0 OR t.slippage_bps > 50"
        "    OR (t.side = 'buy' AND t.execution_price <= t.reference_price)"
        "    OR (t.side = 'sell' AND t.execution_price >= t.reference_price)",
    )
    assert off_market == []
    assert (
        scalar(
            db,
            "SELECT COUNT(*) FROM trades t WHERE NOT EXISTS"
            " (SELECT 1 FROM candles c WHERE c.symbol = t.symbol AND c.ts_event = t.timestamp)",
        )
        == 0
    )


def test_synthetic_run_charges_taker_fees_on_every_fill(
    database_conninfo: str, db: Db, synthetic: list[Candle]
) -> None:
    replay(database_conninfo, synthetic)

    wrong_fee = rows(
        db,
        "SELECT trade_id, fees, quantity * execution_price * 0.0005 FROM trades"
        " WHERE fees <> ROUND(quantity * execution_price * 0.0005, 18) OR fees <= 0",
    )
    assert wrong_fee == []
    assert Decimal(str(scalar(db, "SELECT SUM(fees) FROM trades"))) > 0


def test_synthetic_run_snapshots_reconcile_at_every_row(
    database_conninfo: str, db: Db, synthetic: list[Candle]
) -> None:
    replay(database_conninfo, synthetic)

    count = int(str(scalar(db, "SELECT COUNT(*) FROM portfolio_snapshots")))
    broken = rows(
        db,
        "SELECT timestamp FROM portfolio_snapshots"
        " WHERE equity <> cash + positions_value"
        "    OR equity - 100000 <> realized_pnl + unrealized_pnl",
    )
    final_equity, final_cash = rows(
        db,
        "SELECT equity, cash FROM portfolio_snapshots"
        " ORDER BY timestamp DESC, sequence DESC LIMIT 1",
    )[0]
    trade_cash = Decimal(
        str(
            scalar(
                db,
                "SELECT ROUND(COALESCE(SUM(CASE side WHEN 'sell' THEN quantity * execution_price"
                " - fees ELSE -(quantity * execution_price) - fees END), 0), 18) FROM trades",
            )
        )
    )

    assert count >= 1500
    assert broken == []
    # Cash is exactly what the trades say (snapshots keep 18 decimal places).
    assert final_cash == Decimal(100000) + trade_cash
    assert final_equity is not None


def test_synthetic_run_records_a_decision_with_a_reason_for_every_signal(
    database_conninfo: str, db: Db, synthetic: list[Candle]
) -> None:
    replay(database_conninfo, synthetic)

    undecided = rows(
        db,
        "SELECT s.event_id FROM signals s LEFT JOIN risk_decisions d ON d.signal_id = s.event_id"
        " WHERE d.event_id IS NULL OR d.reason_code = ''",
    )
    orders_by_type = rows(
        db, "SELECT order_type, COUNT(*) - COUNT(price) AS null_price FROM orders GROUP BY 1"
    )

    assert int(str(scalar(db, "SELECT COUNT(*) FROM signals"))) > 0
    assert undecided == []
    assert [order_type for order_type, _ in orders_by_type] == ["market"]
    assert all(null_price > 0 for _, null_price in orders_by_type)


def test_same_input_twice_then_identical_trades_and_snapshots(
    session_runtime: LocalRuntime, synthetic: list[Candle]
) -> None:
    outputs = []
    for _ in range(2):
        with scratch_database(session_runtime, "t_det", "claire_template") as name:
            conninfo = session_runtime.postgres.conninfo(name)
            replay(conninfo, synthetic)
            with psycopg.connect(conninfo) as conn:
                trades = conn.execute("SELECT * FROM trades ORDER BY trade_id").fetchall()
                snaps = conn.execute(
                    "SELECT event_id, timestamp, cash, equity, max_drawdown_pct"
                    " FROM portfolio_snapshots ORDER BY event_id"
                ).fetchall()
            outputs.append((trades, snaps))

    assert outputs[0] == outputs[1]
    assert outputs[0][0]


def test_order_without_market_price_then_rejected_and_no_trade(
    database_conninfo: str, db: Db
) -> None:
    replay(database_conninfo, [], extra=[order("o-xrp", symbol="XRPUSDT")])

    assert rows(db, "SELECT status, status_reason FROM orders") == [
        ("rejected", "no market price for XRPUSDT")
    ]
    assert scalar(db, "SELECT COUNT(*) FROM trades") == 0


def test_signal_for_unknown_symbol_then_denied_and_no_order(database_conninfo: str, db: Db) -> None:
    signal = SignalGenerated(
        event_id="sig-x",
        ts_event=START,
        ts_init=START,
        source="inject",
        run_id="run-1",
        symbol="XRPUSDT",
        side="buy",
        strategy="manual",
        confidence=Decimal("0.5"),
        reference_price=Decimal("2.5"),
    )
    replay(database_conninfo, [], extra=[signal])

    assert rows(db, "SELECT approved, reason_code FROM risk_decisions") == [
        (False, "no_market_price")
    ]
    assert scalar(db, "SELECT COUNT(*) FROM orders") == 0


def test_stale_symbol_trips_circuit_breaker_then_clears_when_data_returns(
    database_conninfo: str, db: Db
) -> None:
    # BTC trades every minute; ETH goes silent for 10 minutes in the middle (stale after 120 s).
    market = []
    for minute in range(30):
        market.append(candle(minute, symbol="BTCUSDT", close="95000"))
        if not 10 <= minute < 20:
            market.append(candle(minute, symbol="ETHUSDT", close="3500"))

    replay(database_conninfo, market)

    alerts = rows(
        db,
        "SELECT cleared, ts_event FROM alerts WHERE code = 'market_data_stale'"
        " AND symbol = 'ETHUSDT' ORDER BY ts_event",
    )
    assert [cleared for cleared, _ in alerts] == [False, True]
    tripped, cleared = (ts for _, ts in alerts)
    assert isinstance(tripped, datetime)
    assert isinstance(cleared, datetime)
    assert tripped - START >= timedelta(minutes=12)  # stale 120 s after ETH's last candle
    assert cleared == START + timedelta(minutes=21)  # the first ETH candle after the gap


def test_crash_beyond_abort_drawdown_then_run_halts_with_critical_alert(
    database_conninfo: str, db: Db
) -> None:
    settings = Settings(
        risk=RiskSettings(max_position=Decimal(1), max_exposure=Decimal(1)),  # type: ignore[call-arg]
        execution=ExecutionSettings(latency_ms=0),  # type: ignore[call-arg]
    )
    prices = ["95000"] * 16 + ["96000", "97000", "80000", "79000", "78000"] + ["78000"] * 10
    market = [candle(i, close=p, volume="1000") for i, p in enumerate(prices)]

    summary, _ = replay(database_conninfo, market, settings=settings)

    assert summary.halted
    assert summary.market_events < len(market)
    assert rows(db, "SELECT level FROM alerts WHERE code = 'abort_drawdown'") == [("critical",)]
    assert Decimal(
        str(scalar(db, "SELECT MAX(max_drawdown_pct) FROM portfolio_snapshots"))
    ) > Decimal("0.08")


def test_duplicate_market_event_then_written_once(database_conninfo: str, db: Db) -> None:
    market = [candle(0), candle(0), candle(1), candle(1)]

    replay(database_conninfo, market)

    assert scalar(db, "SELECT COUNT(*) FROM candles") == 2


def round_trip(database_conninfo: str, db: Db, closes: list[str]) -> tuple[Decimal, Decimal]:
    """Replay BTC closes; return (realized PnL from the trades, from the last snapshot)."""
    market = [candle(i, close=price, volume="1000") for i, price in enumerate(closes)]
    replay(database_conninfo, market)
    sides = rows(db, "SELECT side FROM trades ORDER BY timestamp")
    assert sides == [("buy",), ("sell",)]
    assert scalar(db, "SELECT COUNT(*) FROM trades WHERE fees <= 0") == 0
    trades = rows(db, "SELECT side, quantity, execution_price, fees FROM trades")
    from_trades = sum(
        (
            (q * p if side == "sell" else -(q * p)) - f  # type: ignore[operator]
            for side, q, p, f in trades
        ),
        Decimal(0),
    ).quantize(Decimal("1e-18"))
    # The snapshot of the instant of the closing fill.
    reported = rows(
        db,
        "SELECT s.realized_pnl FROM portfolio_snapshots s JOIN trades t"
        ' ON s."timestamp" = t."timestamp" WHERE t.side = \'sell\'',
    )[0][0]
    assert isinstance(reported, Decimal)
    return from_trades, reported


def test_winning_round_trip_then_profit_after_fees_is_what_snapshots_report(
    database_conninfo: str, db: Db
) -> None:
    # Flat for the look-back, a 1% rise (entry), then +3% (take-profit at +2%).
    closes = ["95000"] * 16 + ["95950", "96500", "97500", "98500", "98500"]

    from_trades, reported = round_trip(database_conninfo, db, closes)

    assert from_trades > 0
    assert abs(reported - from_trades) <= Decimal("1e-17")
    reason = scalar(db, "SELECT reason FROM signals WHERE side = 'sell'")
    assert str(reason).startswith("take-profit")


def test_losing_round_trip_then_loss_includes_both_fees(database_conninfo: str, db: Db) -> None:
    # A 1% rise (entry, filled a minute later: latency), then a fall past the 1% stop-loss.
    closes = ["95000"] * 16 + ["95950", "95950", "94800", "94700", "94700"]

    from_trades, reported = round_trip(database_conninfo, db, closes)

    fees = Decimal(str(scalar(db, "SELECT SUM(fees) FROM trades")))
    price_move = Decimal(
        str(
            scalar(
                db,
                "SELECT SUM(CASE side WHEN 'sell' THEN quantity * execution_price"
                " ELSE -(quantity * execution_price) END) FROM trades",
            )
        )
    )
    assert from_trades < 0
    assert from_trades == (price_move - fees).quantize(Decimal("1e-18"))
    assert abs(reported - from_trades) <= Decimal("1e-17")
    assert str(scalar(db, "SELECT reason FROM signals WHERE side = 'sell'")).startswith("stop-loss")


def test_restart_mid_run_then_positions_and_cash_continue_from_the_database(
    database_conninfo: str, db: Db, synthetic: list[Candle]
) -> None:
    half = len(synthetic) // 2
    replay(database_conninfo, synthetic[:half])
    cash_before, positions_before = rows(
        db,
        "SELECT cash, positions FROM portfolio_snapshots"
        " ORDER BY timestamp DESC, sequence DESC LIMIT 1",
    )[0]

    with psycopg.connect(database_conninfo) as conn:
        state = load_run_state(conn, "run-1")
    bus = InMemoryBus()
    restored = build_pipeline(Settings(), bus, run_id="run-1", state=state)
    bus.subscribe("portfolio", restored.portfolio.inputs, restored.portfolio.handle)
    drain_all(bus, synthetic[half : half + 1])  # the stored fills count once the market moves on
    held = {
        p["symbol"]: Decimal(p["quantity"])
        for p in positions_before  # type: ignore[attr-defined]
    }

    assert restored.portfolio.portfolio.cash.quantize(Decimal("1e-18")) == cash_before
    assert restored.risk.engine.halted is False
    assert {s: restored.portfolio.portfolio.quantity(s) for s in held} == held
    assert len(state.fills) == scalar(db, "SELECT COUNT(*) FROM trades")
    assert held  # the seeded market leaves a position open at the restart

    replay(database_conninfo, synthetic[half:], state=state)

    final_cash = rows(
        db, "SELECT cash FROM portfolio_snapshots ORDER BY timestamp DESC, sequence DESC LIMIT 1"
    )[0][0]
    trades = rows(db, "SELECT side, quantity, execution_price, fees FROM trades")
    trade_cash = sum(
        ((q * p if side == "sell" else -(q * p)) - f for side, q, p, f in trades),  # type: ignore[operator]
        Decimal(0),
    )
    assert final_cash == (Decimal(100000) + trade_cash).quantize(Decimal("1e-18"))


def test_snapshots_numbered_in_order_so_ties_on_timestamp_are_ordered(
    database_conninfo: str, db: Db, synthetic: list[Candle]
) -> None:
    replay(database_conninfo, synthetic[:400])

    numbers = [
        row[0]
        for row in rows(db, "SELECT sequence FROM portfolio_snapshots ORDER BY timestamp, sequence")
    ]

    assert numbers == list(range(1, len(numbers) + 1))
