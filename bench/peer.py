"""Replay against a peer: claire's engine and nautilus_trader on the same candle file.

One file of synthetic 1-minute candles (claire's own synthetic market, realistic mode) is
written once in the layout claire's `replay:PATH` source reads. Each side runs in a process
of its own (`python -m bench.peer claire|nautilus ...`), from reading the file to the last
fill: claire through its in-memory pipeline with persistence into PostgreSQL, nautilus as a
backtest of the same momentum rules (bench/momentum_rules.py) on Bars. Each child reports
bars, seconds, its peak RSS and its fills; the orders are compared by (symbol, bar of the
first fill, side), and by quantity.

Both sides fill market orders whole at the signal bar's close with the taker fee and no
slippage (claire: `latency_ms=0`, slippage 0, a partial fill only past the last 5 minutes'
volume; nautilus: BestPriceFillModel), and claire's drawdown abort and daily latch are off
(see `comparison_settings`), so the rules, not two fill models or a halt, decide the trades.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.memory import RssSamples, peak_rss_mb

if TYPE_CHECKING:
    from bench.servers import Servers
    from engine.settings import Settings

START = datetime(2025, 1, 6, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
YEAR_MINUTES = 365 * 24 * 60
DATA_DIR = Path(tempfile.gettempdir()) / "claire-bench-data"
QUANTITY_TOLERANCE = Decimal("0.0001")


@dataclass(frozen=True)
class SideResult:
    """What one side of the comparison measured."""

    bars: int
    seconds: float
    peak_rss_mb: float
    #: (symbol, event time in ns of its first fill, side) of each filled order, in time order.
    fills: list[tuple[str, int, str]]
    #: The base quantity filled of each of those orders.
    quantities: dict[tuple[str, int, str], Decimal]
    extra: dict[str, Any]

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.seconds


@dataclass(frozen=True)
class Comparison:
    """Both sides, and how far their fills agree."""

    claire: SideResult
    nautilus: SideResult
    #: Orders both sides made: same symbol, bar and side.
    matched: int
    #: Of those, the ones of the same quantity (within QUANTITY_TOLERANCE).
    same_quantity: int

    @property
    def speed_ratio(self) -> float:
        return self.claire.bars_per_second / self.nautilus.bars_per_second

    @property
    def memory_ratio(self) -> float:
        return self.claire.peak_rss_mb / self.nautilus.peak_rss_mb


def candle_file(minutes: int, seed: int = 42) -> Path:
    """Write `minutes` of candles for SYMBOLS to a Parquet file once; return its path.

    The file is kept between runs, named by the size, the seed and a digest of the
    synthetic generator's source (a changed generator writes a new file).
    """
    from engine.marketdata import synthetic
    from engine.marketdata.files import Layout, write_market_file

    digest = hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:8]
    path = DATA_DIR / f"candles-{len(SYMBOLS)}x{minutes}m-seed{seed}-{digest}.parquet"
    if not path.exists():
        candles = synthetic.synthetic_candles(
            SYMBOLS,
            START,
            minutes,
            seed=seed,
            source="replay",
            volatility_regimes=True,
            jump_probability=0.002,
            gap_probability=0.0005,
        )
        write_market_file(path, candles, Layout.CANDLES)
    return path


#: What `comparison_settings` changes from the defaults, by settings section.
COMPARISON: dict[str, dict[str, Any]] = {
    "execution": {
        "latency_ms": 0,
        "slippage_base_bps": 0,
        "slippage_impact_bps": 0,
        "partial_fill_fraction": 1,
    },
    "risk": {"abort_drawdown": Decimal(1), "max_daily_drawdown": Decimal(1)},
}


def comparison_settings() -> Settings:
    """claire's defaults, with the fill model and limits both sides share.

    Fills: at the signal bar's close (`latency_ms=0`), no slippage, no partial fills.
    Limits: the drawdown abort and the daily drawdown latch are off (100 %): a year of the
    default momentum rules on this market passes the 8 % abort level, which halts a claire
    run there, and the peer has no such rule. Everything else is the default.
    """
    from engine.settings import ExecutionSettings, RiskSettings, Settings

    return Settings(
        execution=ExecutionSettings(**COMPARISON["execution"]),
        risk=RiskSettings(**COMPARISON["risk"]),
    )


#: `comparison_settings` as the environment of a `claire` command.
COMPARISON_ENV = {
    f"CLAIRE_{section}_{name}".upper(): str(value)
    for section, fields in COMPARISON.items()
    for name, value in fields.items()
}


def compare(path: Path, srv: Servers, conninfo: str) -> Comparison:
    """Run both sides on `path` in processes of their own; compare their fills.

    claire's side is what a user runs: `claire papertest start --source replay:PATH --speed
    max --foreground --no-backup`, timed from the command's start to its exit (the file
    checked, the run registered, the engine's own process, its report written)."""
    settings = comparison_settings()
    rules = {
        **settings.strategy.model_dump(mode="json"),
        **{
            k: str(v)
            for k, v in settings.risk.model_dump().items()
            if k in {"max_position", "max_exposure", "min_notional"}
        },
    }
    config = {
        "rules": rules,
        "capital": str(settings.papertest.capital),
        "taker_fee": str(settings.execution.taker_fee),
        "conninfo": conninfo,
    }
    claire = _result(product_run(path, srv, conninfo))
    nautilus = _side("nautilus", path, config)
    both = set(claire.fills) & set(nautilus.fills)
    same = sum(1 for key in both if _close(claire.quantities[key], nautilus.quantities[key]))
    return Comparison(claire, nautilus, len(both), same)


def _close(a: Decimal, b: Decimal) -> bool:
    """Within 0.01 %: nautilus fills past a bar's volume one tick worse, so its cash, and the
    equity the next order is sized from, drift by cents."""
    return abs(a - b) <= QUANTITY_TOLERANCE * max(a, b)


def _side(name: str, path: Path, config: dict[str, Any]) -> SideResult:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        subprocess.run(
            [sys.executable, "-m", "bench.peer", name, str(path), str(out), json.dumps(config)],
            check=True,
        )
        data = json.loads(out.read_text())
    return _result(data)


def _result(data: dict[str, Any]) -> SideResult:
    fills = data.pop("fills")
    data["fill_count"] = len(fills)
    orders, data["split_orders"] = _orders(fills)
    return SideResult(
        bars=data.pop("bars"),
        seconds=data.pop("seconds"),
        peak_rss_mb=data.pop("peak_rss_mb"),
        fills=sorted(orders, key=lambda key: (key[1], key[0])),
        quantities=orders,
        extra=data,
    )


def _orders(fills: list[dict[str, Any]]) -> tuple[dict[tuple[str, int, str], Decimal], int]:
    """Group fills by order: (symbol, first fill's time, side) -> quantity filled; and how
    many orders were filled over more than one bar (claire fills at most the last 5 minutes'
    volume at once; the rest on the next bars)."""
    first: dict[str, tuple[str, int, str]] = {}
    quantities: dict[tuple[str, int, str], Decimal] = {}
    bars: dict[str, set[int]] = {}
    for f in sorted(fills, key=lambda f: int(f["ts_ns"])):
        key = first.setdefault(f["order_id"], (f["symbol"], int(f["ts_ns"]), f["side"]))
        quantities[key] = quantities.get(key, Decimal(0)) + Decimal(f["quantity"])
        bars.setdefault(f["order_id"], set()).add(int(f["ts_ns"]))
    return quantities, sum(1 for seen in bars.values() if len(seen) > 1)


def product_run(path: Path, srv: Servers, conninfo: str) -> dict[str, Any]:
    """Replay `path` with `claire papertest start ... --speed max --foreground`; return
    its bars, wall seconds, the engine's peak RSS (it records it with the run) and fills."""
    import psycopg

    days = -(-_rows(path) // (len(SYMBOLS) * 1440)) + 1  # longer than the file: all of it
    from bench.cli import cli_replay

    replay = cli_replay(path, SYMBOLS, srv, conninfo, days=days, env=COMPARISON_ENV)
    with psycopg.connect(conninfo) as conn:
        bars = conn.execute(
            "SELECT COUNT(*) FROM candles WHERE source = %s", (replay["source"],)
        ).fetchone()
        fills = _fills(conn, replay["run_id"])
    return {
        "bars": int(str(bars[0])) if bars else 0,
        "seconds": replay["seconds"],
        "peak_rss_mb": replay["peak_rss_mb"],
        "fills": fills,
    }


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _fills(conn: Any, run_id: str) -> list[dict[str, str | int]]:
    rows = conn.execute(
        "SELECT order_id, symbol, timestamp, side, quantity, execution_price FROM trades"
        " WHERE run_id = %s ORDER BY timestamp, symbol",
        (run_id,),
    ).fetchall()
    return [
        {
            "order_id": order_id,
            "symbol": symbol,
            "ts_ns": _ns(at),
            "side": str(side),
            "quantity": str(quantity),
            "price": str(price),
        }
        for order_id, symbol, at, side, quantity, price in rows
    ]


# -- the child processes -------------------------------------------------------------------


def run_claire(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Replay `path` through claire's in-memory pipeline into PostgreSQL; return the fills."""
    import time

    import psycopg
    import pyarrow.parquet as pq

    from engine.bus.memory import InMemoryBus
    from engine.marketdata.files import read_market_data
    from engine.services.pipeline import build_pipeline, run_in_memory
    from engine.storage.event_writer import EventWriter

    settings = comparison_settings()
    run_id = f"peer-{uuid.uuid4().hex[:8]}"
    conninfo = config["conninfo"]
    rss = RssSamples(every=max(1, pq.ParquetFile(path).metadata.num_rows // 20))
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        bus = InMemoryBus()
        writer = EventWriter(conn, conninfo)
        pipeline = build_pipeline(
            settings, bus, run_id=run_id, symbols=SYMBOLS, writer=writer, persistence_buffer=1000
        )
        summary = run_in_memory(pipeline, bus, rss.watch(read_market_data(path)))
        elapsed = time.perf_counter() - started
        fills = _fills(conn, run_id)
    return {
        "bars": summary.market_events,
        "seconds": elapsed,
        "halted": summary.halted,
        "rss": rss.summary(),
        "fills": fills,
    }


def _ns(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def run_nautilus(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Backtest the same rules with nautilus_trader on `path`."""
    from bench import peer_nautilus
    from bench.momentum_rules import Rules

    return peer_nautilus.run(
        path,
        Rules.from_json(config["rules"]),
        Decimal(config["capital"]),
        Decimal(config["taker_fee"]),
    )


def main() -> None:
    side, path, out, config = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    runner = run_claire if side == "claire" else run_nautilus
    result = runner(path, json.loads(config))
    result["peak_rss_mb"] = peak_rss_mb()
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
