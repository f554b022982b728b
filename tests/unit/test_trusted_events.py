"""A trusted build is the event validation would have built, and never hides a bad value.

Events made in the engine from checked values skip validation (engine/events/trusted.py);
each is checked here against `Model.model_validate` of the same values: equal fields, in
the same order, the same JSON, the same fields set. A value that breaks a rule still goes
through validation and is refused with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from engine.domain.portfolio import Portfolio
from engine.events import Candle, PortfolioSnapshotTaken
from engine.events.trusted import trusted
from engine.marketdata.files import Layout, MarketFileError, read_market_data, write_market_file
from tests.unit.test_positions import buy, sell

START = datetime(2026, 3, 1, tzinfo=UTC)


def assert_as_validated(event: BaseModel) -> None:
    again = type(event).model_validate(dict(event))
    assert dict(event) == dict(again)
    assert list(event.__dict__) == list(again.__dict__)
    assert event.model_dump_json() == again.model_dump_json()
    assert event == again


def test_trusted_when_defaults_and_factories_then_filled_as_validation_fills_them() -> None:
    values: dict[str, Any] = {
        "ts_event": START + timedelta(minutes=1),
        "source": "replay",
        "symbol": "BTCUSDT",
        "open_time": START,
        "close_time": START + timedelta(minutes=1),
        **dict.fromkeys(("open", "high", "low", "close"), Decimal("100")),
        "volume": Decimal(0),
        "quote_volume": Decimal(0),
    }
    event = trusted(Candle, **values)
    assert event.interval == "1m"
    assert event.run_id is None
    assert len(event.event_id) == 32
    assert event.model_fields_set == Candle(**values).model_fields_set
    assert_as_validated(event)


def test_trusted_when_unknown_or_missing_field_then_type_error() -> None:
    with pytest.raises(TypeError, match="unknown fields \\['colour'\\]"):
        trusted(Candle, colour="red")
    with pytest.raises(TypeError, match="missing fields"):
        trusted(Candle, source="replay")


prices = st.decimals(min_value="0.000001", max_value="1000000", places=6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(prices, prices, prices, prices, prices), min_size=1, max_size=20))
def test_candles_read_from_a_file_then_as_validated(rows: list[tuple[Decimal, ...]]) -> None:
    import tempfile

    candles = []
    for i, (a, b, c, d, volume) in enumerate(rows):
        low, high = min(a, b, c, d), max(a, b, c, d)
        opened = START + timedelta(minutes=i)
        candles.append(
            Candle(
                ts_event=opened + timedelta(minutes=1),
                source="replay",
                symbol="ETHUSDT",
                open_time=opened,
                close_time=opened + timedelta(minutes=1),
                open=b if low <= b <= high else low,
                high=high,
                low=low,
                close=c,
                volume=volume,
                quote_volume=volume * c,
            )
        )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "c.csv"
        write_market_file(path, candles, Layout.CANDLES)
        read = list(read_market_data(path))
    assert len(read) == len(candles)
    for event in read:
        assert_as_validated(event)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("BTCUSDT,1772323200000,1772323260000,100,99,98,100,1,100", "high: must not be below open"),
        ("BTCUSDT,1772323200000,1772323260000,100,101,98,102,1,100", "close: must not be above"),
        ("BTCUSDT,1772323200000,1772323260000,NaN,101,98,100,1,100", "open: must be a finite"),
        ("BTCUSDT,1772323200000,1772323260000,100,101,98,100,-1,100", "volume: Input should be"),
        ("BTC USDT,1772323200000,1772323260000,100,101,98,100,1,100", "symbol: must be"),
        ("BTCUSDT,1772323260000,1772323200000,100,101,98,100,1,100", "close_time: must be after"),
    ],
)
def test_candle_row_breaking_a_rule_then_refused_by_validation(
    tmp_path: Path, row: str, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "symbol,open_time,close_time,open,high,low,close,volume,quote_volume\n" + row + "\n"
    )
    with pytest.raises(MarketFileError, match=reason):
        list(read_market_data(path))


def test_snapshots_of_a_trading_portfolio_then_as_validated() -> None:
    portfolio = Portfolio(Decimal(100_000))
    ts = START
    for step, fill in enumerate(
        [
            buy("0.5", "60000"),
            buy("3", "2500", symbol="ETHUSDT"),
            sell("0.2", "61000.123456789"),
        ]
    ):
        portfolio.apply_fill(fill)
        ts = START + timedelta(minutes=step)
        portfolio.mark("BTCUSDT", Decimal("61000.5") + step, ts)
        snapshot = portfolio.to_snapshot(ts, run_id="pt-1", event_id=f"snap-{step}", sequence=step)
        assert snapshot.positions
        assert_as_validated(snapshot)
        for position in snapshot.positions:
            assert_as_validated(position)
    flat = Portfolio(Decimal(5)).to_snapshot(ts, run_id=None)
    assert_as_validated(flat)


def test_snapshot_with_an_amount_too_large_to_store_then_refused_by_validation() -> None:
    portfolio = Portfolio(Decimal("1e30"))
    with pytest.raises(ValidationError, match="must be less than"):
        portfolio.to_snapshot(START, run_id="pt-1")


def test_snapshot_at_a_time_not_in_utc_then_validated_to_utc() -> None:
    at = START.astimezone(timezone(timedelta(hours=2)))
    snapshot = Portfolio(Decimal(100)).to_snapshot(at, run_id="pt-1")
    assert snapshot.ts_event.tzinfo is UTC
    assert snapshot.ts_event == START
    assert isinstance(snapshot, PortfolioSnapshotTaken)
