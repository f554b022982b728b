"""The live MEXC source against the local stand-in: history, decoding, a dropped
connection back-filled and recorded, stale data alerted and cleared."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from engine.events import AlertRaised, Candle, MarketDataGap, QuoteTick, TradeTick
from engine.marketdata.live import LiveOptions, MexcLiveSource
from engine.marketdata.mexc import MexcRest, MexcWebsocket, UnknownSymbolError
from engine.marketdata.mexc.rest import KLINES
from engine.marketdata.source import MarketItem
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn

pytestmark = pytest.mark.integration

T = TypeVar("T")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Wall time the test moves by hand (the live source and its clients share it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


class Collector:
    """Read a source's items in the background."""

    def __init__(self, source: MexcLiveSource) -> None:
        self.source = source
        self.items: list[MarketItem] = []
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.source.close()

    async def _read(self) -> None:
        try:
            async for item in self.source.items():
                self.items.append(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.error = exc

    async def until(self, check: Callable[[], object], what: str, timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; saw {self.items[-5:]}")
            await asyncio.sleep(0.02)

    def of(self, kind: type[T]) -> list[T]:
        return [item for item in self.items if isinstance(item, kind)]


def live(
    standin: MexcStandIn, clock: FakeClock, symbols: list[str], **options: Any
) -> MexcLiveSource:
    rest = MexcRest(standin.rest_url, now=clock)
    websocket = MexcWebsocket(
        standin.ws_url, symbols, clock=clock, ping_interval=0.5, backoff_initial=0.3
    )
    defaults: dict[str, Any] = {
        "history": timedelta(minutes=30),
        "stale_after": timedelta(seconds=5),
        "watch_every_s": 0.05,
        "poll_every_s": 0.1,
        "fallback_after_s": 3600,
    }
    return MexcLiveSource(
        symbols, rest, websocket, LiveOptions(**(defaults | options)), clock=clock
    )


def test_live_source_history_then_decoded_live_trades(mexc_standin: MexcStandIn) -> None:
    clock = FakeClock(T0 + timedelta(seconds=10))
    mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 70)

    async def body() -> None:
        async with Collector(live(mexc_standin, clock, ["BTCUSDT"])) as seen:
            await seen.until(lambda: len(seen.of(Candle)) >= 30, "30 minutes of history")
            await seen.until(lambda: mexc_standin.subscription_count >= 3, "subscriptions")
            mexc_standin.push_deal("BTCUSDT", "95012.5", "0.0031", "sell", 1_767_268_811_000, "9")
            await seen.until(lambda: seen.of(TradeTick), "a trade")
        history = seen.of(Candle)
        assert [c.source for c in history] == ["mexc.history"] * 30
        assert history[-1].close_time == T0
        [trade] = seen.of(TradeTick)
        assert trade.price == Decimal("95012.5")
        assert trade.quantity == Decimal("0.0031")
        assert str(trade.side) == "sell"

    run(body())


def test_dropped_connection_then_gap_backfilled_from_rest_and_recorded(
    mexc_standin: MexcStandIn,
) -> None:
    clock = FakeClock(T0 + timedelta(seconds=10))
    served = mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 70)

    async def body() -> Collector:
        async with Collector(live(mexc_standin, clock, ["BTCUSDT"])) as seen:
            await seen.until(lambda: mexc_standin.subscription_count >= 3, "subscriptions")
            connections = mexc_standin.connection_count
            mexc_standin.drop_connections()
            clock.advance(minutes=3)  # the exchange moves on while we are away
            await seen.until(lambda: mexc_standin.connection_count > connections, "reconnect")
            await seen.until(lambda: seen.of(MarketDataGap), "the gap record")
        return seen

    seen = run(body())
    [gap] = [g for g in seen.of(MarketDataGap) if g.cause == "disconnect"]
    assert gap.backfilled == 3
    assert gap.missing == 3
    assert gap.gap_start == T0 + timedelta(seconds=10)  # the last data before the drop
    backfilled = [c for c in seen.of(Candle) if c.source == "mexc.backfill"]
    assert [c.open_time for c in backfilled] == [T0 + timedelta(minutes=m) for m in range(3)]
    by_open = {c.open_time: c for c in served}
    assert all(c.close == by_open[c.open_time].close for c in backfilled)


