"""The portfolio: cash, PnL with fees, marks, exposure, drawdowns, reconciliation, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.domain.drawdown import worse_fall
from engine.domain.errors import InvalidFillError, InvalidMarkError, OversellError
from engine.domain.fills import Fill
from engine.domain.portfolio import Portfolio
from engine.domain.positions import EXACT_CONTEXT, fraction
from engine.events import PortfolioSnapshotTaken, decode_event, encode_event
from engine.events.orders import OrderSide
from engine.money import quantize
from tests.unit.test_positions import EPOCH, TAKER, buy, sell

CAPITAL = Decimal(100000)
DAY_ONE = datetime(2026, 1, 5, tzinfo=UTC)


def at(hour: int, minute: int = 0, *, day: int = 0) -> datetime:
    return DAY_ONE + timedelta(days=day, hours=hour, minutes=minute)


def state(portfolio: Portfolio) -> tuple[object, ...]:
    """Return everything observable about a portfolio, to compare two of them."""
    positions = tuple(
        (p.symbol, p.quantity, p.average_price, p.realized_pnl, p.fees_paid, frozenset(p.trade_ids))
        for p in portfolio.positions.values()
    )
    return (
        portfolio.cash,
        portfolio.equity,
        portfolio.realized_pnl,
        portfolio.unrealized_pnl,
        portfolio.peak_equity,
        portfolio.max_drawdown,
        portfolio.daily_drawdown,
        portfolio.daily_max_drawdown,
        portfolio.day,
        positions,
        {s: portfolio.mark_price(s) for s in portfolio.positions},
    )


def assert_identity(portfolio: Portfolio) -> None:
    """Assert equity - capital == realized + unrealized, added without rounding."""
    assert portfolio.reconcile() is None
    with localcontext(EXACT_CONTEXT):
        assert portfolio.equity == CAPITAL + portfolio.realized_pnl + portfolio.unrealized_pnl
        assert portfolio.total_pnl == portfolio.realized_pnl + portfolio.unrealized_pnl


# -- cash and PnL ----------------------------------------------------------------------


def test_apply_fill_when_winning_round_trip_with_taker_fees_then_profit_net_of_fees() -> None:
    portfolio = Portfolio(CAPITAL)

    portfolio.apply_fill(buy("0.5", "95000", at=at(9)))  # 47500 + fee 23.75
    portfolio.apply_fill(sell("0.5", "96000", at=at(10)))  # 48000 - fee 24

    assert portfolio.cash == Decimal("100452.25")
    assert portfolio.realized_pnl == Decimal(1000) / 2 - Decimal("23.75") - Decimal(24)
    assert portfolio.unrealized_pnl == 0
    assert portfolio.equity == portfolio.cash
    assert portfolio.fees_paid == Decimal("47.75")
    assert_identity(portfolio)


def test_apply_fill_when_losing_round_trip_with_fees_then_loss_includes_fees() -> None:
    portfolio = Portfolio(CAPITAL)

    portfolio.apply_fill(buy("1", "3000", symbol="ETHUSDT", at=at(9)))  # fee 1.5
    portfolio.apply_fill(sell("1", "2900", symbol="ETHUSDT", at=at(10)))  # fee 1.45

    assert portfolio.realized_pnl == Decimal("-102.95")
    assert portfolio.cash == Decimal("99897.05")
    assert portfolio.total_pnl == Decimal("-102.95")
    assert portfolio.quantity("ETHUSDT") == 0
    assert_identity(portfolio)


def test_apply_fill_when_partial_close_then_average_kept_and_rest_marked() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("1", "100", fee="0.05", at=at(9)))
    portfolio.mark("BTCUSDT", Decimal(120), at(10))

    portfolio.apply_fill(sell("0.25", "120", fee="0.015", at=at(10)))

    position = portfolio.position("BTCUSDT")
    assert position is not None
    assert position.average_price == Decimal(100)
    assert portfolio.quantity("BTCUSDT") == Decimal("0.75")
    assert portfolio.realized_pnl == Decimal(5) - Decimal("0.05") - Decimal("0.015")
    assert portfolio.unrealized_pnl == Decimal(15)  # marked at the market: 120
    assert_identity(portfolio)


def test_apply_fill_when_slipped_price_then_position_stays_at_the_market_mark() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.mark("BTCUSDT", Decimal(100), at(9))

    portfolio.apply_fill(buy("1", "100.5", fee="0.05", at=at(9)))  # 0.5 slippage, 0.05 fee

    assert portfolio.mark_price("BTCUSDT") == Decimal(100)
    assert portfolio.equity == CAPITAL - Decimal("0.55")  # the cost shows at once
    assert portfolio.max_drawdown > 0
    assert_identity(portfolio)


def test_track_when_updates_untracked_then_only_the_tracked_instant_counts() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("1", "1000", fee="0", at=at(9)))
    portfolio.mark("BTCUSDT", Decimal(1000), at(9))

    portfolio.mark("BTCUSDT", Decimal(500), at(10), track=False)  # a passing state
    portfolio.mark("BTCUSDT", Decimal(1000), at(10), track=False)
    portfolio.track(at(10))

    assert portfolio.max_drawdown == 0
    portfolio.mark("BTCUSDT", Decimal(900), at(11), track=False)
    portfolio.track(at(11))
    assert portfolio.max_drawdown == Decimal(100) / CAPITAL


def test_apply_fill_when_duplicate_trade_id_then_ignored_and_cash_unchanged() -> None:
    portfolio = Portfolio(CAPITAL)
    fill = buy("0.5", "95000", at=at(9))
    portfolio.apply_fill(fill)
    cash = portfolio.cash

    assert portfolio.apply_fill(fill) is False

    assert portfolio.cash == cash
    assert portfolio.quantity("BTCUSDT") == Decimal("0.5")
    assert_identity(portfolio)


def test_apply_fill_when_oversell_then_raises_and_cash_unchanged() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("0.5", "95000", at=at(9)))
    before = state(portfolio)

    with pytest.raises(OversellError):
        portfolio.apply_fill(sell("0.6", "95000", at=at(10)))

    assert state(portfolio) == before


def test_apply_fill_when_fee_not_in_quote_currency_then_refused() -> None:
    fill = Fill(
        "t1", "o1", "BTCUSDT", OrderSide.BUY, Decimal(1), Decimal(1), Decimal(0), "BTC", EPOCH
    )

    with pytest.raises(InvalidFillError, match="keeps USDT"):
        Portfolio(CAPITAL).apply_fill(fill)


def test_portfolio_when_initial_capital_not_positive_then_value_error() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Portfolio(Decimal(0))


# -- marks, exposure -------------------------------------------------------------------


def test_unrealized_pnl_when_marked_then_uses_latest_mark() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("0.1", "95000", fee="0", at=at(9)))

    portfolio.mark("BTCUSDT", Decimal(96000), at(10))
    portfolio.mark("BTCUSDT", Decimal(97000), at(11))
    portfolio.mark("BTCUSDT", Decimal(1), at(10, 30))  # older than the last mark: ignored

    assert portfolio.mark_price("BTCUSDT") == Decimal(97000)
    assert portfolio.unrealized_pnl == Decimal(200)
    assert portfolio.equity == CAPITAL + Decimal(200)
    assert_identity(portfolio)


def test_apply_fill_when_newer_mark_exists_then_mark_kept() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.mark("BTCUSDT", Decimal(96000), at(10))

    portfolio.apply_fill(buy("0.1", "95000", fee="0", at=at(9)))

    assert portfolio.mark_price("BTCUSDT") == Decimal(96000)
    assert portfolio.unrealized_pnl == Decimal(100)


def test_mark_when_price_not_positive_then_invalid_mark_error() -> None:
    with pytest.raises(InvalidMarkError):
        Portfolio(CAPITAL).mark("BTCUSDT", Decimal(0), at(9))


def test_exposure_fraction_when_position_open_then_value_over_equity() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("0.1", "95000", fee="0", at=at(9)))

    assert portfolio.exposure == Decimal(9500)
    assert portfolio.positions_value == Decimal(9500)
    assert portfolio.market_value("BTCUSDT") == Decimal(9500)
    assert portfolio.exposure_fraction == Decimal("0.095")


def test_exposure_fraction_when_flat_then_zero() -> None:
    assert Portfolio(CAPITAL).exposure_fraction == 0


# -- drawdown --------------------------------------------------------------------------


def rise_then_fall() -> Portfolio:
    """Equity 100000 -> 110000 (10:00) -> 99000 (23:59) on day one."""
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("1", "50000", fee="0", at=at(9)))
    portfolio.mark("BTCUSDT", Decimal(60000), at(10))
    portfolio.mark("BTCUSDT", Decimal(49000), at(23, 59))
    return portfolio


def test_max_drawdown_when_rise_then_fall_then_fraction_of_peak() -> None:
    portfolio = rise_then_fall()

    assert portfolio.equity == Decimal(99000)
    assert portfolio.peak_equity == Decimal(110000)
    assert portfolio.max_drawdown == Decimal("0.1")
    assert portfolio.current_drawdown == Decimal("0.1")
    assert portfolio.daily_drawdown == Decimal("0.1")


def test_max_drawdown_when_equity_recovers_then_kept() -> None:
    portfolio = rise_then_fall()

    portfolio.mark("BTCUSDT", Decimal(70000), at(23, 59, day=0) + timedelta(seconds=30))

    assert portfolio.max_drawdown == Decimal("0.1")
    assert portfolio.current_drawdown == 0
    assert portfolio.daily_drawdown == 0
    assert portfolio.daily_max_drawdown == Decimal("0.1")


def test_max_drawdown_when_a_higher_peak_is_restored_then_the_next_mark_counts_it() -> None:
    portfolio = rise_then_fall()  # equity 99000, peak 110000
    portfolio.raise_floors(Decimal(120000), None)  # a resumed run's stored peak

    portfolio.mark("BTCUSDT", Decimal(49000), at(23, 59) + timedelta(seconds=1))  # same equity

    assert portfolio.max_drawdown == quantize(Decimal(21000) / Decimal(120000))


_AMOUNT = st.decimals(min_value=1, max_value=10**9, places=18, allow_nan=False)


@settings(max_examples=300)
@given(worst=st.decimals(min_value=0, max_value=1, places=18), peak=_AMOUNT, equity=_AMOUNT)
def test_worse_fall_then_exactly_the_larger_of_the_two_falls(
    worst: Decimal, peak: Decimal, equity: Decimal
) -> None:
    with localcontext(EXACT_CONTEXT):
        expected = max(worst, fraction(peak - equity, peak))
        assert worse_fall(worst, peak, equity) == expected
        near = worst * peak  # a fall right at the boundary, and one part above it
        assert worse_fall(worst, peak, peak - near) == max(worst, fraction(near, peak))
        tiny = Decimal("1e-18")
        assert worse_fall(worst, peak, peak - near - tiny) == max(
            worst, fraction(near + tiny, peak)
        )


def test_daily_drawdown_when_utc_midnight_passes_then_resets_but_max_does_not() -> None:
    portfolio = rise_then_fall()

    portfolio.mark("BTCUSDT", Decimal(49000), at(0, 1, day=1))

    assert portfolio.day == at(0, day=1).date()
    assert portfolio.daily_drawdown == 0
    assert portfolio.daily_max_drawdown == 0
    assert portfolio.max_drawdown == Decimal("0.1")

    portfolio.mark("BTCUSDT", Decimal(44050), at(0, 2, day=1))  # equity 94050

    assert portfolio.daily_drawdown == Decimal("0.05")  # from the 99000 carried over
    assert portfolio.max_drawdown == Decimal("0.145")


def test_daily_drawdown_when_drop_comes_with_first_update_of_day_then_counted() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("1", "50000", fee="0", at=at(9)))
    portfolio.mark("BTCUSDT", Decimal(60000), at(23, 59))  # equity 110000

    portfolio.mark("BTCUSDT", Decimal(49000), at(0, 1, day=1))  # equity 99000

    assert portfolio.daily_drawdown == Decimal("0.1")


def test_daily_drawdown_when_event_late_then_day_not_rolled_back() -> None:
    portfolio = rise_then_fall()
    portfolio.mark("BTCUSDT", Decimal(49000), at(0, 1, day=1))

    portfolio.apply_fill(sell("0.5", "48000", fee="0", at=at(23, 58)))  # late, day one

    assert portfolio.day == at(0, day=1).date()
    assert portfolio.daily_drawdown == quantize(Decimal(500) / Decimal(99000))


# -- reconciliation, replay, snapshots -----------------------------------------------------

symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "PEPEUSDT"])
plain_prices = st.integers(1, 10**10).map(lambda n: Decimal(n).scaleb(-4))
long_prices = st.integers(1, 10**12).map(lambda n: Decimal(n) / Decimal(7))  # 28 digits
prices = st.one_of(plain_prices, long_prices)
fee_rates = st.sampled_from([Decimal(0), TAKER, Decimal("0.001")])


@st.composite
def trading_days(draw: st.DrawFn) -> tuple[list[Fill], list[tuple[str, Decimal, datetime]]]:
    """Draw fills within holdings (quantities in 1e-6 units) and marks, over several days."""
    fills: list[Fill] = []
    marks: list[tuple[str, Decimal, datetime]] = []
    held: dict[str, int] = {}
    for step in range(draw(st.integers(1, 40))):
        ts = DAY_ONE + timedelta(hours=5 * step)
        symbol = draw(symbols)
        action = draw(st.sampled_from(["buy", "sell", "mark"]))
        if action == "mark" or (action == "sell" and not held.get(symbol)):
            marks.append((symbol, draw(prices), ts))
            continue
        limit = held.get(symbol, 0) if action == "sell" else 10**7
        units = draw(st.integers(1, limit))
        held[symbol] = held.get(symbol, 0) + (units if action == "buy" else -units)
        quantity, price = Decimal(units).scaleb(-6), draw(prices)
        side = OrderSide(action)
        fee = quantity * price * draw(fee_rates)
        fills.append(Fill(f"t{step}", f"o{step}", symbol, side, quantity, price, fee, "USDT", ts))
    return fills, marks


def play(fills: list[Fill], marks: list[tuple[str, Decimal, datetime]]) -> Portfolio:
    portfolio = Portfolio(CAPITAL)
    events = sorted(
        [(f.ts, 0, f) for f in fills] + [(m[2], 1, m) for m in marks],
        key=lambda item: (item[0], item[1]),
    )
    for _, _, event in events:
        if isinstance(event, Fill):
            portfolio.apply_fill(event)
        else:
            portfolio.mark(*event)
    return portfolio


#: Found by the suite: a day's peak and equity with more digits than the default context's
#: 28 subtracted outside the exact context gave a daily drawdown above the day's worst.
_MANY_DIGITS = (
    [
        Fill("t0", "o0", "BTCUSDT", OrderSide.BUY, Decimal("0.000003"), Decimal("0.0001"),
             Decimal("1.5E-13"), "USDT", at(0)),
        Fill("t1", "o1", "BTCUSDT", OrderSide.BUY, Decimal("0.000001"), Decimal("0.0001"),
             Decimal("0E-10"), "USDT", at(5)),
        Fill("t2", "o2", "BTCUSDT", OrderSide.BUY, Decimal("0.000001"), Decimal(2) / Decimal(7),
             Decimal("2.857142857142857142857142857E-10"), "USDT", at(10)),
    ],
    [("BTCUSDT", Decimal("0.0001"), at(15))],
)  # fmt: skip


@settings(max_examples=200)
@example(_MANY_DIGITS)
@given(trading_days())
def test_reconcile_when_many_random_fills_and_marks_then_books_add_up_exactly(
    history: tuple[list[Fill], list[tuple[str, Decimal, datetime]]],
) -> None:
    portfolio = play(*history)

    assert_identity(portfolio)
    assert portfolio.max_drawdown >= 0
    assert portfolio.daily_drawdown <= portfolio.daily_max_drawdown
    snapshot = portfolio.to_snapshot(at(0, day=30), run_id="run-1")
    with localcontext(EXACT_CONTEXT):
        assert snapshot.equity == snapshot.cash + snapshot.positions_value
        assert snapshot.equity - CAPITAL == snapshot.realized_pnl + snapshot.unrealized_pnl


@settings(max_examples=100)
@given(trading_days(), st.lists(st.booleans(), min_size=40, max_size=40))
def test_equity_after_every_update_tracked_or_not_then_cash_plus_positions_at_marks(
    history: tuple[list[Fill], list[tuple[str, Decimal, datetime]]], tracks: list[bool]
) -> None:
    """The equity is read from the last tracked figure while nothing moved since: it must
    be cash + quantity x mark after every update, whether it tracked or not."""
    fills, marks = history
    portfolio = Portfolio(CAPITAL)
    events = sorted(
        [(f.ts, 0, f) for f in fills] + [(m[2], 1, m) for m in marks], key=lambda e: e[:2]
    )
    for (ts, _, event), track in zip(events, tracks, strict=False):
        if isinstance(event, Fill):
            portfolio.apply_fill(event, track=track)
        else:
            portfolio.mark(*event, track=track)
        with localcontext(EXACT_CONTEXT):
            expected = portfolio.cash + sum(
                (p.quantity * (portfolio.mark_price(s) or p.average_price))
                for s, p in portfolio.positions.items()
            )
        assert portfolio.equity == expected
        portfolio.track(ts)
        assert portfolio.equity == expected
        portfolio.raise_floors(None, None)
        assert portfolio.equity == expected


@given(trading_days())
def test_replay_when_fills_replayed_then_same_state_as_applied_one_by_one(
    history: tuple[list[Fill], list[tuple[str, Decimal, datetime]]],
) -> None:
    fills, _ = history
    live = play(fills, [])

    replayed = Portfolio.replay(CAPITAL, fills)

    assert state(replayed) == state(live)


def test_replay_when_marks_and_stored_drawdown_given_then_applied() -> None:
    fills = [buy("1", "50000", fee="0", at=at(9))]

    portfolio = Portfolio.replay(
        CAPITAL,
        fills,
        {"BTCUSDT": Decimal(55000)},
        peak_equity=Decimal(120000),
        max_drawdown=Decimal("0.2"),
    )

    assert portfolio.equity == Decimal(105000)
    assert portfolio.peak_equity == Decimal(120000)
    assert portfolio.max_drawdown == Decimal("0.2")
    assert_identity(portfolio)


def test_reconcile_when_cash_drifts_then_violation_described() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("0.5", "95000", at=at(9)))

    portfolio._cash += Decimal("0.01")  # simulate a bug that loses track of cash

    problem = portfolio.reconcile()
    assert problem is not None
    assert "from the fills" in problem
    assert "realized + unrealized" in problem


def test_arithmetic_when_caller_context_is_narrow_then_still_exact() -> None:
    with localcontext() as narrow:
        narrow.prec = 6
        portfolio = Portfolio(CAPITAL)
        portfolio.apply_fill(buy("0.123456", "95000.123456", fee="0", at=at(9)))
        portfolio.mark("BTCUSDT", Decimal("96000.654321"), at(10))

        assert portfolio.cash == Decimal("88271.664758616064")
        assert_identity(portfolio)


def test_to_snapshot_between_fills_then_same_as_a_portfolio_built_afresh() -> None:
    """Snapshots share the positions' fixed parts until a fill: each must still equal the
    snapshot of a portfolio rebuilt from the same fills and marks."""
    fills = [
        buy("0.1", "95000", at=at(9)),
        buy("2", "3000", symbol="ETHUSDT", at=at(9, 30)),
        buy("0.05", "96000", at=at(9, 40)),
        sell("2", "3100", symbol="ETHUSDT", at=at(9, 45)),
    ]
    portfolio = Portfolio(CAPITAL)
    for step, fill in enumerate(fills):
        portfolio.apply_fill(fill)
        for minute, price in enumerate(("95500", "94000.5")):
            ts = at(10 + step, minute)
            portfolio.mark("BTCUSDT", Decimal(price), ts)
            kept = portfolio.to_snapshot(ts, run_id="run-1", event_id=f"s-{step}-{minute}")
            afresh = Portfolio.replay(CAPITAL, fills[: step + 1])
            afresh.mark("BTCUSDT", Decimal(price), ts)
            if portfolio.mark_price("ETHUSDT") is not None:
                afresh.mark("ETHUSDT", portfolio.mark_price("ETHUSDT"), ts)  # type: ignore[arg-type]
            expected = afresh.to_snapshot(ts, run_id="run-1", event_id=f"s-{step}-{minute}")
            assert kept.positions == expected.positions
            assert (kept.cash, kept.equity, kept.realized_pnl, kept.unrealized_pnl) == (
                expected.cash,
                expected.equity,
                expected.realized_pnl,
                expected.unrealized_pnl,
            )
            assert portfolio.reconcile() is None
    assert [p.symbol for p in kept.positions] == ["BTCUSDT"]
    assert kept.positions[0].quantity == Decimal("0.15")


def test_to_snapshot_when_positions_open_then_valid_event_that_reconciles() -> None:
    portfolio = Portfolio(CAPITAL)
    portfolio.apply_fill(buy("0.1", "95000", at=at(9)))
    portfolio.apply_fill(buy("2", "3000", symbol="ETHUSDT", at=at(9, 30)))
    portfolio.apply_fill(sell("2", "3100", symbol="ETHUSDT", at=at(9, 45)))
    portfolio.mark("BTCUSDT", Decimal(1) / Decimal(3) * 288000, at(10))  # 96000.000...

    snapshot = portfolio.to_snapshot(at(10, 1), run_id="run-1", event_id="snap-1")

    decoded = decode_event(encode_event(snapshot))
    assert isinstance(decoded, PortfolioSnapshotTaken)
    assert decoded == snapshot
    assert snapshot.event_id == "snap-1"
    assert snapshot.ts_event == snapshot.ts_init == at(10, 1)
    assert [p.symbol for p in snapshot.positions] == ["BTCUSDT"]  # ETH is closed
    (btc,) = snapshot.positions
    assert snapshot.equity == snapshot.cash + btc.quantity * btc.market_price  # type: ignore[operator]
    assert snapshot.equity == snapshot.cash + snapshot.positions_value
    assert snapshot.equity - CAPITAL == snapshot.realized_pnl + snapshot.unrealized_pnl
    assert snapshot.exposure == snapshot.positions_value
    assert snapshot.exposure_pct == portfolio.exposure_fraction
    assert abs(snapshot.equity - portfolio.equity) < Decimal("1e-17")
