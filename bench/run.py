"""Run every benchmark and write BENCHMARKS.md: `python -m bench.run [--quick]`.

Each engine figure is printed beside the raw baseline measured in the same run, so the ratio
survives a noisy machine. Benchmarks measure; they never pass or fail.
"""

from __future__ import annotations

import argparse
import os
import platform
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import backup as backup_bench
from bench import engine_figures, raw
from bench.servers import servers


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str
    target: str
    met: bool | None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    n = 20_000 if args.quick else 100_000
    bars = 20_000 if args.quick else 200_000
    figures: list[Figure] = []
    with servers() as srv, srv.database() as conninfo:
        xadd = raw.redis_xadd(srv.redis_url, n)
        read = raw.redis_read_ack(srv.redis_url, n)
        copy = raw.postgres_copy(conninfo, n)
        many = raw.postgres_executemany(conninfo, n)
        figures += [
            Figure("raw Redis XADD, pipelined 100", xadd, "msg/s", "-", "-", None),
            Figure("raw Redis XREADGROUP+decode+XACK", read, "msg/s", "-", "-", None),
            Figure("raw PostgreSQL COPY", copy, "rows/s", "-", "-", None),
            Figure("raw PostgreSQL executemany", many, "rows/s", "-", "-", None),
        ]
        stored = engine_figures.persistence(conninfo, n)
        figures.append(
            Figure(
                "EventWriter, batches of 1000",
                stored,
                "events/s",
                f"{stored / many:.2f}x executemany, {stored / copy:.2f}x COPY",
                ">= 50,000",
                stored >= 50_000,
            )
        )
    with servers() as srv, srv.database() as conninfo:
        bare, rss_bare = engine_figures.replay(None, bars)
        full, rss_full = engine_figures.replay(conninfo, bars)
        _, rss_tenth = engine_figures.replay(conninfo, bars // 10)
        figures.append(
            Figure(
                f"in-memory replay, {bars:,} bars, no persistence",
                bare,
                "bars/s",
                f"peak RSS {rss_bare:.0f} MB",
                "-",
                None,
            )
        )
        figures.append(
            Figure(
                f"in-memory replay, {bars:,} bars, with persistence",
                full,
                "bars/s",
                f"peak RSS {rss_full:.0f} MB ({rss_tenth:.0f} MB at {bars // 10:,} bars)",
                ">= 50,000",
                full >= 50_000,
            )
        )
        figures.append(
            Figure(
                f"replay memory growth, {bars // 10:,} -> {bars:,} bars",
                rss_full - rss_tenth,
                "MB",
                "peak RSS difference",
                "flat (< 20 MB)",
                rss_full - rss_tenth < 20,
            )
        )
    with servers() as srv, srv.database() as conninfo:
        xadd = raw.redis_xadd(srv.redis_url, n)
        piped = engine_figures.redis_pipeline(
            srv.redis_url, conninfo, bars // 10, f"b{uuid.uuid4().hex[:6]}"
        )
        figures.append(
            Figure(
                "full Redis pipeline, one process, into PostgreSQL",
                piped,
                "events/s",
                f"{piped / xadd:.3f}x raw XADD",
                ">= 20,000",
                piped >= 20_000,
            )
        )
        p50, p99, seen = engine_figures.latency(
            srv.redis_url, f"l{uuid.uuid4().hex[:6]}", 1000, 3 if args.quick else 10
        )
        figures.append(
            Figure(
                f"order -> fill over Redis at 1,000/s (n={seen}), p50",
                p50,
                "ms",
                "raw XADD->XREADGROUP p50 ~0.15 ms (PLATFORM.md)",
                "-",
                None,
            )
        )
        figures.append(
            Figure(
                "order -> fill over Redis at 1,000/s, p99",
                p99,
                "ms",
                "raw p99 ~0.27 ms (PLATFORM.md)",
                "<= 5 ms",
                p99 <= 5,
            )
        )
    with servers() as srv:
        times = backup_bench.measure(srv, 100_000 if args.quick else 1_000_000)
    rows = "100,000" if args.quick else "1,000,000"
    for ours, bare, label in (
        ("backup", "pg_dump", "claire backup"),
        ("restore", "pg_restore", "restore of a backup"),
    ):
        ratio = times[ours] / times[bare]
        figures.append(
            Figure(
                f"{label}, {rows} trade rows",
                times[ours],
                "s",
                f"bare {bare} {times[bare]:.2f} s ({ratio:.2f}x)",
                "<= 1.2x",
                ratio <= 1.2,
            )
        )
    report = render(figures, quick=args.quick)
    Path("BENCHMARKS.md").write_text(report)
    print(report)


def render(figures: list[Figure], *, quick: bool) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}),"
        f" Python {platform.python_version()}{' (quick sizes)' if quick else ''}."
        " Written by `python -m bench.run`; raw baselines come from the same run.",
        "",
        "| figure | value | baseline / ratio | target | met |",
        "|---|---:|---|---|---|",
    ]
    for f in figures:
        met = "-" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {f.value:,.1f} {f.unit} | {f.baseline} | {f.target} | {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
