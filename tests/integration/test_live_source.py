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

from engine.events import AlertRaised, Candle, MarketDataGap, TradeTick
from engine.marketdata.live import LiveOptions, MexcLiveSource
from engine.marketdata.mexc import MexcRest, MexcWebsocket, UnknownSymbolError
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


def live(standin: MexcStandIn, clock: FakeClock, symbols: list[str]) -> MexcLiveSource:
    rest = MexcRest(standin.rest_url, now=clock)
    websocket = MexcWebsocket(
        standin.ws_url, symbols, clock=clock, ping_interval=0.5, backoff_initial=0.3
    )
    options = LiveOptions(
        history=timedelta(minutes=30),
        stale_after=timedelta(seconds=5),
        watch_every_s=0.05,
        poll_every_s=0.1,
        fallback_after_s=3600,
    )
    return MexcLiveSource(symbols, rest, websocket, options, clock=clock)


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