def test_gap_longer_than_a_page_then_every_minute_backfilled(mexc_standin: MexcStandIn) -> None:
    clock = FakeClock(T0 + timedelta(seconds=10))
    served = mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 700)
    no_polling = {"fallback_after_s": 10**6}  # the reconnect back-fills, not the down-poll

    async def body() -> Collector:
        async with Collector(live(mexc_standin, clock, ["BTCUSDT"], **no_polling)) as seen:
            await seen.until(lambda: mexc_standin.subscription_count >= 3, "subscriptions")
            connections = mexc_standin.connection_count
            mexc_standin.drop_connections()
            clock.advance(minutes=600)  # ten hours away: more than one 500-row page
            await seen.until(lambda: mexc_standin.connection_count > connections, "reconnect")
            await seen.until(lambda: seen.of(MarketDataGap), "the gap record")
        return seen

    seen = run(body())
    [gap] = [g for g in seen.of(MarketDataGap) if g.cause == "disconnect"]
    assert (gap.missing, gap.backfilled) == (600, 600)
    backfilled = [c for c in seen.of(Candle) if c.source == "mexc.backfill"]
    assert [c.open_time for c in backfilled] == [T0 + timedelta(minutes=m) for m in range(600)]
    by_open = {c.open_time: c.close for c in served}
    assert all(c.close == by_open[c.open_time] for c in backfilled)


def test_refused_channels_then_degraded_alert_and_rest_polled_instead(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.refuse_channels("kline|bookTicker")
    clock = FakeClock(T0 + timedelta(seconds=10))
    mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 70)
    mexc_standin.set_book("BTCUSDT", "95000", "1.5", "95000.5", "2")

    async def body() -> Collector:
        async with Collector(live(mexc_standin, clock, ["BTCUSDT"])) as seen:
            await seen.until(lambda: seen.of(AlertRaised), "the degraded alert")
            await seen.until(lambda: seen.of(QuoteTick), "a quote polled from REST")
            clock.now = T0 + timedelta(minutes=1, milliseconds=50)  # minute 0 just closed
            await seen.until(
                lambda: any(c.open_time == T0 for c in seen.of(Candle)), "the polled candle"
            )
            mexc_standin.push_deal("BTCUSDT", "95000.5", "0.01", "buy", 1_767_268_860_000, "7")
            await seen.until(lambda: seen.of(TradeTick), "a trade, still on the websocket")
        return seen

    seen = run(body())
    [alert] = [a for a in seen.of(AlertRaised) if a.code != "market_data_stale"]
    assert (alert.code, str(alert.level), alert.symbol) == (
        "market_data_degraded",
        "warning",
        "BTCUSDT",
    )
    assert "MEXC refused the kline, book stream of BTCUSDT (Blocked!)" in alert.message
    assert "candles are polled from REST every 0.1 s" in alert.message
    quote = seen.of(QuoteTick)[0]
    assert (quote.bid_price, quote.ask_quantity) == (Decimal(95000), Decimal(2))
    [polled] = [c for c in seen.of(Candle) if c.open_time == T0]
    assert polled.source == "mexc"  # closed a moment ago: live, not back-fill


def push_minute(standin: MexcStandIn, symbol: str, minute: int, volume: str = "1") -> None:
    """Push the kline of `symbol`'s minute `minute` after T0 (flat at 100, `volume`)."""
    price = "0" if volume == "0-unpriced" else "100"
    volume = "0" if volume.startswith("0") else volume
    start = int((T0 + timedelta(minutes=minute)).timestamp())
    standin.push_kline(symbol, start, price, price, price, price, volume, volume)


