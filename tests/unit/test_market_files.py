"""Recorded market data files: both layouts, CSV and Parquet, streaming, errors, gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.events import Candle, QuoteTick, TradeTick
from engine.marketdata.files import (
    Layout,
    MarketFileError,
    MarketRecorder,
    inspect_market_data,
    read_market_data,
    replay_order,
    write_market_file,
)
from engine.marketdata.synthetic import synthetic_candles
from tests.factories import trade_tick

START = datetime(2026, 1, 5, tzinfo=UTC)


def candles(minutes: int = 30) -> list[Candle]:
    return list(synthetic_candles(("BTCUSDT", "ETHUSDT"), START, minutes, seed=3))


def same_market(a: Candle | TradeTick, b: Candle | TradeTick) -> bool:
    skip = {"event_id", "source", "ts_init", "run_id"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_candles_written_then_read_back_exactly(tmp_path: Path, suffix: str) -> None:
    original = candles()
    path = tmp_path / f"candles{suffix}"
    assert write_market_file(path, original, Layout.CANDLES) == 60

    back = list(read_market_data(path))

    assert len(back) == len(original)
    assert all(same_market(a, b) for a, b in zip(original, back, strict=True))
    assert all(isinstance(c.close, Decimal) for c in back)
    assert back[0].source == "replay"
    assert back[0].event_id == "candle-replay-BTCUSDT-20260105T0000"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_trades_written_then_read_back_exactly(tmp_path: Path, suffix: str) -> None:
    ticks = [trade_tick(i, price=f"95000.{i:02d}", quantity="0.00000001") for i in range(25)]
    path = tmp_path / f"trades{suffix}"
    write_market_file(path, ticks, Layout.TRADES)

    back = list(read_market_data(path))

    assert [t.price for t in back] == [t.price for t in ticks]
    assert back[3].quantity == Decimal("0.00000001")
    assert [t.side for t in back] == [t.side for t in ticks]


def test_directory_then_candles_and_trades_merged_in_time_order(tmp_path: Path) -> None:
    write_market_file(tmp_path / "candles.csv", candles(3), Layout.CANDLES)
    ticks = [trade_tick(i * 300) for i in range(6)]  # every 30 s from START
    write_market_file(tmp_path / "trades.parquet", ticks, Layout.TRADES)

    events = list(read_market_data(tmp_path))

    assert len(events) == 12
    times = [e.ts_event for e in events]
    assert times == sorted(times)


def test_mexc_close_time_one_ms_short_then_normalised(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    open_ms = int(START.timestamp() * 1000)
    path.write_text(
        "symbol,open_time,open,high,low,close,volume,close_time,quote_volume\n"
        f"BTCUSDT,{open_ms},1,2,0.5,1.5,10,{open_ms + 59_999},15\n"
    )
    [candle] = list(read_market_data(path))
    assert candle.close_time == START + timedelta(minutes=1)


def test_unknown_header_then_error_naming_both_layouts(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ts,price\n1,2\n")
    with pytest.raises(MarketFileError, match="neither the candle layout"):
        list(read_market_data(path))


def test_bad_row_then_error_names_file_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("symbol,time,price,quantity,side\nBTCUSDT,1,100,1,buy\nBTCUSDT,2,-5,1,buy\n")
    with pytest.raises(MarketFileError, match=r"t.csv, row 3: price"):
        list(read_market_data(path))


def test_rows_out_of_time_order_then_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "symbol,time,price,quantity,side\nBTCUSDT,2000,100,1,buy\nBTCUSDT,1000,1,1,buy\n"
    )
    with pytest.raises(MarketFileError, match=r"row 3: time .* is before the previous"):
        list(read_market_data(path))


def test_missing_path_and_garbage_parquet_then_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MarketFileError, match="no such file"):
        list(read_market_data(tmp_path / "nope.csv"))
    garbage = tmp_path / "g.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(MarketFileError, match="not a readable Parquet file"):
        list(read_market_data(garbage))


def test_csv_not_utf8_then_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"symbol,time,price,quantity,side\nBTCUSDT,1,100,1,buy\nBTC\xff,2,1,1,buy\n")

    with pytest.raises(MarketFileError, match=r"t.csv, line 3: not UTF-8 text"):
        list(read_market_data(path))
    with pytest.raises(MarketFileError, match=r"t.csv, line 3: not UTF-8 text"):
        inspect_market_data(path)


def test_csv_field_over_the_csv_limit_then_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"symbol,time,price,quantity,side\nBTCUSDT,1,{'1' * 131_073},1,buy\n")

    with pytest.raises(MarketFileError, match=r"t.csv, line 2: field larger than field limit"):
        list(read_market_data(path))


def test_parquet_with_a_damaged_page_then_error_names_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "candles.parquet"
    write_market_file(path, candles(), Layout.CANDLES)
    damaged = bytearray(path.read_bytes())
    damaged[4:7] = bytes(b ^ 0xFF for b in damaged[4:7])  # the first page's header
    path.write_bytes(bytes(damaged))

    with pytest.raises(MarketFileError, match=r"candles.parquet, row 2: damaged, cannot be read"):
        list(read_market_data(path))


def test_inspect_then_rows_range_and_candle_gaps_per_symbol(tmp_path: Path) -> None:
    series = [c for c in candles(20) if not (5 <= (c.open_time - START).seconds // 60 < 8)]
    path = tmp_path / "c.parquet"
    write_market_file(path, series, Layout.CANDLES)

    summary = inspect_market_data(path)

    assert summary.rows == 34
    btc = summary.symbols["BTCUSDT"]
    assert btc.first == START
    assert btc.last == START + timedelta(minutes=19)
    assert btc.gaps == [(START + timedelta(minutes=4), START + timedelta(minutes=8), 3)]
    assert summary.to_dict()["symbols"][0]["missing_minutes"] == 3


def test_recorder_appends_across_restarts_and_replay_reads_it(tmp_path: Path) -> None:
    first, second = candles(10), candles(20)[20:]
    recorder = MarketRecorder(tmp_path)
    recorder.record([*first, "not market data"])
    recorder.close()
    again = MarketRecorder(tmp_path)  # a restarted engine keeps appending, one header
    again.record(second)
    again.close()

    back = list(read_market_data(tmp_path))

    assert len(back) == 40
    assert (tmp_path / "candles_BTCUSDT.csv").read_text().count("symbol,open_time") == 1


def test_a_resumed_engine_playing_the_market_after_its_cut_again_records_it_once(
    tmp_path: Path,
) -> None:
    """A crash after minute 9; the resumed engine plays the market before its last
    snapshot (minute 5) again as history, then from it on as live: the recording holds every
    minute once, in order, and no warm-up."""
    market = candles(20)  # 20 minutes of two symbols
    recorder = MarketRecorder(tmp_path)
    recorder.record(market[:20])
    recorder.close()
    again = MarketRecorder(tmp_path)
    again.record([c.model_copy(update={"source": f"{c.source}.history"}) for c in market[:10]])
    again.record(market[10:])
    again.close()

    back = list(read_market_data(tmp_path))

    assert again.skipped == 10 + 10
    assert [(c.symbol, c.open_time) for c in back] == [(c.symbol, c.open_time) for c in market]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "candles_BTCUSDT.csv",
        "candles_ETHUSDT.csv",
    ]


def test_recorder_quotes_and_warmup_then_replayed_as_such(tmp_path: Path) -> None:
    history = [c.model_copy(update={"source": "mexc.history"}) for c in candles(5)]
    live = candles(10)[10:]
    quote = QuoteTick(
        event_id="q1",
        ts_event=START + timedelta(minutes=6, seconds=30),
        ts_init=START,
        source="mexc",
        symbol="BTCUSDT",
        bid_price=Decimal("95000.1"),
        bid_quantity=Decimal("0.5"),
        ask_price=Decimal("95000.2"),
        ask_quantity=Decimal("0.25"),
    )
    recorder = MarketRecorder(tmp_path)
    recorder.record([*history, *live, quote])
    recorder.close()

    back = list(read_market_data(tmp_path))

    assert sorted(p.name for p in tmp_path.iterdir())[:2] == [
        "candles_BTCUSDT.csv",
        "candles_ETHUSDT.csv",
    ]
    assert [e.source.endswith(".history") for e in back[:10]] == [True] * 10
    assert not any(e.source.endswith(".history") for e in back[10:])
    [replayed_quote] = [e for e in back if isinstance(e, QuoteTick)]
    assert replayed_quote.ask_price == Decimal("95000.2")
    assert [replay_order(e) for e in back] == sorted(replay_order(e) for e in back)


def _parquet_candles(path: Path, rows: list[list[str | int]]) -> None:
    """A Parquet candle file as claire writes it: symbol and amounts as text, times as
    integers (the layout the column-wise reader takes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["symbol", "open_time", "open", "high", "low", "close", "volume", "close_time"]
    names.append("quote_volume")
    columns = list(zip(*rows, strict=True))
    pq.write_table(pa.table({n: list(c) for n, c in zip(names, columns, strict=True)}), path)


def _csv_candles(path: Path, rows: list[list[str | int]]) -> None:
    header = "symbol,open_time,open,high,low,close,volume,close_time,quote_volume\n"
    path.write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))


