"""A report a trader can check by hand: replays of recorded candles through
`claire papertest start ... --speed max`, then every figure recomputed here from the market
file and the database with short, plain code (not the report's), and the verdict's exit code.

The candles' opens are not the previous closes (as in recorded data), so a fill at the next
open and a fill at a later close give different prices.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.events.market_data import Candle
from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from tests.support import claire

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = datetime(2026, 3, 2, 12, tzinfo=UTC)  # mid-day: 3 UTC days in 2 days
CAPITAL = Decimal(100_000)
LATENCY = timedelta(milliseconds=50)  # the default execution.latency_ms


@pytest.fixture(autouse=True)
def _exact_sums() -> Iterator[None]:
    """The plain sums here round nothing (as the engine's do not)."""
    with localcontext() as context:
        context.prec = 80
        yield


def recorded_candles(path: Path, days: int, seed: int) -> list[Candle]:
    """Write `days` of 1-minute candles whose opens jump away from the previous close
    (up to ±8 bps), as recorded candles do; return them."""
    rng = random.Random(seed)
    last: dict[str, Decimal] = {}
    candles = []
    for drawn in synthetic_candles(SYMBOLS, START, days * 1440, seed=seed):
        candle, previous = drawn, last.get(drawn.symbol)
        if previous is not None:
            opened = (previous * (1 + Decimal(rng.randint(-80, 80)) / 100_000)).quantize(
                Decimal("0.01")
            )
            candle = candle.model_copy(
                update={
                    "open": opened,
                    "high": max(candle.high, opened),
                    "low": min(candle.low, opened),
                }
            )
        last[candle.symbol] = candle.close
        candles.append(candle)
    write_market_file(path, candles, Layout.CANDLES)
    return candles


def replay(db: Db, home: Path, path: Path, duration: str) -> str:
    """Run the replay as a user does, in the foreground; return its run id."""
    started = claire(
        "papertest", "start", "--duration", duration, "--source", f"replay:{path}",
        "--speed", "max", "--symbols", ",".join(SYMBOLS), "--capital", str(CAPITAL),
        "--foreground", "--no-backup",
    )  # fmt: skip
    ((run_id, status),) = db.execute(
        "SELECT run_id, status FROM runs ORDER BY started_at DESC LIMIT 1"
    ).fetchall()
    assert status == "completed"
    # the foreground waits for the engine to write its report and says where it is
    assert "report: " in started.output
    assert (home / "reports" / str(run_id) / "report.json").exists()
    return str(run_id)


def rows(db: Db, query: str, *params: object) -> list[tuple[Any, ...]]:
    return db.execute(query, params).fetchall()


def report_json(home: Path, run_id: str) -> dict[str, Any]:
    """The report the engine writes when the run ends."""
    path = home / "reports" / run_id / "report.json"
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def test_two_day_replay_every_figure_recomputed_by_hand_and_the_verdict_inconclusive(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    market = tmp_path / "recorded.csv"
    candles = recorded_candles(market, days=2, seed=11)
    run_id = replay(db, runtime_home, market, "2d")
    verdict = claire("papertest", "report", run_id, "--check", "--json", expect=2)
    summary = json.loads(verdict.stdout)
    assert summary["verdict"] == "INCONCLUSIVE"
    assert "of the 7 days needed" in " ".join(summary["reasons"])
    report = report_json(runtime_home, run_id)
    assert report["verdict"]["outcome"] == "INCONCLUSIVE"
    assert report["verdict"]["exit_code"] == 2
    provenance = report["provenance"]
    assert provenance["event_start"] == START.isoformat()  # the first candle's open
    assert provenance["event_end"] == (START + timedelta(days=2)).isoformat()  # its last close
    assert provenance["planned_event_end"] == (START + timedelta(days=2)).isoformat()
    assert provenance["ended_at"] > provenance["started_at"]  # wall clock, even at max speed
    assert "recorded market data" in report["assumptions"]["data_source"]
    assert "open of the next candle" in report["assumptions"]["fill_model"]

    closing = {(c.symbol, c.close_time): c for c in candles}
    fills = rows(
        db,
        'SELECT t."timestamp", t.symbol, t.side, t.quantity, t.execution_price, t.fees,'
        " t.reference_price, t.order_id, o.ts_event, o.decision_price"
        " FROM trades t JOIN orders o USING (order_id) WHERE t.run_id = %s"
        ' ORDER BY t."timestamp", t.trade_id',
        run_id,
    )
    assert len(fills) > 20

    # 1. Every market fill at the arrival price: the open of the first candle after the
    #    decision, booked when that candle closes; the rest of a partial fill at each later
    #    candle's open.
    opens_by_symbol = {s: sorted(c.open_time for c in candles if c.symbol == s) for s in SYMBOLS}
    first_fill_seen: set[str] = set()
    for at, symbol, _, _, _, _, reference, order_id, decided, _ in fills:
        bar = closing[(symbol, at)]
        assert reference == bar.open, (order_id, at)
        if order_id not in first_fill_seen:
            first_fill_seen.add(order_id)
            times = opens_by_symbol[symbol]
            first = times[bisect_left(times, decided)]
            assert bar.open_time == first, (order_id, decided, bar.open_time)
            assert bar.open_time - decided <= LATENCY + timedelta(minutes=1)

    # 2. Cash replayed from the fills; positions; every fill inside the limits at its price.
    cash, held = CAPITAL, defaultdict[str, Decimal](Decimal)
    last_close: dict[str, Decimal] = {}
    market_cursor = iter(sorted(candles, key=lambda c: (c.close_time, c.symbol)))
    pending = next(market_cursor, None)
    for at, symbol, side, quantity, price, fee, *_ in fills:
        while pending is not None and pending.close_time < at:
            last_close[pending.symbol] = pending.close
            pending = next(market_cursor, None)
        if side == "buy":
            cash -= quantity * price + fee
            held[symbol] += quantity
            others = sum(q * last_close[s] for s, q in held.items() if s != symbol and q)
            mine = held[symbol] * price
            equity = cash + others + mine
            assert mine <= Decimal("0.05") * equity * Decimal("1.0001"), (at, symbol)
            assert mine + others <= Decimal("0.10") * equity * Decimal("1.0001"), (at, symbol)
        else:
            cash += quantity * price - fee
            held[symbol] -= quantity
    ((final_cash, final_equity, final_positions),) = rows(
        db,
        "SELECT cash, equity, positions FROM portfolio_snapshots WHERE run_id = %s"
        ' ORDER BY "timestamp" DESC, sequence DESC LIMIT 1',
        run_id,
    )
    assert abs(cash - final_cash) < Decimal("1e-12")

    # 3. Every minute snapshot marks every held symbol at the close of that same minute.
    snapshots = rows(
        db,
        'SELECT "timestamp", equity, cash, positions FROM portfolio_snapshots'
        " WHERE run_id = %s AND event_id LIKE '%%-minute' ORDER BY \"timestamp\"",
        run_id,
    )
    assert len(snapshots) >= 2 * 1440 - 1
    marked = 0
    for at, equity, snap_cash, positions in snapshots:
        value = Decimal(0)
        for p in positions or ():
            same_minute = closing.get((p["symbol"], at))
            if same_minute is not None:
                assert Decimal(str(p["market_price"])) == same_minute.close, (at, p["symbol"])
                marked += 1
            value += Decimal(str(p["quantity"])) * Decimal(str(p["market_price"]))
        assert abs(snap_cash + value - equity) < Decimal("1e-12")
    assert marked > 100

    # 4. The report's figures, recomputed.
    perf, trades, costs = report["performance"], report["trades"], report["execution"]["costs"]
    assert Decimal(perf["final_equity"]) == final_equity
    assert abs(Decimal(perf["total_return"]) - (final_equity / CAPITAL - 1)) < Decimal("1e-24")

    def day_of(at: datetime) -> Any:  # a day ends at midnight, inclusive
        return (at - timedelta(microseconds=1)).date()

    days: dict[Any, Decimal] = {}
    for at, equity, *_ in snapshots:
        days[day_of(at)] = equity
    ((last_at, last_equity),) = rows(
        db,
        'SELECT "timestamp", equity FROM portfolio_snapshots WHERE run_id = %s'
        ' ORDER BY "timestamp" DESC, sequence DESC LIMIT 1',
        run_id,
    )
    days[day_of(last_at)] = last_equity
    values, previous = [], float(CAPITAL)
    for day in sorted(days):
        values.append(float(days[day]) / previous - 1)
        previous = float(days[day])
    assert [d["day"] for d in perf["daily"]] == [d.isoformat() for d in sorted(days)]
    mean, deviation = statistics.fmean(values), statistics.stdev(values)
    assert float(perf["sharpe"]) == pytest.approx(mean / deviation * math.sqrt(365), rel=1e-9)
    downside = math.sqrt(sum(min(v, 0) ** 2 for v in values) / len(values))
    if downside:
        assert float(perf["sortino"]) == pytest.approx(mean / downside * math.sqrt(365), rel=1e-9)
    else:  # no losing day: no downside to divide by
        assert perf["sortino"] is None
    assert "daily returns" in perf["basis"]
    assert "√365" in perf["basis"]
    n, sr = len(values), mean / deviation
    assert n == 3
    m2 = sum((v - mean) ** 2 for v in values) / n
    skew = sum((v - mean) ** 3 for v in values) / n / m2**1.5
    kurt = sum((v - mean) ** 4 for v in values) / n / m2**2
    z = sr * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert float(perf["psr"]) == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))), abs=1e-6)
    assert perf["annualised_return"] is None
    assert "needs 30 days" in perf["annualised_note"]
    assert perf["calmar"] is None

    peak, worst = CAPITAL, Decimal(0)
    for _, equity, *_ in snapshots:
        peak = max(peak, equity)
        worst = max(worst, (peak - equity) / peak)
    assert float(perf["max_drawdown"]) == pytest.approx(float(worst), rel=1e-9)

    trips: list[tuple[str, Decimal, Decimal]] = []
    legs: dict[str, dict[str, Decimal]] = {}
    for _, symbol, side, quantity, price, fee, *_ in fills:
        leg = legs.setdefault(symbol, {"qty": Decimal(0), "cash": Decimal(0), "fees": Decimal(0)})
        sign = 1 if side == "buy" else -1
        leg["qty"] += sign * quantity
        leg["cash"] += -sign * quantity * price - fee
        leg["fees"] += fee
        if leg["qty"] == 0:
            trips.append((symbol, leg["cash"], leg["fees"]))
            del legs[symbol]
    assert trades["round_trips"] == len(trips)
    assert trades["wins"] == sum(1 for t in trips if t[1] > 0)
    assert trades["losses"] == sum(1 for t in trips if t[1] < 0)
    assert trades["break_even"] == sum(1 for t in trips if t[1] == 0)
    assert Decimal(trades["net_pnl"]) == sum(t[1] for t in trips)
    assert Decimal(trades["fees"]) == sum(f[5] for f in fills)
    assert Decimal(trades["round_trip_fees"]) == sum(t[2] for t in trips)
    assert len(trades["trips"]) == len(trips)

    open_pnl = Decimal(0)
    for p in final_positions or ():
        leg = legs[p["symbol"]]
        open_pnl += Decimal(str(p["quantity"])) * Decimal(str(p["market_price"])) + leg["cash"]
    reconciliation = trades["reconciliation"]
    assert reconciliation["reconciled"] is True
    assert Decimal(reconciliation["open_pnl"]) == open_pnl
    assert abs(sum(t[1] for t in trips) + open_pnl - (final_equity - CAPITAL)) < Decimal("1e-12")

    delay = slippage = Decimal(0)
    for _, _, side, quantity, price, _, reference, _, _, decision in fills:
        sign = 1 if side == "buy" else -1
        delay += sign * quantity * (reference - decision)
        slippage += sign * quantity * (price - reference)
    assert costs["measured"] == len({f[7] for f in fills})
    assert costs["without_decision_price"] == 0
    assert Decimal(costs["totals"]["delay"]) == delay
    assert Decimal(costs["totals"]["slippage"]) == slippage
    assert Decimal(costs["totals"]["fees"]) == sum(f[5] for f in fills)
    assert delay != 0  # the opens jump: deciding at a close and filling at the next open costs

    opening = {
        s: min((c for c in candles if c.symbol == s), key=lambda c: c.open_time) for s in SYMBOLS
    }
    closed = {
        s: max((c for c in candles if c.symbol == s), key=lambda c: c.close_time) for s in SYMBOLS
    }
    held_value = sum(CAPITAL / 2 / opening[s].open * closed[s].close for s in SYMBOLS)
    assert float(report["benchmark"]["return"]) == pytest.approx(
        float(held_value / CAPITAL - 1), rel=1e-12
    )


def test_eight_day_replay_with_enough_round_trips_gets_go_or_no_go_from_the_criteria(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    market = tmp_path / "recorded.parquet"
    recorded_candles(market, days=8, seed=5)
    run_id = replay(db, runtime_home, market, "8d")
    report = report_json(runtime_home, run_id)
    criteria = {c["name"]: c for c in report["verdict"]["criteria"]}
    assert criteria["round trips"]["passed"] is True  # 30 or more
    assert criteria["days of data"]["passed"] is True  # 7 days or more
    failed = [c["name"] for c in criteria.values() if not c["passed"]]
    expected = 1 if failed else 0
    checked = claire("papertest", "report", run_id, "--check", "--json", expect=expected)
    assert json.loads(checked.stdout)["verdict"] == ("NO-GO" if failed else "GO")
    assert report["performance"]["psr"] is not None
    assert report["trades"]["reconciliation"]["reconciled"] is True


def test_report_check_of_a_run_that_does_not_exist_exits_3() -> None:
    result = claire("papertest", "report", "pt-nope", "--check", expect=3)
    assert "pt-nope" in result.output
