"""A paper run against its replay, the pure part: fills matched one for one, and the net PnL
difference put down to its causes, adding up to the last digit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.reports.metrics import RoundTrip
from engine.reports.replay_compare import (
    LATENCY,
    OPEN,
    OUTAGE,
    PARTIAL,
    RESTART,
    SLIPPAGE,
    UNEXPLAINED,
    FillRow,
    Window,
    compare_with_replay,
    match_fills,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC = "BTCUSDT"


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def fill(side: str, minute: float, price: str, quantity: str = "0.1") -> FillRow:
    q, p = Decimal(quantity), Decimal(price)
    return FillRow(
        BTC, side, q, p, (q * p * Decimal("0.0005")).quantize(Decimal("0.0001")), at(minute)
    )


def trip(opened: float, closed: float, pnl: str, quantity: str = "0.1", entry: str = "95000",
         exit_: str = "96000") -> RoundTrip:  # fmt: skip
    return RoundTrip(
        BTC, at(opened), at(closed), Decimal(pnl), Decimal("9.55"), Decimal(quantity),
        Decimal(entry), Decimal(exit_),
    )  # fmt: skip


def compared(
    paper: list[RoundTrip],
    replay: list[RoundTrip],
    paper_pnl: str,
    replay_pnl: str,
    windows: tuple[Window, ...] = (),
) -> dict[str, Decimal]:
    result = compare_with_replay(
        "pt-paper", "pt-replay",
        paper_fills=[], replay_fills=[], paper_trips=paper, replay_trips=replay,
        paper_pnl=Decimal(paper_pnl), replay_pnl=Decimal(replay_pnl), windows=windows,
    )  # fmt: skip
    assert sum(result.attribution.values()) == result.difference  # adds up, to the digit
    return {cause: v for cause, v in result.attribution.items() if v}


def test_the_same_fills_agree_and_nothing_is_attributed() -> None:
    fills = [fill("buy", 10, "95000"), fill("sell", 30, "96000")]
    result = compare_with_replay(
        "pt-paper", "pt-replay",
        paper_fills=fills, replay_fills=list(fills),
        paper_trips=[trip(10, 30, "90.45")], replay_trips=[trip(10, 30, "90.45")],
        paper_pnl=Decimal("90.45"), replay_pnl=Decimal("90.45"), windows=[],
    )  # fmt: skip

    assert result.agrees
    assert [m.how for m in result.fills] == ["same", "same"]
    assert result.trips == []
    assert set(result.attribution.values()) == {Decimal(0)}


def test_fills_pair_by_symbol_side_and_nearest_time() -> None:
    paper = [fill("buy", 10.1, "95010"), fill("sell", 30, "96000"), fill("buy", 50, "95000")]
    replay = [fill("buy", 10, "95000"), fill("sell", 30, "96000", "0.05"), fill("sell", 70, "1")]

    hows = [(m.side, m.how) for m in match_fills(paper, replay)]

    assert hows == [
        ("buy", "other time"),
        ("sell", "other quantity"),
        ("buy", "paper only"),  # the replay's buy is taken by the nearer paper fill
        ("sell", "replay only"),  # 40 minutes from any paper sell: not the same fill
    ]


def test_a_trip_at_other_times_is_latency_and_at_other_prices_slippage() -> None:
    late = trip(10.1, 30.1, "80.45", entry="95010", exit_="95990")
    assert compared([late], [trip(10, 30, "90.45")], "80.45", "90.45") == {
        LATENCY: Decimal("-10.00")
    }
    dearer = trip(10, 30, "85.45", entry="95050")
    assert compared([dearer], [trip(10, 30, "90.45")], "85.45", "90.45") == {
        SLIPPAGE: Decimal("-5.00")
    }
    partial = trip(10, 30, "45.22", quantity="0.05")
    assert compared([partial], [trip(10, 30, "90.45")], "45.22", "90.45") == {
        PARTIAL: Decimal("-45.23")
    }


def test_a_trip_missed_in_an_outage_is_put_down_to_it() -> None:
    """The paper run was disconnected while the replay (its recording holds the candles the
    feed back-filled) entered: the replay's trip is the gap's, the rest open positions."""
    gap = Window(OUTAGE, "BTCUSDT disconnect gap", at(8), at(14))
    restart = Window(RESTART, "engine down", at(100), at(101))

    attributed = compared(
        [trip(40, 60, "12.00")],
        [trip(10, 30, "90.45"), trip(40, 60, "12.00")],
        "7.00",
        "102.45",
        (gap, restart),
    )

    assert attributed == {OUTAGE: Decimal("-90.45"), OPEN: Decimal("-5.00")}


def test_a_trip_moved_by_an_outage_is_the_outage_s_and_a_restart_is_a_restart() -> None:
    restart = Window(RESTART, "engine down", at(9), at(11))
    moved = trip(12, 30, "70.45", entry="95200")

    assert compared([moved], [trip(10, 30, "90.45")], "70.45", "90.45", (restart,)) == {
        RESTART: Decimal("-20.00")
    }
    # long after the outage settled: not its doing
    far = Window(OUTAGE, "redis down", at(-60), at(-40))
    assert compared([], [trip(10, 30, "90.45")], "0", "90.45", (far,)) == {
        UNEXPLAINED: Decimal("-90.45")
    }
