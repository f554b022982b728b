"""`claire papertest start --source replay:FILE`: the files are checked before anything is
registered or backed up, and `--symbols` chooses what the replay plays.

Before, a bad file was found only after the run was registered and a backup taken (a
truncated file stopped at `row 255: list index out of range`, a header-only file
"completed" with no data), and `--symbols` was ignored for a replay: `--symbols SOLUSDT` on a
BTC/ETH file traded BTC and ETH and recorded SOLUSDT; `--symbols ""` used the defaults;
`BTCUSDT,BTCUSDT` fed BTC twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from tests.support import claire

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]
START = datetime(2026, 2, 2, tzinfo=UTC)
ETH_HOLE = (START + timedelta(minutes=40), START + timedelta(minutes=43))  # 3 minutes
BTC_HOLE = (START + timedelta(minutes=20), START + timedelta(minutes=30))  # 10 minutes


def btc_eth(path: Path, minutes: int = 150, *, holes: bool = False) -> Path:
    """A BTC/ETH candle recording; `holes`: 3 ETH minutes and 10 BTC minutes missing."""
    candles = synthetic_candles(("BTCUSDT", "ETHUSDT"), START, minutes, seed=7)
    if holes:
        candles = (
            c
            for c in candles
            if not (c.symbol == "ETHUSDT" and ETH_HOLE[0] <= c.open_time < ETH_HOLE[1])
            and not (c.symbol == "BTCUSDT" and BTC_HOLE[0] <= c.open_time < BTC_HOLE[1])
        )
    write_market_file(path, candles, Layout.CANDLES)
    return path


def truncated(tmp_path: Path) -> tuple[Path, str]:
    """A recording cut off in its last row, after that row's third field."""
    path = btc_eth(tmp_path / "truncated.csv", 130)
    lines = path.read_text().splitlines()
    lines[-1] = ",".join(lines[-1].split(",")[:3])
    path.write_text("\n".join(lines))
    return path, f"{path} line {len(lines)}: the row is cut short: 3 of the header's 9 fields"


def header_only(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "empty.csv"
    write_market_file(path, [], Layout.CANDLES)
    return path, f"{path} line 1: only a header, no data rows (nothing to replay)"


def nan_close(tmp_path: Path) -> tuple[Path, str]:
    path = btc_eth(tmp_path / "nan.csv", 20)
    lines = path.read_text().splitlines()
    cells = lines[7].split(",")
    cells[5] = "NaN"
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path, f"{path} line 8: close is NaN"


def start(path: Path, *args: str, duration: str = "1h") -> Any:
    """`claire papertest start` on the recording (with a backup unless told otherwise)."""
    return claire(
        "papertest", "start", "--duration", duration, "--source", f"replay:{path}",
        "--speed", "max", *args, expect=None,
    )  # fmt: skip


def refused(result: Any) -> str:
    """The one error line of a refused start (no traceback); return it."""
    text = str(result.output)
    assert result.exit_code != 0, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    return errors[0]


def nothing_registered_nor_backed_up(db: Db, tmp_path: Path) -> None:
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
    assert json.loads(claire("papertest", "list", "--json").stdout) == []
    assert json.loads(claire("backup", "list", "--json").stdout) == []
    backups = tmp_path / "backups"
    assert not backups.exists() or not any(backups.iterdir())


@pytest.mark.parametrize(
    "bad", [truncated, header_only, nan_close], ids=["truncated", "header-only", "NaN"]
)
def test_bad_replay_file_then_one_line_with_file_and_line_and_nothing_registered(
    tmp_path: Path, db: Db, bad: Callable[[Path], tuple[Path, str]]
) -> None:
    path, problem = bad(tmp_path)

    line = refused(start(path))

    assert line == f"error: cannot start the papertest: market data: {problem}"
    nothing_registered_nor_backed_up(db, tmp_path)


def test_symbol_not_in_the_replay_then_refused_naming_what_it_holds(tmp_path: Path, db: Db) -> None:
    path = btc_eth(tmp_path / "market.csv", 30)

    line = refused(start(path, "--symbols", "SOLUSDT"))

    assert f"SOLUSDT is not in {path} (it holds BTCUSDT, ETHUSDT)" in line
    nothing_registered_nor_backed_up(db, tmp_path)


@pytest.mark.parametrize(
    ("symbols", "problem"),
    [
        ("", "symbols '' names no symbol: give one at least, like BTCUSDT"),
        (",", "symbols ',' names no symbol: give one at least, like BTCUSDT"),
        ("BTCUSDT,BTCUSDT", "BTCUSDT is named more than once: name each symbol once"),
        ("ethusdt,ETHUSDT", "ETHUSDT is named more than once: name each symbol once"),
    ],
)
def test_empty_or_repeated_symbols_then_refused(
    tmp_path: Path, db: Db, symbols: str, problem: str
) -> None:
    path = btc_eth(tmp_path / "market.csv", 30)

    line = refused(start(path, "--symbols", symbols))

    assert problem in line
    nothing_registered_nor_backed_up(db, tmp_path)


def test_symbols_of_a_replay_then_only_they_are_played_traded_and_recorded(
    tmp_path: Path, db: Db
) -> None:
    path = btc_eth(tmp_path / "market.csv", holes=True)

    result = start(path, "--symbols", "ETHUSDT", "--foreground", "--no-backup", duration="2h")

    assert result.exit_code == 0, result.output
    # ETH's hole is a warning with its count; BTC's is not played, so not warned about
    assert (
        f"warning: market data: {path}: 3 candle minute(s) missing in 1 gap(s) (ETHUSDT 3 in 1)"
    ) in result.output
    ((run_id, symbols, status, source),) = db.execute(
        "SELECT run_id, parameters->'symbols', status, data_source FROM runs"
    ).fetchall()
    assert (symbols, status) == (["ETHUSDT"], "completed")

    def played(query: str) -> set[object]:
        return {symbol for (symbol,) in db.execute(query, (run_id,)).fetchall()}

    candles = db.execute(
        "SELECT DISTINCT symbol FROM candles WHERE source = %s", (source,)
    ).fetchall()
    assert candles == [("ETHUSDT",)]
    assert played("SELECT DISTINCT symbol FROM trades WHERE run_id = %s") == {"ETHUSDT"}
    assert played("SELECT DISTINCT symbol FROM orders WHERE run_id = %s") == {"ETHUSDT"}
    assert played(
        "SELECT DISTINCT p->>'symbol' FROM portfolio_snapshots,"
        " jsonb_array_elements(positions) AS p WHERE run_id = %s"
    ) == {"ETHUSDT"}


def test_no_symbols_for_a_replay_then_the_files_symbols_are_the_runs(
    tmp_path: Path, db: Db
) -> None:
    path = btc_eth(tmp_path / "market.csv", 30)

    result = start(path, "--no-backup", "--foreground", duration="20m")

    assert result.exit_code == 0, result.output
    ((symbols,),) = db.execute("SELECT parameters->'symbols' FROM runs").fetchall()
    assert symbols == ["BTCUSDT", "ETHUSDT"]
