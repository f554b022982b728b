# mypy: allow-subclassing-any
"""The peer side of the replay comparison: claire's momentum rules as a nautilus_trader
Strategy, backtested on Bar data loaded from the same candle file claire replays.

Imported only in the nautilus child process (`python -m bench.peer nautilus ...`), so
nothing of claire is loaded there and its peak RSS is nautilus's own. The venue is a cash
account of `capital` USDT with a taker fee; market orders fill whole at the bar's close
(bar execution, `BestPriceFillModel`, no latency model: the fill model claire runs with in
this comparison), and every fill is recorded for the trade-list comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pyarrow.parquet as pq
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig  # type: ignore[import-not-found]
from nautilus_trader.backtest.models import BestPriceFillModel
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, BarType  # type: ignore[import-not-found]
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue  # type: ignore[import-not-found]
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Currency, Money, Price, Quantity  # type: ignore[import-not-found]
from nautilus_trader.persistence.wranglers import BarDataWrangler  # type: ignore[import-not-found]
from nautilus_trader.trading.strategy import Strategy  # type: ignore[import-not-found]

from bench.momentum_rules import MomentumBook, Rules, Side

VENUE = Venue("MEXC")
PRICE_PRECISION = 2  # synthetic prices are whole ticks of 1 bp of 95,000 or 3,500
SIZE_PRECISION = 8  # claire's quantity step, 0.00000001


@dataclass(frozen=True)
class PeerFill:
    """One fill, as both sides report it."""

    order_id: str
    symbol: str
    ts_ns: int
    side: str
    quantity: str
    price: str


class MomentumStrategy(Strategy):
    """On each 1-minute bar, ask the rules for an order and submit it at market."""

    def __init__(self, book: MomentumBook, bar_types: list[BarType]) -> None:
        super().__init__(StrategyConfig(strategy_id="MOMENTUM-001"))
        self.book = book
        self.bar_types = bar_types
        self.fills: list[PeerFill] = []

    def on_start(self) -> None:
        for bar_type in self.bar_types:
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        instrument_id = bar.bar_type.instrument_id
        order = self.book.on_close(
            instrument_id.symbol.value,
            bar.ts_event,
            bar.close.as_decimal(),
            bar.volume.as_decimal(),
        )
        if order is None:
            return
        side, quantity = order
        self.submit_order(
            self.order_factory.market(
                instrument_id,
                OrderSide.BUY if side == "buy" else OrderSide.SELL,
                Quantity(quantity, SIZE_PRECISION),
            )
        )

    def on_order_filled(self, event: OrderFilled) -> None:
        symbol = event.instrument_id.symbol.value
        side: Side = "buy" if event.order_side == OrderSide.BUY else "sell"
        quantity, price = event.last_qty.as_decimal(), event.last_px.as_decimal()
        self.book.on_fill(symbol, side, quantity, price, event.commission.as_decimal())
        self.fills.append(
            PeerFill(
                event.client_order_id.value, symbol, event.ts_event, side, str(quantity), str(price)
            )
        )


def instrument(symbol: str, taker_fee: Decimal) -> CurrencyPair:
    """A spot pair `symbol` (BTCUSDT: BTC/USDT) on the bench's venue."""
    base = symbol.removesuffix("USDT")
    return CurrencyPair(
        instrument_id=InstrumentId(Symbol(symbol), VENUE),
        raw_symbol=Symbol(symbol),
        base_currency=Currency.from_str(base),
        quote_currency=USDT,
        price_precision=PRICE_PRECISION,
        size_precision=SIZE_PRECISION,
        price_increment=Price(10**-PRICE_PRECISION, PRICE_PRECISION),
        size_increment=Quantity(10**-SIZE_PRECISION, SIZE_PRECISION),
        maker_fee=Decimal(0),
        taker_fee=taker_fee,
        ts_event=0,
        ts_init=0,
    )


def load_bars(path: Path, instruments: dict[str, CurrencyPair]) -> list[Bar]:
    """Read claire's candle file (Parquet, decimal text) into nautilus Bars per symbol."""
    frame = pq.read_table(path).to_pandas()
    bars: list[Bar] = []
    for symbol, rows in frame.groupby("symbol", sort=True):
        pair = instruments[str(symbol)]
        data = pd.DataFrame(
            {name: rows[name].astype("float64") for name in ("open", "high", "low", "close")}
        )
        data["volume"] = rows["volume"].astype("float64")
        data.index = pd.to_datetime(rows["close_time"], unit="ms", utc=True)
        bar_type = BarType.from_str(f"{pair.id}-1-MINUTE-LAST-EXTERNAL")
        bars.extend(BarDataWrangler(bar_type, pair).process(data))
    return bars


def run(path: Path, rules: Rules, capital: Decimal, taker_fee: Decimal) -> dict[str, Any]:
    """Backtest the rules on the file; return bars, seconds (load + run) and the fills."""
    started = time.perf_counter()
    symbols = sorted(_symbols(path))
    instruments = {s: instrument(s, taker_fee) for s in symbols}
    bars = load_bars(path, instruments)
    loaded = time.perf_counter()
    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR"), run_analysis=False)
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=None,
        starting_balances=[Money(capital, USDT)],
        fill_model=BestPriceFillModel(),  # the whole order at the close, as claire here
    )
    for pair in instruments.values():
        engine.add_instrument(pair)
    engine.add_data(bars)
    count = len(bars)
    del bars
    bar_types = [BarType.from_str(f"{p.id}-1-MINUTE-LAST-EXTERNAL") for p in instruments.values()]
    strategy = MomentumStrategy(MomentumBook(rules, capital), bar_types)
    engine.add_strategy(strategy)
    engine.run()
    elapsed = time.perf_counter() - started
    fills = [f.__dict__ for f in strategy.fills]
    engine.dispose()
    return {
        "bars": count,
        "seconds": elapsed,
        "load_seconds": loaded - started,
        "fills": fills,
    }


def _symbols(path: Path) -> list[str]:
    column = pq.read_table(path, columns=["symbol"]).column("symbol")
    return [str(s) for s in column.unique().to_pylist()]
