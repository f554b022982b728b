"""A seeded synthetic market of trade ticks: one trade per symbol per second.

claire's synthetic source (engine/marketdata/synthetic.py) makes 1-minute candles only; the
tick replay figure needs ticks, so the bench makes its own. Prices are whole ticks of 1 bp of
the starting price (no float touches a price), walking with a drift that changes every
`regime_seconds`; quantities are 0.001 to 0.5 of the base asset. Events are interleaved in
time order, generated lazily: memory does not grow with the length of the stream.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.events import TradeTick
from engine.marketdata.synthetic import START_PRICES, TICK_FRACTION

if TYPE_CHECKING:
    from bench.servers import Servers

SECOND = timedelta(seconds=1)
_QUANTITY_STEP = Decimal("0.001")


def synthetic_ticks(
    symbols: Sequence[str],
    start: datetime,
    seconds: int,
    *,
    seed: int = 42,
    regime_seconds: int = 600,
    source: str = "synthetic-ticks",
) -> Iterator[TradeTick]:
    """Yield `seconds` trade ticks per symbol, interleaved in time order."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible walk, not cryptography
    tick_size = {s: START_PRICES.get(s, Decimal(100)) * TICK_FRACTION for s in symbols}
    ticks = dict.fromkeys(symbols, 10_000)
    drift = dict.fromkeys(symbols, 0.0)
    for second in range(seconds):
        at = start + second * SECOND
        for symbol in symbols:
            if second % regime_seconds == 0:
                drift[symbol] = rng.choice((-0.3, -0.1, 0.0, 0.0, 0.1, 0.3))
            step = round(drift[symbol] + rng.gauss(0, 2))
            ticks[symbol] = max(100, ticks[symbol] + step)
            yield TradeTick(
                event_id=f"trade-{source}-{symbol}-{second}",
                ts_event=at,
                ts_init=at,
                source=source,
                symbol=symbol,
                price=tick_size[symbol] * ticks[symbol],
                quantity=rng.randint(1, 500) * _QUANTITY_STEP,
                side="buy" if rng.random() < 0.5 else "sell",
            )


def tick_file(seconds: int, seed: int = 42) -> Path:
    """Write `seconds` of 1-second trades for the bench's symbols to a Parquet file in the
    trade layout once; return its path. The file is kept between runs, named by the size,
    the seed and a digest of this generator's source (a changed generator writes a new
    file)."""
    from bench.peer import DATA_DIR, START, SYMBOLS
    from engine.marketdata.files import Layout, write_market_file

    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
    path = DATA_DIR / f"trades-{len(SYMBOLS)}x{seconds}s-seed{seed}-{digest}.parquet"
    if not path.exists():
        ticks = synthetic_ticks(SYMBOLS, START, seconds, seed=seed, source="replay")
        write_market_file(path, ticks, Layout.TRADES)
    return path


def product_tick_replay(srv: Servers, conninfo: str, seconds: int) -> dict[str, Any]:
    """Replay `seconds` of 1-second trades (`tick_file`) with `claire papertest start
    --source replay:FILE --speed max --foreground` at default settings; return its wall
    seconds, ticks, fills and the engine's peak RSS."""
    import psycopg

    from bench.cli import cli_replay
    from bench.peer import SYMBOLS

    path = tick_file(seconds)
    replay = cli_replay(path, SYMBOLS, srv, conninfo, days=seconds // 86_400 + 2, env={})
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM trades WHERE run_id = %s", (replay["run_id"],)
        ).fetchone()
    return {**replay, "ticks": seconds * len(SYMBOLS), "fills": int(str(row[0])) if row else 0}
