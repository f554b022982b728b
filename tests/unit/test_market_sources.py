"""Market sources: synthetic (seeded, with regimes, jumps, gaps) and replay, one interface."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.events import Candle
from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.source import MarketItem, MarketSource, ReplaySource, SyntheticSource
from engine.marketdata.synthetic import synthetic_candles

START = datetime(2026, 1, 5, tzinfo=UTC)


def collect(source: MarketSource) -> list[MarketItem]:
    async def run() -> list[MarketItem]:
        items = [item async for item in source.items()]
        await source.close()
        return items

    return asyncio.run(run())


def test_synthetic_same_seed_then_same_candles_other_seed_other_candles() -> None:
    first = collect(SyntheticSource(("BTCUSDT", "ETHUSDT"), START, 600, seed=5))
    again = collect(SyntheticSource(("BTCUSDT", "ETHUSDT"), START, 600, seed=5))
    other = collect(SyntheticSource(("BTCUSDT", "ETHUSDT"), START, 600, seed=6))
    assert first == again
    assert first != other


def test_synthetic_realistic_then_gaps_jumps_and_calm_and_wild_regimes() -> None:
    candles = list(
        synthetic_candles(
            ("BTCUSDT",),
            START,
            20_000,
            seed=1,
            volatility_regimes=True,
            jump_probability=0.002,
            gap_probability=0.0005,
        )
    )
    times = [c.open_time for c in candles]
    assert len(candles) < 20_000  # some minutes have no candle
    assert any(b - a > timedelta(minutes=1) for a, b in itertools.pairwise(times))
    moves = [abs(c.close - c.open) / c.open for c in candles]
    assert max(moves) > 0.009  # a jump of about 1 % or more in one minute
    ranges = sorted((c.high - c.low) / c.low for c in candles)
    assert ranges[len(ranges) // 10] * 3 < ranges[-len(ranges) // 10]  # calm vs wild


def test_synthetic_defaults_then_plain_walk_unchanged() -> None:
    plain = list(synthetic_candles(("BTCUSDT",), START, 50, seed=9))
    assert len(plain) == 50
    assert plain[0].close == synthetic_candles(("BTCUSDT",), START, 1, seed=9).__next__().close


def test_replay_source_then_file_events_in_order(tmp_path: Path) -> None:
    recorded = list(synthetic_candles(("BTCUSDT",), START, 30))
    write_market_file(tmp_path / "candles.csv", recorded, Layout.CANDLES)
    source = ReplaySource(tmp_path)
    items = collect(source)
    assert [i.close for i in items if isinstance(i, Candle)] == [c.close for c in recorded]
    assert {i.source for i in items} == {source.name}
    assert source.name.startswith("replay-")


def test_replay_source_name_is_the_content_not_the_path(tmp_path: Path) -> None:
    recorded = list(synthetic_candles(("BTCUSDT",), START, 30))
    here, there = tmp_path / "a" / "candles.csv", tmp_path / "b" / "candles.csv"
    for path in (here, there):
        path.parent.mkdir()
        write_market_file(path, recorded, Layout.CANDLES)
    first = ReplaySource(here).name
    assert ReplaySource(there).name == first  # one recording, wherever it lies

    # Another recording at the same path: its own source, so its candles are its own.
    write_market_file(
        here, list(synthetic_candles(("BTCUSDT",), START, 30, seed=7)), Layout.CANDLES
    )
    assert ReplaySource(here).name != first
    assert ReplaySource(here, name="replay-registered").name == "replay-registered"
