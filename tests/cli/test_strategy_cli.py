"""`claire strategy list/new/check`: the strategies a papertest can run with their parameters,
a new one with its test, and a strategy checked at full speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import claire

PLAIN = "tests.unit.test_strategy_registry:BuyEveryCandle"


def test_list_shows_momentum_configured_with_its_parameters_and_the_values_in_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_STRATEGY_LOOKBACK_MINUTES", "30")
    listed = json.loads(claire("strategy", "list", "--json").stdout)
    [momentum] = [s for s in listed if s["name"] == "momentum"]
    assert momentum["configured"] is True
    assert momentum["where"] == "engine.strategy.momentum:MomentumStrategy"
    lookback = next(p for p in momentum["params"] if p["name"] == "lookback_minutes")
    assert (lookback["default"], lookback["allowed"]) == (15, ">= 1, <= 1440")
    assert momentum["values"]["lookback_minutes"] == 30
    entry = next(p for p in momentum["params"] if p["name"] == "entry_threshold")
    assert entry["allowed"] == "> 0, <= 1"  # the tightest of the field's and its type's
    monkeypatch.setenv("CLAIRE_STRATEGY_PARAMS", "lookback_minutes=45")  # over the setting
    listed = json.loads(claire("strategy", "list", "--json").stdout)
    [momentum] = [s for s in listed if s["name"] == "momentum"]
    assert momentum["values"]["lookback_minutes"] == 45


def test_list_names_a_configured_strategy_by_dotted_path_and_what_it_declares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_PAPERTEST_STRATEGY", PLAIN)
    listed = json.loads(claire("strategy", "list", "--json").stdout)
    assert [(s["name"], s["configured"]) for s in listed] == [
        ("momentum", False),
        (PLAIN, True),
    ]
    assert listed[1]["params"] == []
    shown = claire("strategy", "list").stdout
    assert "(none declared)" in shown
    assert "momentum" in shown


def test_list_when_the_configured_strategy_cannot_be_loaded_then_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_PAPERTEST_STRATEGY", "nosuch.module:Thing")
    failed = claire("strategy", "list", expect=1)
    assert "cannot import module 'nosuch.module'" in failed.output
    assert "Traceback" not in failed.output


def test_check_runs_an_example_and_prints_its_signals_and_round_trips() -> None:
    checked = json.loads(
        claire(
            "strategy", "check", "examples.strategies.ema_cross:EmaCross",
            "--param", "fast=8", "--days", "2", "--json",
        ).stdout
    )  # fmt: skip
    assert checked["ok"] is True
    # Two days of two symbols' candles after the warm-up of 26 15-minute bars (the slow EMA),
    # less the minutes the realistic synthetic market leaves out as gaps.
    assert 2 * 2 * 1440 * 0.98 < checked["market_events"] <= 2 * (2 * 1440 + 26 * 15)
    assert {s["side"] for s in checked["signals"]} == {"buy", "sell"}
    assert checked["fills"] >= len(checked["round_trips"]) * 2 > 0
    shown = claire("strategy", "check", "momentum").stdout
    assert "round trip" in shown
    assert shown.rstrip().endswith("ok")


def test_check_of_a_strategy_that_raises_names_its_line_and_exits_1() -> None:
    failed = claire(
        "strategy", "check", "tests.unit.test_strategy_errors:RaisesAfterAnHour", expect=1
    )
    assert "raised KeyError: 'BTCUSDT' at " in failed.output
    assert "test_strategy_errors.py:" in failed.output
    assert "halted after 10 exceptions in a row" in failed.output


def test_check_with_a_wrong_parameter_or_source_is_one_line() -> None:
    wrong = claire("strategy", "check", "momentum", "--param", "lookback=3", expect=1)
    assert "strategy momentum has no parameter 'lookback'" in wrong.output
    assert "Traceback" not in wrong.output
    bad = claire("strategy", "check", "momentum", "--source", "mexc", expect=2)
    assert "is not synthetic or replay:FILE" in bad.output


def test_check_with_a_wrong_strategy_params_variable_is_one_line_and_param_wins_over_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_STRATEGY_PARAMS", "lookback_minutes=0")
    wrong = claire("strategy", "check", "momentum", "--days", "1", expect=1)
    assert (
        "strategy momentum parameter lookback_minutes=0: Input should be greater than or equal"
        " to 1 (allowed: >= 1, <= 1440)" in wrong.output
    )
    assert "Traceback" not in wrong.output
    assert len([line for line in wrong.output.splitlines() if "lookback_minutes=0" in line]) == 1
    fixed = claire(
        "strategy", "check", "momentum", "--days", "1", "--param", "lookback_minutes=30", "--json"
    )
    assert json.loads(fixed.stdout)["ok"] is True


def test_new_writes_a_strategy_whose_test_passes_and_that_check_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrote = claire("strategy", "new", "my_breakout", "--out", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_breakout.py", "test_my_breakout.py"]
    assert "claire strategy check my_breakout:MyBreakout" in wrote.stdout
    generated = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_breakout.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "2 passed" in generated.stdout

    monkeypatch.chdir(tmp_path)  # a dotted path names a module of the working directory
    checked = json.loads(claire("strategy", "check", "my_breakout:MyBreakout", "--json").stdout)
    assert checked["ok"] is True
    assert checked["signals"]
    again = claire("strategy", "new", "my_breakout", "--out", str(tmp_path), expect=1)
    assert "exists already" in again.output


def test_new_refuses_a_name_that_is_no_module_name() -> None:
    refused = claire("strategy", "new", "My-Strat", expect=1)
    assert "must be a lower-case Python module name" in refused.output


def test_check_of_a_bar_strategy_on_a_tick_recording_builds_its_bars_from_the_trades(
    tmp_path: Path,
) -> None:
    """A recording of trades only: the bars come from the trades, and the example trades."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from engine.events import TradeTick
    from engine.marketdata.files import Layout, write_market_file
    from engine.marketdata.synthetic import synthetic_candles

    start = datetime(2026, 3, 2, tzinfo=UTC)
    trades = [
        TradeTick(
            event_id=f"t-{c.symbol}-{c.open_time:%H%M}-{n}",
            ts_event=c.open_time + timedelta(seconds=2 * n + 1),
            source="replay",
            symbol=c.symbol,
            price=(c.open, c.high, c.low, c.close)[min(n // 8, 3)],
            quantity=Decimal("0.05"),
            side="buy" if n % 2 else "sell",
        )
        for c in synthetic_candles(("BTCUSDT", "ETHUSDT"), start, 1440, seed=5)
        for n in range(30)  # a trade every 2 s: market orders find a price within 5 s
    ]
    trades.sort(key=lambda t: (t.ts_event, t.symbol))
    path = tmp_path / "ticks.parquet"
    write_market_file(path, trades, Layout.TRADES)

    checked = json.loads(
        claire(
            "strategy", "check", "examples.strategies.ema_cross:EmaCross",
            "--source", f"replay:{path}", "--param", "interval=5m", "--param", "fast=3",
            "--param", "slow=8", "--json",
        ).stdout
    )  # fmt: skip

    assert checked["ok"] is True
    assert checked["market_events"] == len(trades)
    assert {s["side"] for s in checked["signals"]} == {"buy", "sell"}
    # Each at the first trade after a 5-minute bar ends (second 1 of the next minute).
    times = [datetime.fromisoformat(s["ts_event"]) for s in checked["signals"]]
    assert all(t.minute % 5 == 0 and t.second == 1 for t in times)
    assert checked["round_trips"]
