"""Raw baselines: what Redis Streams and PostgreSQL do here with no engine around them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import redis

PAYLOAD = json.dumps(
    {
        "type": "candle",
        "symbol": "BTCUSDT",
        "close": "95000.1234",
        "volume": "12.5",
        "ts_event": "2026-01-05T00:01:00+00:00",
        "pad": "x" * 180,
    }
).encode()


def redis_xadd(url: str, count: int) -> float:
    """Messages/s appended with XADD, pipelined 100 per round trip."""
    with redis.Redis.from_url(url) as client:
        client.delete("bench:raw")
        start = time.perf_counter()
        for offset in range(0, count, 100):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(100, count - offset)):
                pipe.xadd("bench:raw", {b"event": PAYLOAD})
            pipe.execute()
        return count / (time.perf_counter() - start)


def redis_read_ack(url: str, count: int) -> float:
    """Messages/s read with XREADGROUP (100 at a time), JSON-decoded and acknowledged."""
    with redis.Redis.from_url(url) as client:
        client.xgroup_create("bench:raw", "g", id="0")
        done = 0
        start = time.perf_counter()
        while done < count:
            reply = client.xreadgroup("g", "c", {"bench:raw": ">"}, count=100)
            if not reply:
                break
            entries = reply[0][1]
            for _, fields in entries:
                json.loads(fields[b"event"])
            client.xack("bench:raw", "g", *[mid for mid, _ in entries])
            done += len(entries)
        elapsed = time.perf_counter() - start
        client.delete("bench:raw")
        return done / elapsed


def _rows(count: int) -> list[tuple[object, ...]]:
    ts = datetime(2026, 1, 5, tzinfo=UTC)
    return [
        (f"e{i}", "BTCUSDT", Decimal("95000.1234"), Decimal("0.01"), "buy", str(i), ts, ts)
        for i in range(count)
    ]


_TABLE = (
    "CREATE TEMP TABLE raw_bench (event_id text, symbol text, price numeric, quantity numeric,"
    " side text, trade_id text, ts_event timestamptz, ts_init timestamptz)"
)


def postgres_copy(conninfo: str, count: int) -> float:
    """Rows/s written with COPY (8 columns incl. NUMERIC and TIMESTAMPTZ)."""
    rows = _rows(count)
    with psycopg.connect(conninfo) as conn:
        conn.execute(_TABLE)
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY raw_bench FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return count / (time.perf_counter() - start)


def postgres_executemany(conninfo: str, count: int) -> float:
    """Rows/s written with executemany in one transaction."""
    rows = _rows(count)
    with psycopg.connect(conninfo) as conn:
        conn.execute(_TABLE)
        start = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO raw_bench VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", rows)
        conn.commit()
        return count / (time.perf_counter() - start)