def test_parquet_read_by_columns_then_same_events_as_the_same_rows_read_one_by_one(
    tmp_path: Path,
) -> None:
    ms = int(START.timestamp() * 1000)
    rows: list[list[str | int]] = [
        ["BTCUSDT", ms, "1", "2", "0.5", "1.5", "10", ms + 60_000, "15"],
        [" ethusdt ", ms, "3", "3", "3", "3", "0", ms + 59_999, "0"],  # MEXC close, lower case
        ["BTCUSDT", ms + 60_000, "1.5", "1.5E0", "1.5", "1.5", "1", ms + 120_000, "1.5"],
    ]
    _parquet_candles(tmp_path / "c.parquet", rows)
    _csv_candles(tmp_path / "c.csv", rows)

    by_columns = [e.model_dump() for e in read_market_data(tmp_path / "c.parquet")]
    by_rows = [e.model_dump() for e in read_market_data(tmp_path / "c.csv")]
    only_eth = list(read_market_data(tmp_path / "c.parquet", symbols=["ETHUSDT"]))

    assert by_columns == by_rows
    assert [c.symbol for c in only_eth] == ["ETHUSDT"]
    assert only_eth[0].close_time == START + timedelta(minutes=1)


def test_parquet_read_by_columns_with_a_bad_row_then_refused_as_the_row_reader_words_it(
    tmp_path: Path,
) -> None:
    ms = int(START.timestamp() * 1000)
    rows: list[list[str | int]] = [
        ["BTCUSDT", ms, "1", "2", "0.5", "1.5", "10", ms + 60_000, "15"],
        ["BTCUSDT", ms + 60_000, "1", "0.9", "0.5", "1", "1", ms + 120_000, "1"],  # high < open
    ]
    _parquet_candles(tmp_path / "c.parquet", rows)
    _csv_candles(tmp_path / "c.csv", rows)

    with pytest.raises(MarketFileError) as by_columns:
        list(read_market_data(tmp_path / "c.parquet"))
    with pytest.raises(MarketFileError) as by_rows:
        list(read_market_data(tmp_path / "c.csv"))

    assert "row 3:" in str(by_columns.value)
    assert str(by_columns.value).split("row 3:")[1] == str(by_rows.value).split("row 3:")[1]


