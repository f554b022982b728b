"""`claire data list` and `claire data inspect` on real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles

pytestmark = pytest.mark.cli

START = datetime(2026, 1, 5, tzinfo=UTC)


def test_data_list_when_empty_then_says_how_to_get_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAIRE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    assert "claire data fetch" in result.stdout


def test_data_list_json_then_files_of_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAIRE_MARKET_DATA_DIR", str(tmp_path / "market"))
    write_market_file(
        tmp_path / "market" / "btc.parquet",
        synthetic_candles(("BTCUSDT",), START, 10),
        Layout.CANDLES,
    )
    result = CliRunner().invoke(app, ["data", "list", "--json"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    assert entry["path"].endswith("market/btc.parquet")
    assert entry["bytes"] > 0


def test_data_inspect_then_rows_range_and_gaps(tmp_path: Path) -> None:
    candles = [c for c in synthetic_candles(("BTCUSDT",), START, 60) if c.open_time.minute != 30]
    path = tmp_path / "btc.csv"
    write_market_file(path, candles, Layout.CANDLES)

    shown = CliRunner().invoke(app, ["data", "inspect", str(path)])
    as_json = CliRunner().invoke(app, ["data", "inspect", str(path), "--json"])

    assert shown.exit_code == 0, shown.output
    assert "59 rows" in shown.stdout
    assert "gap BTCUSDT 2026-01-05 00:29 → 2026-01-05 00:31 (1 candles missing)" in shown.stdout
    summary = json.loads(as_json.stdout)
    assert summary["symbols"][0]["missing_minutes"] == 1


def test_data_inspect_broken_file_then_one_line_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("symbol,time,price,quantity,side\nBTCUSDT,1000,abc,1,buy\n")
    result = CliRunner().invoke(app, ["data", "inspect", str(path)])
    assert result.exit_code == 1
    assert "bad.csv, row 2: price" in result.stderr
