"""A live session against the MEXC stand-in, recorded, then replayed: identical results.

The live feed sees events out of event-time order (a minute's candle is only complete when
the next minute's first push arrives, after that minute's first trades); it releases them in
replay order, so the recording replays exactly what the live run processed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from engine.bus.memory import InMemoryBus
from engine.events import Candle, Event
from engine.marketdata.feed import FeedOptions, FeedResult, MarketFeed
from engine.marketdata.files import MarketRecorder
from engine.marketdata.live import LiveOptions, MexcLiveSource
from engine.marketdata.mexc import MexcRest, MexcWebsocket
from engine.marketdata.source import MarketSource, ReplaySource
from engine.services.pipeline import build_pipeline
from engine.settings import Settings
from engine.streams import Stream
from tests.factories import rally_then_slide as price_at
from tests.mexc_standin.fixtures import mexc_standin_fixture  # noqa: F401
from tests.mexc_standin.server import MexcStandIn

pytestmark = pytest.mark.e2e

T = TypeVar("T")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MINUTES = 40
UNTIL = T0 + timedelta(minutes=MINUTES)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def history() -> list[Candle]:
    """An hour of quiet candles before the session: the strategy's warm-up."""
    out = []
    for m in range(-60, 0):
        opened = T0 + timedelta(minutes=m)
        out.append(
            Candle(
                event_id=f"candle-mexc-BTCUSDT-{opened:%Y%m%dT%H%M}",
                ts_event=opened + timedelta(minutes=1),
                ts_init=opened + timedelta(minutes=1),
                source="mexc",
                symbol="BTCUSDT",
                open_time=opened,
                close_time=opened + timedelta(minutes=1),
                open=Decimal(95_000),
                high=Decimal(95_010),
                low=Decimal(94_990),
                close=Decimal(95_000),
                volume=Decimal(20),
                quote_volume=Decimal(1_900_000),
            )
        )
    return out


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


class Outcome:
    """What the pipeline published: fills and snapshots, with run-independent fields."""

    def __init__(self, bus: InMemoryBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(
            "probe", (Stream.ORDER_RESULTS, Stream.PORTFOLIO_SNAPSHOTS), self.events.extend
        )

    def facts(self) -> list[dict[str, Any]]:
        return [e.model_dump(exclude={"ts_init", "source"}) for e in self.events]


async def feed(
    source: MarketSource, record: Path | None, reorder_s: float
) -> tuple[Outcome, FeedResult]:
    bus = InMemoryBus()
    pipeline = build_pipeline(Settings(), bus, run_id="session", symbols=["BTCUSDT"])
    for stage in pipeline.stages:
        bus.subscribe(stage.name, stage.inputs, stage.handle)
    outcome = Outcome(bus)
    recorder = MarketRecorder(record) if record is not None else None

    def drain() -> bool:
        bus.drain()
        return False

    options = FeedOptions(until=UNTIL, batch_size=1, reorder_s=reorder_s)
    result = await MarketFeed(source, bus, options, recorder=recorder, after_publish=drain).run()
    if recorder is not None:
        recorder.close()
    await source.close()
    return outcome, result


async def script(standin: MexcStandIn, clock: FakeClock, ready: Callable[[], bool]) -> None:
    """Push each minute: the book, a trade, then the kline (which closes the last minute)."""
    while not ready():
        await asyncio.sleep(0.02)
    for minute in range(MINUTES + 3):
        start = T0 + timedelta(minutes=minute)
        ms = int(start.timestamp() * 1000)
        price, before = price_at(minute), price_at(max(0, minute - 1))
        clock.now = start + timedelta(seconds=3)
        standin.push_book("BTCUSDT", str(price - 1), "0.8", str(price + 1), "0.6", ms + 1_000)
        standin.push_deal("BTCUSDT", str(price), "0.05", "buy", ms + 2_000, f"t{minute}")
        high, low = max(price, before) + 5, min(price, before) - 5
        standin.push_kline(
            "BTCUSDT",
            ms // 1000,
            str(before),
            str(price),
            str(high),
            str(low),
            "25",
            str(Decimal(25) * price),
        )
        await asyncio.sleep(0.01)


def test_recorded_live_session_replays_into_identical_results(
    mexc_standin: MexcStandIn, tmp_path: Path
) -> None:
    mexc_standin.set_klines("BTCUSDT", history())
    clock = FakeClock(T0 + timedelta(seconds=1))
    websocket = MexcWebsocket(mexc_standin.ws_url, ["BTCUSDT"], clock=clock, ping_interval=5)
    source = MexcLiveSource(
        ["BTCUSDT"],
        MexcRest(mexc_standin.rest_url, now=clock),
        websocket,
        LiveOptions(history=timedelta(minutes=60), stale_after=timedelta(hours=1)),
        clock=clock,
    )

    async def live_session() -> tuple[Outcome, FeedResult]:
        pushing = asyncio.create_task(
            script(mexc_standin, clock, lambda: mexc_standin.subscription_count >= 3)
        )
        try:
            return await feed(source, tmp_path, reorder_s=5)
        finally:
            pushing.cancel()

    live, live_result = run(live_session())
    replayed, replay_result = run(feed(ReplaySource(tmp_path), None, reorder_s=0))

    assert live_result.reason == "planned_end"
    assert replay_result.reason == "exhausted"  # the recording ends where the session ended
    assert replay_result.events == live_result.events
    fills = [e for e in live.events if e.type == "order_result"]
    assert len(fills) >= 2, "the session should have traded (an entry and an exit)"
    assert live.facts() == replayed.facts()