def test_quiet_symbol_when_minutes_pass_without_trades_then_no_backfill_and_no_gap(
    mexc_standin: MexcStandIn,
) -> None:
    mexc_standin.add_symbol("QUIETUSDT")
    clock = FakeClock(T0 + timedelta(seconds=10))
    mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 70)
    mexc_standin.generate_klines("QUIETUSDT", T0 - timedelta(minutes=60), 60)  # none live
    # QUIETUSDT trades in minutes 0, 3 and 6; minute 1 comes as a window without trades or
    # prices, minute 4 as one without trades at the last price; 2 and 5 do not come at all.
    quiet_pushes = {0: "1", 1: "0-unpriced", 3: "1", 4: "0", 6: "1"}
    stay_fresh = {"stale_after": timedelta(hours=1)}

    source = live(mexc_standin, clock, ["BTCUSDT", "QUIETUSDT"], **stay_fresh)

    async def body() -> tuple[Collector, int]:
        async with Collector(source) as seen:
            await seen.until(lambda: mexc_standin.subscription_count >= 6, "subscriptions")
            after_history = mexc_standin.requests(KLINES)
            for minute in range(8):
                clock.now = T0 + timedelta(minutes=minute, seconds=5)
                push_minute(mexc_standin, "BTCUSDT", minute)
                if minute in quiet_pushes:
                    push_minute(mexc_standin, "QUIETUSDT", minute, quiet_pushes[minute])
            await seen.until(
                lambda: any(
                    c.symbol == "QUIETUSDT" and c.open_time == T0 + timedelta(minutes=6)
                    for c in seen.of(Candle)
                ),
                "the quiet symbol's last candle",
            )
            return seen, after_history

    seen, after_history = run(body())
    quiet = [c for c in seen.of(Candle) if c.symbol == "QUIETUSDT" and c.open_time >= T0]
    assert [(c.open_time - T0) // timedelta(minutes=1) for c in quiet] == [0, 3, 4, 6]
    assert [c.volume for c in quiet][2] == 0
    assert mexc_standin.requests(KLINES) == after_history == 2  # the history only
    assert not seen.of(MarketDataGap)
    assert source.websocket.decode_errors == 0


def test_hole_after_a_skipped_frame_then_backfilled_and_recorded(
    mexc_standin: MexcStandIn,
) -> None:
    clock = FakeClock(T0 + timedelta(seconds=10))
    mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 70)
    source = live(mexc_standin, clock, ["BTCUSDT"], stale_after=timedelta(hours=1))

    async def body() -> Collector:
        async with Collector(source) as seen:
            await seen.until(lambda: mexc_standin.subscription_count >= 3, "subscriptions")
            for minute in (0, 1, 2, 3):
                clock.now = T0 + timedelta(minutes=minute, seconds=5)
                if minute == 1:  # minute 1's kline is lost: a frame MEXC garbled
                    mexc_standin.push_raw("spot@public.kline.v3.api.pb@BTCUSDT@Min1", b"\xff")
                else:
                    push_minute(mexc_standin, "BTCUSDT", minute)
            await seen.until(lambda: seen.of(MarketDataGap), "the gap record")
        return seen

    seen = run(body())
    [gap] = seen.of(MarketDataGap)
    assert (gap.cause, gap.gap_start, gap.missing) == (
        "missing_candles",
        T0 + timedelta(minutes=1),
        1,
    )
    backfilled = [c.open_time for c in seen.of(Candle) if c.source == "mexc.backfill"]
    assert T0 + timedelta(minutes=1) in backfilled
    assert source.websocket.decode_errors == 1


def test_silence_then_stale_alert_and_cleared_when_data_returns(mexc_standin: MexcStandIn) -> None:
    clock = FakeClock(T0 + timedelta(seconds=10))
    mexc_standin.generate_klines("BTCUSDT", T0 - timedelta(minutes=60), 70)

    async def body() -> Collector:
        async with Collector(live(mexc_standin, clock, ["BTCUSDT"])) as seen:
            await seen.until(lambda: mexc_standin.subscription_count >= 3, "subscriptions")
            clock.advance(seconds=6)
            await seen.until(lambda: seen.of(AlertRaised), "the stale alert")
            mexc_standin.push_deal("BTCUSDT", "95000", "0.01", "buy", 1_767_268_816_000, "10")
            await seen.until(lambda: len(seen.of(AlertRaised)) == 2, "the alert to clear")
        return seen

    seen = run(body())
    raised, cleared = seen.of(AlertRaised)
    assert (raised.code, raised.cleared, str(raised.level)) == (
        "market_data_stale",
        False,
        "warning",
    )
    assert "no BTCUSDT market data for 6 s" in raised.message
    assert cleared.cleared
    [gap] = seen.of(MarketDataGap)
    assert gap.cause == "stale"


def test_unknown_symbol_then_clear_error_before_streaming(mexc_standin: MexcStandIn) -> None:
    clock = FakeClock(T0)

    async def body() -> None:
        source = live(mexc_standin, clock, ["BTCUSDT", "NOPEUSDT"])
        try:
            with pytest.raises(UnknownSymbolError, match="NOPEUSDT"):
                async for _ in source.items():
                    pass
        finally:
            await source.close()

    run(body())
