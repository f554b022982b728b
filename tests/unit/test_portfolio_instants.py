"""The portfolio stage snapshots as of one instant: every market event and fill with the
same event time is applied before the snapshot of that time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine.bus.memory import InMemoryBus
from engine.domain.market import MarketState
from engine.domain.portfolio import Portfolio
from engine.events import Event, FeedEnded
from engine.events.portfolio import PortfolioSnapshotTaken
from engine.services.portfolio import PortfolioStage
from engine.streams import Stream
from tests.factories import EPOCH, candle, fill

D = Decimal


def stage() -> tuple[PortfolioStage, list[PortfolioSnapshotTaken]]:
    bus = InMemoryBus()
    out: list[Event] = []
    bus.subscribe("probe", (Stream.PORTFOLIO_SNAPSHOTS,), out.extend)
    portfolio = PortfolioStage(Portfolio(D(10_000)), MarketState(), bus, "run-1")
    snapshots: list[PortfolioSnapshotTaken] = out  # type: ignore[assignment]
    return portfolio, snapshots


def run(portfolio: PortfolioStage, events: list[Event]) -> None:
    portfolio.handle(events)
    portfolio._publisher.drain()  # type: ignore[attr-defined]


def marks(snapshot: PortfolioSnapshotTaken) -> dict[str, Decimal]:
    return {p.symbol: p.market_price for p in snapshot.positions if p.market_price is not None}


def eth(result: Event) -> Event:
    return result.model_copy(update={"symbol": "ETHUSDT"})


def ended(minutes: int) -> FeedEnded:
    return FeedEnded(
        event_id="feed-end", ts_event=EPOCH + timedelta(minutes=minutes), source="engine.feed",
        run_id="run-1", reason="exhausted",
    )  # fmt: skip


def test_two_symbols_closing_at_the_same_time_are_both_marked_in_that_minutes_snapshot() -> None:
    portfolio, snapshots = stage()
    at = EPOCH + timedelta(minutes=1)
    run(portfolio, [candle(0, close="100"), candle(0, symbol="ETHUSDT", close="10")])
    run(
        portfolio,
        [
            fill("b", quantity="10", price="100", reference="100", fee="0", at=at),
            eth(fill("e", quantity="100", price="10", reference="10", fee="0", at=at)),
        ],
    )
    # Minute 1: BTC first, ETH second, both closing at the same instant.
    run(portfolio, [candle(1, close="110"), candle(1, symbol="ETHUSDT", close="12")])
    run(portfolio, [candle(2, close="110"), candle(2, symbol="ETHUSDT", close="12")])
    minute = [s for s in snapshots if s.event_id.endswith("-minute")]
    at_two = next(s for s in minute if s.ts_event == EPOCH + timedelta(minutes=2))
    assert marks(at_two) == {"BTCUSDT": D(110), "ETHUSDT": D(12)}
    assert at_two.equity == D(10_000) - 1000 - 1000 + 10 * 110 + 100 * 12


def test_a_fill_at_an_instant_is_in_that_instants_single_snapshot() -> None:
    portfolio, snapshots = stage()
    at = EPOCH + timedelta(minutes=1)
    run(
        portfolio,
        [
            candle(0, close="100"),
            fill("b", quantity="10", price="101", reference="100", fee="1", at=at),
        ],
    )
    assert snapshots == []  # the instant is still open: more of it may come
    run(portfolio, [candle(0, symbol="ETHUSDT", close="10")])
    assert snapshots == []
    run(portfolio, [candle(1, close="102")])  # event time moves on: the instant closes
    [first] = snapshots  # one snapshot of the instant, the fill in it
    assert first.ts_event == at
    # Valued at the market (100), not at the fill's own price (101); the fee is paid.
    assert first.equity == D(10_000) - 10 * 101 - 1 + 10 * 100
    assert marks(first) == {"BTCUSDT": D(100)}


def test_no_drawdown_from_half_an_instant() -> None:
    portfolio, snapshots = stage()
    at = EPOCH + timedelta(minutes=1)
    run(portfolio, [candle(0, close="100"), candle(0, symbol="ETHUSDT", close="100")])
    run(
        portfolio,
        [
            fill("b", quantity="10", price="100", reference="100", fee="0", at=at),
            eth(fill("e", quantity="10", price="100", reference="100", fee="0", at=at)),
        ],
    )
    # At minute 2 BTC falls 10 and ETH rises 10: the instant's equity is unchanged, though
    # half-way through it (BTC applied, ETH not yet) it was 100 lower.
    run(portfolio, [candle(1, close="90"), candle(1, symbol="ETHUSDT", close="110")])
    run(portfolio, [ended(3)])
    assert all(s.max_drawdown == 0 for s in snapshots), [s.max_drawdown for s in snapshots]
    assert snapshots[-1].event_id.endswith("final")
