"""A live run's view of the shared feed stream, against a real Redis: its symbols only, the
time before its start as warm-up (candles; not the trades and books), a candle the feed sent
again dropped, the feed's gaps its own."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import redis

from engine.events import Candle, MarketDataGap, TradeTick, encode_event
from engine.events.market_data import is_warmup
from engine.marketdata.shared import SharedFeedSource, feed_key
from engine.marketdata.source import MarketItem
from tests.factories import EPOCH, candle, trade_tick

pytestmark = pytest.mark.integration

STARTED = EPOCH + timedelta(minutes=5)  # the run's start: candles 0 to 4 close by then


def gap() -> MarketDataGap:
    at = EPOCH + timedelta(minutes=6)
    return MarketDataGap(
        event_id="gap-BTCUSDT-1",
        ts_event=at,
        ts_init=at,
        source="mexc",
        symbol="BTCUSDT",
        cause="disconnect",
        gap_start=at,
        gap_end=at + timedelta(minutes=1),
    )


def published() -> list[MarketItem]:
    """What the feed appended: history, live minutes, another symbol, a gap, and its history
    sent again after a restart (candles 3 to 7), then one more live minute."""
    history = [candle(i, source="mexc.history") for i in range(5)]
    live = [candle(i, source="mexc") for i in range(5, 8)]
    again = [candle(i, source="mexc.history") for i in range(3, 8)]
    return [
        *history,
        trade_tick(2_000, source="mexc"),  # before the run's start: no use to it
        *live,
        trade_tick(3_100, source="mexc"),  # after it: its market
        candle(6, symbol="ETHUSDT", source="mexc"),
        trade_tick(3_700, symbol="ETHUSDT", source="mexc"),
        gap(),
        *again,
        candle(8, source="mexc"),
    ]


async def read(source: SharedFeedSource, count: int) -> list[MarketItem]:
    items: list[MarketItem] = []
    try:
        async with asyncio.timeout(10):
            async for item in source.items():
                items.append(item)
                if len(items) == count:
                    break
    finally:
        await source.close()
    return items


def test_a_run_reads_its_own_market_from_the_shared_stream(
    redis_client: redis.Redis, redis_url: str, redis_namespace: str
) -> None:
    for item in published():
        redis_client.xadd(feed_key(redis_namespace), {"event": encode_event(item)})
    source = SharedFeedSource(
        ["btcusdt"],
        redis_url,
        redis_namespace,
        run_id="pt-1",
        started=STARTED,
        warmup=timedelta(minutes=5),
    )

    items = asyncio.run(read(source, 11))

    candles = [item for item in items if isinstance(item, Candle)]
    assert [c.open_time for c in candles] == [EPOCH + timedelta(minutes=i) for i in range(9)]
    assert {c.symbol for c in candles} == {"BTCUSDT"}
    assert [is_warmup(c.source) for c in candles] == [True] * 5 + [False] * 4
    gaps = [item for item in items if isinstance(item, MarketDataGap)]
    assert [g.event_id for g in gaps] == ["gap-BTCUSDT-1-pt-1"]  # the run's own record
    # Of the trades and books, only those from its start on: its warm-up is candles, as
    # from REST (a run started a day into the feed does not read a day of books first).
    trades = [item for item in items if isinstance(item, TradeTick)]
    assert [(t.event_id, is_warmup(t.source)) for t in trades] == [("tick-BTCUSDT-3100", False)]
    assert len(items) == 11  # nothing else: ETHUSDT is another run's


def test_a_run_started_later_reads_from_its_warm_up_on(
    redis_client: redis.Redis, redis_url: str, redis_namespace: str
) -> None:
    """Entry ids are arrival times: a run reads from its warm-up's start, not what the
    stream held of other days."""
    key = feed_key(redis_namespace)
    day_before = int((EPOCH - timedelta(days=1)).timestamp() * 1000)
    redis_client.xadd(key, {"event": encode_event(candle(0, source="mexc"))}, id=day_before)
    for i in range(1, 4):
        ms = int((EPOCH + timedelta(minutes=i + 1)).timestamp() * 1000)
        redis_client.xadd(key, {"event": encode_event(candle(i, source="mexc"))}, id=ms)
    source = SharedFeedSource(
        ["BTCUSDT"],
        redis_url,
        redis_namespace,
        run_id="pt-2",
        started=EPOCH + timedelta(minutes=10),
        warmup=timedelta(minutes=5),
    )

    items = asyncio.run(read(source, 3))

    assert [item.open_time for item in items if isinstance(item, Candle)] == [
        EPOCH + timedelta(minutes=i) for i in range(1, 4)
    ]
    assert all(is_warmup(item.source) for item in items)