def _trade_files(directory: Path, rows: list[list[str | int | None]]) -> tuple[Path, Path]:
    """The same trade rows as a Parquet file as claire writes it (symbol, amounts and side
    as text, time as an integer: the layout the column-wise reader takes) and as a CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows, strict=True))
    types = [pa.string(), pa.int64(), pa.string(), pa.string(), pa.string()]
    parquet, csv = directory / "t.parquet", directory / "t.csv"
    table = {n: pa.array(list(c), type=k) for n, c, k in zip(TRADES, columns, types, strict=True)}
    pq.write_table(pa.table(table), parquet)
    lines = [",".join("" if v is None else str(v) for v in row) for row in rows]
    csv.write_text(",".join(TRADES) + "\n" + "".join(f"{line}\n" for line in lines))
    return parquet, csv


TRADES = ("symbol", "time", "price", "quantity", "side")


def test_parquet_trades_read_by_columns_then_same_events_as_the_same_rows_read_one_by_one(
    tmp_path: Path,
) -> None:
    ms = int(START.timestamp() * 1000)
    rows: list[list[str | int | None]] = [
        ["BTCUSDT", ms, "95000.5", "0.01", "buy"],
        [" ethusdt ", ms, "3000", "1E-18", " SELL "],  # trimmed, folded, smallest amount
        ["BTCUSDT", ms + 1, "95000.50", "2.5", "sell"],
        ["ETHUSDT", ms + 1_001, "3000.1", "0.5", "buy"],
    ]
    parquet, csv = _trade_files(tmp_path, rows)

    by_columns = [e.model_dump() for e in read_market_data(parquet)]
    by_rows = [e.model_dump() for e in read_market_data(csv)]
    only_eth = list(read_market_data(parquet, symbols=["ETHUSDT"]))

    assert by_columns == by_rows
    assert len(by_columns) == 4
    assert by_columns[1]["event_id"] == f"trade-replay-ETHUSDT-{ms}-3"
    assert [t.symbol for t in only_eth] == ["ETHUSDT", "ETHUSDT"]


@pytest.mark.parametrize(
    "bad",
    [
        ["BTCUSDT", 0, "0", "1", "buy"],  # price zero
        ["BTCUSDT", 0, "1", "1e-19", "buy"],  # below the smallest storable amount
        ["BTCUSDT", 0, "1", "NaN", "buy"],
        ["BTCUSDT", 0, "1", "1", "hold"],  # no such side
        ["BTC USDT", 0, "1", "1", "buy"],  # not a symbol
        ["BTCUSDT", 0, "", "1", "buy"],  # missing price
    ],
)
def test_parquet_trades_read_by_columns_with_a_bad_row_then_refused_as_the_row_reader_words_it(
    tmp_path: Path, bad: list[str | int | None]
) -> None:
    ms = int(START.timestamp() * 1000)
    rows: list[list[str | int | None]] = [["BTCUSDT", ms, "1", "1", "buy"]]
    rows.append([bad[0], ms + 1_000, *bad[2:]])
    parquet, csv = _trade_files(tmp_path, rows)

    with pytest.raises(MarketFileError) as by_columns:
        list(read_market_data(parquet))
    with pytest.raises(MarketFileError) as by_rows:
        list(read_market_data(csv))

    assert "row 3:" in str(by_columns.value)
    assert str(by_columns.value).split("row 3:")[1] == str(by_rows.value).split("row 3:")[1]


def test_parquet_trade_with_a_null_price_then_refused_naming_its_row(tmp_path: Path) -> None:
    ms = int(START.timestamp() * 1000)
    parquet, _ = _trade_files(tmp_path, [["BTCUSDT", ms, None, "1", "buy"]])

    with pytest.raises(MarketFileError, match=r"t.parquet, row 2: price: not a decimal number"):
        list(read_market_data(parquet))


def test_parquet_trades_plainly_good_then_none_converted_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.marketdata import files

    def row_by_row(*args: object) -> TradeTick:
        raise AssertionError("a plainly good row went through the row-wise conversion")

    ms = int(START.timestamp() * 1000)
    parquet, _ = _trade_files(tmp_path, [["BTCUSDT", ms + i, "1.5", "2", "buy"] for i in range(5)])
    monkeypatch.setattr(files, "_trade", row_by_row)

    assert len(list(read_market_data(parquet))) == 5
