"""Several papertests at once, as a user runs them: a matrix started as one group on one
market, each run with its own engine and report, the group followed, stopped and compared
side by side, and the cap on how many run at once."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.reports.returns import percentile_ranks, seed_of, shown
from tests.browser import seen_in_chromium
from tests.support import claire, eventually

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]

MATRIX = """
[[run]]
strategy = "momentum"
name = "momentum"

[[run]]
strategy = "momentum"
name = "momentum-30"
params = { lookback_minutes = 30 }

[[run]]
strategy = "examples.strategies.ema_cross:EmaCross"
name = "ema"

[[run]]
strategy = "examples.strategies.rsi_reversion:RsiReversion"
name = "rsi"

[[run]]
strategy = "examples.strategies.bollinger_breakout:BollingerBreakout"
name = "bollinger"
"""


def status_of(*args: str) -> Any:
    return json.loads(claire("papertest", "status", *args, "--json").stdout)


def test_a_matrix_of_five_runs_on_one_market_each_reported_and_compared_side_by_side(
    tmp_path: Path, db: Db, runtime_home: Path
) -> None:
    matrix = tmp_path / "runs.toml"
    matrix.write_text(MATRIX)
    started = json.loads(
        claire(
            "papertest", "start", "--source", "synthetic", "--speed", "max", "--duration", "3d",
            "--matrix", str(matrix), "--no-backup", "--json",
        ).stdout
    )  # fmt: skip
    group = started["group_id"]
    runs = [r["run_id"] for r in started["runs"]]
    assert [r["name"] for r in started["runs"]] == [
        "momentum", "momentum-30", "ema", "rsi", "bollinger"
    ]  # fmt: skip
    assert len(set(r["engine"] for r in started["runs"])) == 5  # an engine each

    # One market for all: the same source, the longest warm-up of the group for each.
    rows = db.execute(
        "SELECT data_source, parameters->>'warmup_minutes', group_index FROM runs"
        " WHERE group_id = %s ORDER BY group_index",
        (group,),
    ).fetchall()
    assert len({(source, warmup) for source, warmup, _ in rows}) == 1
    assert [index for _, _, index in rows] == [1, 2, 3, 4, 5]

    every = eventually(
        lambda: (s := status_of("--group", group)) and all(r["status"] != "running" for r in s)
        and s,
        timeout=180,
        what="every run of the group to end",
    )  # fmt: skip
    assert [r["run_id"] for r in every] == runs
    assert {r["status"] for r in every} == {"completed"}
    reports = {}
    for run_id in runs:
        written = runtime_home / "reports" / run_id / "report.json"
        eventually(written.exists, timeout=60, what=f"the report of {run_id}")
        reports[run_id] = json.loads(written.read_text())
    listed = json.loads(claire("papertest", "list", "--group", group[:12], "--json").stdout)
    assert sorted(r["run_id"] for r in listed) == sorted(runs)
    assert {r["group_id"] for r in listed} == {group}

    out = tmp_path / "compared"
    compared = json.loads(
        claire("papertest", "compare", "--group", group, "--out", str(out), "--json").stdout
    )
    assert [r["run_id"] for r in compared["runs"]] == runs
    assert compared["warnings"] == []  # like for like: one market, period and capital
    assert [(p["a"], p["b"]) for p in compared["pairs"]] == [(runs[0], b) for b in runs[1:]]
    base = reports[runs[0]]
    for pair in compared["pairs"]:
        other = reports[pair["b"]]
        figures = {d["figure"]: d for d in pair["differences"]}
        total = figures["total return"]
        # Each figure is the run's own report's, the difference B - A to the last digit.
        assert Decimal(total["a"]) == Decimal(base["performance"]["total_return"])
        assert Decimal(total["b"]) == Decimal(other["performance"]["total_return"])
        assert Decimal(total["difference"]) == Decimal(total["b"]) - Decimal(total["a"])
        assert Decimal(figures["fills"]["difference"]) == (
            other["trades"]["fills"] - base["trades"]["fills"]
        )
        # The interval recomputed by hand: the same days drawn for both runs, compounded.
        days_a = {d["day"]: float(d["value"]) for d in base["performance"]["daily"]}
        days_b = {d["day"]: float(d["value"]) for d in other["performance"]["daily"]}
        common = sorted(set(days_a) & set(days_b))
        assert pair["common_days"] == len(common) >= 3
        draws = _paired_draws(
            [(days_a[d], days_b[d]) for d in common],
            compared["resamples"],
            seed_of(f"{runs[0]}|{pair['b']}", "total_return"),
        )
        low, high = percentile_ranks(len(draws))
        assert Decimal(total["low"]) == shown(draws[low - 1])
        assert Decimal(total["high"]) == shown(draws[high - 1])
        # 3 days: shorter than the verdict asks for, so nothing is called better.
        assert "better" not in total["conclusion"] or "too short" in total["conclusion"]
        matched = pair["round_trips"]
        assert matched["matched"] + matched["only_a"] == base["trades"]["round_trips"]
        assert matched["matched"] + matched["only_b"] == other["trades"]["round_trips"]

    for name in ("comparison.html", "comparison.md", "comparison.json"):
        assert (out / name).exists(), name
    seen = seen_in_chromium(out / "comparison.html")
    [chart] = seen["images"]
    assert chart["id"] == "chart-returns"
    assert chart["width"] > 300
    assert chart["height"] > 200
    assert seen["external"] == []
    assert seen["errors"] == []
    assert len(seen["tables"]) == 1 + 2 * 4  # the runs, then each pair's figures and trips
    assert seen["tables"][0] == 1 + 5  # a header and one row per run


def _paired_draws(days: list[tuple[float, float]], resamples: int, seed: int) -> list[float]:
    rng = random.Random(seed)  # the comparison's documented resampling
    draws = []
    for _ in range(resamples):
        picks = rng.choices(range(len(days)), k=len(days))
        grow_a = grow_b = 1.0
        for i in picks:
            grow_a *= 1 + days[i][0]
            grow_b *= 1 + days[i][1]
        draws.append((grow_b - 1) - (grow_a - 1))
    return sorted(draws)


def test_more_runs_than_allowed_at_once_is_one_line_and_nothing_starts(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIRE_PAPERTEST_MAX_ACTIVE", "2")
    first = json.loads(
        claire(
            "papertest", "start", "--source", "synthetic", "--speed", "realtime",
            "--duration", "1d", "--no-backup", "--json",
        ).stdout
    )["run_id"]  # fmt: skip
    refused = claire(
        "papertest", "start", "--source", "synthetic", "--speed", "realtime", "--duration", "1d",
        "--strategy", "momentum", "--strategy", "examples.strategies.ema_cross:EmaCross",
        "--no-backup", expect=1,
    )  # fmt: skip
    assert "CLAIRE_PAPERTEST_MAX_ACTIVE=2" in refused.output
    assert first in refused.output
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)

    second = json.loads(
        claire(
            "papertest", "start", "--source", "synthetic", "--speed", "realtime",
            "--duration", "1d", "--no-backup", "--json",
        ).stdout
    )["run_id"]  # fmt: skip
    both = status_of()  # two running: side by side
    assert sorted(r["run_id"] for r in both) == sorted([first, second])
    asked = claire("papertest", "stop", expect=1)
    assert "2 papertests are running" in asked.output
    assert "--all" in asked.output

    claire("papertest", "stop", "--all", "--reason", "done")
    rows = db.execute("SELECT status, end_reason FROM runs ORDER BY run_id").fetchall()
    assert rows == [("stopped", "done"), ("stopped", "done")]


def test_compare_of_fewer_than_two_runs_or_an_unknown_format_is_one_line(db: Db) -> None:
    wrong = claire("papertest", "compare", "--group", "grp-x", "--format", "html,pdf", expect=2)
    assert "unknown format pdf (choose from html, md, json)" in wrong.output
    alone = claire("papertest", "compare", "pt-nothing", expect=1)
    assert "no papertest 'pt-nothing'" in alone.output
