"""A live MEXC market pushed into the stand-in in real time, for the live-runs benchmark.

Per symbol, every 100 ms: a best bid/ask update; with probability 0.3 a trade at the bid or
the ask (about 3 a second); every tenth beat a push of the open minute's kline (MEXC pushes
the open window about every second). Prices walk in whole ticks of 1 bp of the symbol's
synthetic start price, from the close of its history, a step of -1, 0 or +1 tick a beat
(about 17 bp a minute); the spread is one tick. Each minute that closes joins the
stand-in's REST history, as on MEXC, so a feed that starts again back-fills what it missed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.events import Candle
from engine.events.envelope import stamped
from engine.events.market_data import candle_id
from engine.marketdata.synthetic import START_PRICES, TICK_FRACTION
from tests.mexc_standin.server import MexcStandIn

SYMBOLS = ("BTCUSDT", "ETHUSDT")
BOOKS_PER_S = 10
TRADES_PER_S = 3
MINUTE = timedelta(minutes=1)
_QUANTITY_STEP = Decimal("0.001")


@dataclass
class OpenMinute:
    """The open kline window of one symbol."""

    start: int  # epoch seconds
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)

    def trade(self, price: Decimal, quantity: Decimal) -> None:
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        self.volume += quantity
        self.amount += price * quantity

    def candle(self, symbol: str) -> Candle:
        """The window as the closed 1-minute candle REST serves."""
        opened = datetime.fromtimestamp(self.start, UTC)
        return Candle(
            **stamped(candle_id("mexc", symbol, opened), opened + MINUTE, "mexc", None),
            symbol=symbol,
            open_time=opened,
            close_time=opened + MINUTE,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            quote_volume=self.amount,
        )


class LiveMarket:
    """Push a live market for the symbols of `history` into `standin`, from a thread."""

    def __init__(
        self, standin: MexcStandIn, history: dict[str, list[Candle]], *, seed: int = 11
    ) -> None:
        self._standin = standin
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not cryptography
        self._candles = {symbol: list(candles) for symbol, candles in history.items()}
        self._tick = {s: START_PRICES.get(s, Decimal(100)) * TICK_FRACTION for s in history}
        self._ticks = {s: int(c[-1].close / self._tick[s]) for s, c in history.items()}
        self._minutes: dict[str, OpenMinute] = {}
        self._pushed: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-market", daemon=True)
        self.error: BaseException | None = None

    @classmethod
    def seeded(cls, standin: MexcStandIn, symbols: Sequence[str], minutes: int) -> LiveMarket:
        """Serve `minutes` of seeded history per symbol, up to this minute; a market on it."""
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        history = {
            symbol: standin.generate_klines(symbol, now - minutes * MINUTE, minutes, seed=7 + i)
            for i, symbol in enumerate(symbols)
        }
        return cls(standin, history)

    def start(self) -> LiveMarket:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop pushing; raise what stopped the thread early, if anything did."""
        self._stop.set()
        self._thread.join(timeout=10)
        if self.error is not None:
            raise RuntimeError("the live market pusher failed") from self.error

    def pushed(self) -> Counter[str]:
        """How many books, trades and klines were pushed so far (all symbols)."""
        if self.error is not None:
            raise RuntimeError("the live market pusher failed") from self.error
        with self._lock:
            return Counter(self._pushed)

    def _run(self) -> None:
        beat_s, beats = 1 / BOOKS_PER_S, 0
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.time()
                for symbol in self._ticks:
                    self._beat(symbol, now, kline=beats % BOOKS_PER_S == 0)
                beats += 1
                due += beat_s
                late = time.monotonic() - due
                if late > 1.0:  # fell behind (a busy machine): go on from now, no burst
                    due = time.monotonic()
                self._stop.wait(max(0.0, -late))
        except Exception as exc:  # surfaced by stop() and pushed()
            self.error = exc

    def _beat(self, symbol: str, now: float, *, kline: bool) -> None:
        ms = int(now * 1000)
        minute = self._minute(symbol, int(now) // 60 * 60)
        self._ticks[symbol] = max(100, self._ticks[symbol] + self._rng.choice((-1, 0, 0, 1)))
        bid = self._tick[symbol] * self._ticks[symbol]
        ask = bid + self._tick[symbol]
        self._standin.push_book(
            symbol, str(bid), str(self._quantity()), str(ask), str(self._quantity()), ms
        )
        counts = ["book"]
        if self._rng.random() < TRADES_PER_S / BOOKS_PER_S:
            side = self._rng.choice(("buy", "sell"))
            price, quantity = (ask if side == "buy" else bid), self._quantity()
            self._standin.push_deal(symbol, str(price), str(quantity), side, ms, f"{symbol}{ms}")
            minute.trade(price, quantity)
            counts.append("trade")
        if kline:
            self._standin.push_kline(
                symbol, minute.start, str(minute.open), str(minute.close), str(minute.high),
                str(minute.low), str(minute.volume), str(minute.amount),
            )  # fmt: skip
            counts.append("kline")
        with self._lock:
            self._pushed.update(counts)

    def _minute(self, symbol: str, start: int) -> OpenMinute:
        """The open window of `symbol` at `start`; the one before joins the REST history."""
        current = self._minutes.get(symbol)
        if current is not None and current.start == start:
            return current
        if current is not None:
            self._candles[symbol].append(current.candle(symbol))
            self._standin.set_klines(symbol, self._candles[symbol])
        price = self._tick[symbol] * self._ticks[symbol]
        self._minutes[symbol] = OpenMinute(start, price, price, price, price)
        return self._minutes[symbol]

    def _quantity(self) -> Decimal:
        return self._rng.randint(1, 500) * _QUANTITY_STEP
