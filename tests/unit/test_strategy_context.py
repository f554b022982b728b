"""What a strategy reads besides market data: its positions, cash and equity, from the fills
of its orders and the newest price of each symbol (recomputed here by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.bus.memory import InMemoryBus
from engine.events import OrderResultReported, QuoteTick, SignalGenerated, TradeTick
from engine.services.signal import SignalStage
from engine.strategy import BaseStrategy, MarketEvent, StrategyContext
from tests.factories import EPOCH

T0 = datetime(2026, 1, 5, tzinfo=UTC)


class Recorder(BaseStrategy):
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[Decimal, Decimal, Decimal]] = []

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        self.seen.append((context.position(event.symbol)[0], context.cash, context.equity))
        return []


def trade(seconds: int, price: str, symbol: str = "BTCUSDT") -> TradeTick:
    at = T0 + timedelta(seconds=seconds)
    return TradeTick(
        event_id=f"t{seconds}{symbol}", ts_event=at, ts_init=at, source="synthetic",
        symbol=symbol, price=Decimal(price), quantity=Decimal(1), side="buy",
    )  # fmt: skip


def quote(seconds: int, bid: str, ask: str) -> QuoteTick:
    at = T0 + timedelta(seconds=seconds)
    return QuoteTick(
        event_id=f"q{seconds}", ts_event=at, ts_init=at, source="synthetic", symbol="ETHUSDT",
        bid_price=Decimal(bid), bid_quantity=Decimal(1), ask_price=Decimal(ask),
        ask_quantity=Decimal(1),
    )  # fmt: skip


def fill(
    seconds: int, side: str, quantity: str, price: str, fee: str, n: int
) -> OrderResultReported:
    at = T0 + timedelta(seconds=seconds)
    return OrderResultReported(
        event_id=f"r{n}", ts_event=at, ts_init=at, source="engine.execution", run_id="run-c",
        order_id=f"o{n}", symbol="BTCUSDT", side=side, order_type="market", status="filled",
        quantity=Decimal(quantity), filled_quantity=Decimal(quantity),
        execution_price=Decimal(price), reference_price=Decimal(price), slippage_bps=Decimal(0),
        fee=Decimal(fee), fee_currency="USDT", trade_id=f"o{n}:f1",
    )  # fmt: skip


def test_cash_and_equity_when_bought_sold_and_marked_then_as_recomputed_by_hand() -> None:
    strategy = Recorder()
    stage = SignalStage(strategy, InMemoryBus(), "run-c", capital=Decimal(10_000))

    stage.handle([trade(0, "100")])
    stage.handle([fill(1, "buy", "2", "100", "0.2", 1)])
    stage.handle([trade(2, "110"), quote(3, "2000", "2002")])
    stage.handle([fill(4, "sell", "0.5", "111", "0.0555", 2)])
    stage.handle([trade(5, "120")])

    bought_cash = Decimal(10_000) - 2 * Decimal(100) - Decimal("0.2")  # 9,799.8
    sold_cash = bought_cash + Decimal("0.5") * 111 - Decimal("0.0555")  # 9,855.2445
    assert strategy.seen == [
        (Decimal(0), Decimal(10_000), Decimal(10_000)),
        (Decimal(2), bought_cash, bought_cash + 2 * Decimal(110)),
        (Decimal(0), bought_cash, bought_cash + 2 * Decimal(110)),  # ETH: none held
        (Decimal("1.5"), sold_cash, sold_cash + Decimal("1.5") * 120),
    ]


def test_a_live_run_fetches_the_history_its_strategy_warms_up_on() -> None:
    """Live, the start-up history of REST candles is the strategy's warm-up, at least 2 h."""
    from engine.marketdata.live_factory import live_source
    from engine.settings import Settings

    settings = Settings()
    assert live_source(settings, ["BTCUSDT"]).options.history == timedelta(hours=2)
    long = live_source(settings, ["BTCUSDT"], warmup=timedelta(hours=26, minutes=15))
    assert long.options.history == timedelta(hours=26, minutes=15)
    short = live_source(settings, ["BTCUSDT"], warmup=timedelta(minutes=20))
    assert short.options.history == timedelta(hours=2)


class BuysEthThenBtc(BaseStrategy):
    """ETH for 3,000 at the first minute; BTC for 1 % of equity at minute 5 (when ETH jumps)."""

    name = "eth-then-btc"

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        from engine.events import Candle
        from engine.events.orders import OrderSide
        from engine.strategy import make_signal

        if not isinstance(event, Candle):
            return []
        minute = int((event.open_time - EPOCH).total_seconds() // 60)
        if (event.symbol, minute) == ("ETHUSDT", 0):
            asked = {"quote_amount": Decimal(3000)}
        elif (event.symbol, minute) == ("BTCUSDT", 5):
            asked = {"equity_fraction": Decimal("0.01")}
        else:
            return []
        return [
            make_signal(
                self.name, event, context, side=OrderSide.BUY, confidence=Decimal(1),
                reference_price=event.close, reason="test", **asked,
            )
        ]  # fmt: skip


def test_risk_sizes_a_signal_with_every_symbol_marked_at_its_minute_recomputed_by_hand() -> None:
    """BTC's candle of minute 5 comes before ETH's (same instant): the BTC buy is sized with
    ETH at its minute-5 price, not the minute before, as a paced run over Redis sizes it."""
    from engine.events import OrderResultReported, OrderSubmitted
    from engine.services.pipeline import build_pipeline, run_in_memory
    from engine.settings import Settings
    from engine.streams import Stream
    from tests.factories import candle

    market = [
        candle(i, symbol=s, close=price)
        for i in range(10)
        for s, price in (("BTCUSDT", "100000"), ("ETHUSDT", "3000" if i < 5 else "3300"))
    ]
    bus, seen = InMemoryBus(), []
    bus.subscribe("probe", (Stream.ORDERS, Stream.ORDER_RESULTS), seen.extend)
    pipeline = build_pipeline(
        Settings(), bus, run_id="run-m", symbols=["BTCUSDT", "ETHUSDT"],
        strategy="tests.unit.test_strategy_context:BuysEthThenBtc",
    )  # fmt: skip
    run_in_memory(pipeline, bus, market)

    (eth_fill,) = [e for e in seen if isinstance(e, OrderResultReported) and e.symbol == "ETHUSDT"]
    assert eth_fill.execution_price is not None
    cash = Decimal(100_000) - eth_fill.filled_quantity * eth_fill.execution_price - eth_fill.fee
    equity = cash + eth_fill.filled_quantity * Decimal(3300)  # ETH at minute 5, not 3,000
    (btc,) = [e for e in seen if isinstance(e, OrderSubmitted) and e.symbol == "BTCUSDT"]
    step = Decimal("0.00000001")
    assert btc.quantity == (equity * Decimal("0.01") / Decimal(100_000)).quantize(
        step, "ROUND_FLOOR"
    )
