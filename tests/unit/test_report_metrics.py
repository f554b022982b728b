"""Report figures on a small case checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.papertest.report.metrics import (
    EquityPoint,
    FillRow,
    execution_stats,
    max_drawdown,
    performance,
    round_trips,
    sharpe,
    trade_stats,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
D = Decimal


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


CURVE = [
    EquityPoint(at(0), D(1000), D(1000), D(0)),
    EquityPoint(at(1), D(1010), D(900), D("0.5")),
    EquityPoint(at(2), D(990), D(900), D("0.5")),
    EquityPoint(at(3), D(1020), D(1020), D(0)),
    EquityPoint(at(4), D(1020), D(1020), D(0)),
]
FILLS = [
    FillRow(at(0.5), "BTCUSDT", "buy", D(1), D(100), D("0.05"), D("1.5"), "o1"),
    FillRow(at(3), "BTCUSDT", "sell", D(1), D(110), D("0.055"), D("2.5"), "o2"),
    FillRow(at(3.2), "ETHUSDT", "buy", D(2), D(50), D("0.05"), D("0.5"), "o3"),
    FillRow(at(4), "ETHUSDT", "sell", D(2), D(46), D("0.045"), D("3.5"), "o4"),
]


def test_returns_drawdown_and_time_in_market_by_hand() -> None:
    result = performance(CURVE, D(1000))
    assert result.total_return == D("0.02")
    assert result.final_equity == D(1020)
    assert result.max_drawdown == D(20) / D(1010)  # 1010 -> 990
    assert result.max_drawdown_duration == timedelta(minutes=2)  # peak at 1, back at 3
    assert result.time_in_market == D("0.5")  # held from minute 1 to 3 of 4
    assert result.annualised_return is None  # under a day: not annualised
    assert result.elapsed == timedelta(minutes=4)


def test_sharpe_by_hand() -> None:
    returns = [D("0.01"), D("-0.01"), D("0.02"), D(0)]
    mean = D("0.005")
    # sample standard deviation: sqrt(((0.005)^2 + (0.015)^2 + (0.015)^2 + (0.005)^2) / 3)
    deviation = (D("0.0005") / 3).sqrt()
    expected = mean / deviation * D(525_600).sqrt()
    assert abs(sharpe(returns) - expected) < D("1e-20")  # type: ignore[operator]


def test_round_trips_and_trade_stats_by_hand() -> None:
    trips, still_open = round_trips(FILLS)
    assert still_open == 0
    assert [t.pnl for t in trips] == [D("9.895"), D("-8.095")]  # 110-100-0.105, 92-100-0.095
    assert trips[0].holding == timedelta(minutes=2.5)

    stats = trade_stats(FILLS, timedelta(days=1))
    assert stats.round_trips == 2
    assert stats.win_rate == D("0.5")
    assert stats.profit_factor == D("9.895") / D("8.095")
    assert stats.expectancy == D("0.9")  # (9.895 - 8.095) / 2
    assert stats.fees == D("0.2")
    assert stats.gross_pnl == D("2.0")
    assert stats.fee_share_of_gross == D("0.1")
    assert stats.trades_per_day == 4


def test_open_position_at_the_end_then_not_a_round_trip() -> None:
    trips, still_open = round_trips(FILLS[:3])
    assert len(trips) == 1
    assert still_open == 1


def test_execution_stats_slippage_percentiles_fill_ratio_rejections() -> None:
    stats = execution_stats(
        FILLS,
        ["filled", "filled", "filled", "filled", "rejected", "partially_filled"],
        ["no market price for BTCUSDT", "no market price for BTCUSDT"],
    )
    assert stats.fill_ratio == D(5) / D(6)
    assert stats.partial_fills == 1
    assert stats.slippage_bps["p50"] == D("1.5")
    assert stats.slippage_bps["max"] == D("3.5")
    assert stats.slippage_bps["mean"] == D(2)
    assert stats.rejections == {"no market price for BTCUSDT": 2}


def test_drawdown_never_recovered_then_duration_to_the_end() -> None:
    worst, duration = max_drawdown(CURVE[:3], D(1000))
    assert worst == D(20) / D(1010)
    assert duration == timedelta(minutes=1)
