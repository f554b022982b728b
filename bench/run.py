"""Run every benchmark and write BENCHMARKS.md: `python -m bench.run [--quick]`.

Each engine figure is printed beside the raw baseline measured in the same run, so the ratio
survives a noisy machine. Benchmarks measure; they never pass or fail. A figure that misses
its target gets a "what limits it" note from a quick profile (bench/profile.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench import backup as backup_bench
from bench import cli as cli_bench
from bench import engine_figures, papertest_report, peer, raw
from bench import profile as profiling
from bench.render import Figure, render, write_benchmarks
from bench.servers import servers
from bench.ticks import product_tick_replay


@dataclass(frozen=True)
class Sizes:
    """How much each figure measures: `--quick` makes a smoke run of small sizes."""

    quick: bool
    rows: int  # raw baselines and EventWriter
    bars: int  # in-memory replays of generated candles
    cli_runs: int
    report_duration: str
    tick_seconds: int
    peer_minutes: int
    backup_rows: int
    preflight_rows: int

    @classmethod
    def of(cls, *, quick: bool) -> Sizes:
        if quick:
            return cls(True, 20_000, 20_000, 3, "1d", 3 * 3600, 10_000, 100_000, 20_000)
        return cls(
            False, 100_000, 100_000, 10, "7d", 7 * 86_400, peer.YEAR_MINUTES, 1_000_000, 1_000_000
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    if importlib.util.find_spec("nautilus_trader") is None:  # needed last: say so first
        parser.exit(
            2, "the peer figures need nautilus_trader: .venv/bin/pip install -e '.[bench]'\n"
        )
    sizes = Sizes.of(quick=args.quick)
    load = os.getloadavg()[0]
    figures = [
        *storage_figures(sizes),
        *replay_figures(sizes),
        *redis_figures(sizes),
        *backup_figures(sizes),
        *cli_figures(sizes),
        *preflight_figures(sizes),
        *tick_figures(sizes),
    ]
    path = peer.candle_file(sizes.peer_minutes)
    figures += peer_figures(path)
    profiles = limits(figures)
    report = render(figures, profiles, quick=args.quick, load=load)
    write_benchmarks(Path("BENCHMARKS.md"), main=report)
    print(report)


def storage_figures(sizes: Sizes) -> list[Figure]:
    """Raw Redis and PostgreSQL baselines, and EventWriter beside them."""
    n = sizes.rows
    with servers() as srv, srv.database() as conninfo:
        xadd = raw.redis_xadd(srv.redis_url, n)
        read = raw.redis_read_ack(srv.redis_url, n)
        copy = raw.postgres_copy(conninfo, n)
        many = raw.postgres_executemany(conninfo, n)
        stored = engine_figures.persistence(conninfo, n)
    return [
        Figure("raw Redis XADD, pipelined 100", xadd, "msg/s", "-", "-", None),
        Figure("raw Redis XREADGROUP+decode+XACK", read, "msg/s", "-", "-", None),
        Figure("raw PostgreSQL COPY", copy, "rows/s", "-", "-", None),
        Figure("raw PostgreSQL executemany", many, "rows/s", "-", "-", None),
        Figure(
            "EventWriter, batches of 1000",
            stored,
            "events/s",
            f"{stored / many:.2f}x executemany, {stored / copy:.2f}x COPY",
            ">= 50,000 and >= 0.3x COPY",
            stored >= 50_000 and stored >= 0.3 * copy,
            "16-column candle rows (6 NUMERIC, 4 TIMESTAMPTZ) turned into COPY text in Python,"
            " then copied into the real table with its 3 indexes (a straight COPY in a"
            " savepoint); the raw COPY writes 8 columns of pre-made rows into an unindexed"
            " temporary table",
            "writer",
        ),
    ]


def replay_figures(sizes: Sizes) -> list[Figure]:
    """In-memory replay of generated candles, without and with persistence."""
    bars = sizes.bars
    with servers() as srv, srv.database() as conninfo:
        bare, rss_bare = engine_figures.replay(None, bars)
        full, rss_full = engine_figures.replay(conninfo, bars)
    return [
        Figure(
            f"in-memory replay, {bars:,} bars, no persistence",
            bare,
            "bars/s",
            f"peak RSS {rss_bare:.0f} MB",
            "-",
            None,
        ),
        Figure(
            f"in-memory replay, {bars:,} bars, with persistence",
            full,
            "bars/s",
            f"peak RSS {rss_full:.0f} MB; {full / bare:.2f}x without persistence",
            ">= 50,000",
            full >= 50_000,
            "every stage's per-event work in Python (validation, Decimal arithmetic,"
            " snapshots), one event at a time",
            "replay",
        ),
    ]


def redis_figures(sizes: Sizes) -> list[Figure]:
    """The pipeline over Redis Streams, and order -> fill latency through it."""
    with servers() as srv, srv.database() as conninfo:
        xadd = raw.redis_xadd(srv.redis_url, sizes.rows)
        read = raw.redis_read_ack(srv.redis_url, sizes.rows)
        piped = engine_figures.redis_pipeline(
            srv.redis_url, conninfo, sizes.bars // 5, f"b{uuid.uuid4().hex[:6]}"
        )
        p50, p99, seen = engine_figures.latency(
            srv.redis_url, f"l{uuid.uuid4().hex[:6]}", 1000, 3 if sizes.quick else 10
        )
    return [
        Figure(
            "full Redis pipeline, one process, into PostgreSQL",
            piped,
            "events/s",
            f"{piped / xadd:.3f}x raw XADD, {piped / read:.3f}x raw XREADGROUP+decode+XACK",
            ">= 20,000 and >= 0.25x raw consume",
            piped >= 20_000 and piped >= 0.25 * read,
            "the replay's per-event work plus JSON encoding and decoding on each of the five"
            " stages, all sharing one GIL in one process",
            "replay",
        ),
        Figure(
            f"order -> fill over Redis at 1,000/s (n={seen}), p50",
            p50,
            "ms",
            "raw XADD->XREADGROUP p50 ~0.15 ms (PLATFORM.md)",
            "-",
            None,
        ),
        Figure(
            "order -> fill over Redis at 1,000/s, p99",
            p99,
            "ms",
            "raw p99 ~0.27 ms (PLATFORM.md)",
            "<= 5 ms",
            p99 <= 5,
            "thread scheduling: the stage threads share one GIL on 2 cores, so the tail follows"
            " the machine's load (load average in the header)",
        ),
    ]


def backup_figures(sizes: Sizes) -> list[Figure]:
    """`claire backup` and its restore beside bare pg_dump / pg_restore."""
    with servers() as srv:
        times = backup_bench.measure(srv, sizes.backup_rows)
    figures = []
    for ours, bare, label in (
        ("backup", "pg_dump", "claire backup"),
        ("restore", "pg_restore", "restore of a backup"),
    ):
        ratio = times[ours] / times[bare]
        figures.append(
            Figure(
                f"{label}, {sizes.backup_rows:,} trade rows",
                times[ours],
                "s",
                f"bare {bare} {times[bare]:.2f} s ({ratio:.2f}x)",
                "<= 1.2x",
                ratio <= 1.2,
                f"{bare} itself: claire's {ours} is {bare} plus its own bookkeeping (row"
                " counts, file checksums, the manifest), so a miss is that bookkeeping plus"
                f" the run-to-run noise of {bare} on a shared machine",
            )
        )
    return figures


def cli_figures(sizes: Sizes) -> list[Figure]:
    """CLI start-up, and the report of a papertest run for `report_duration`."""
    with servers() as srv, srv.database() as conninfo:
        started = cli_bench.startup(srv, conninfo, sizes.cli_runs)
        report = papertest_report.seven_day_report(srv, conninfo, sizes.report_duration)
    python = started["python -c pass"]
    runs = f"median of {sizes.cli_runs}"
    return [
        Figure(f"`python -c pass` ({runs})", python, "s", "interpreter start-up", "-", None),
        Figure(
            f"`claire --help` ({runs})",
            started["claire --help"],
            "s",
            f"{started['claire --help'] / python:.1f}x `python -c pass`",
            "<= 12x `python -c pass`",
            started["claire --help"] <= 12 * python,
            "imports before the first line of output (Typer, Rich, claire's command modules)",
            "cli",
        ),
        Figure(
            f"`claire status`, servers up ({runs})",
            started["claire status"],
            "s",
            f"{started['claire status'] / python:.1f}x `python -c pass`",
            "<= 0.5 s",
            started["claire status"] <= 0.5,
            "imports: redis-py, psycopg, pydantic-settings, Typer and Rich",
            "cli",
        ),
        Figure(
            f"`claire papertest report` of a {sizes.report_duration} run (HTML+MD+JSON+PNG)",
            report.cli_seconds,
            "s",
            f"{report.library_seconds:.2f} s of it in `write_report`; {report.snapshots:,}"
            f" snapshots, {report.fills:,} fills; the run took {report.run_seconds:.0f} s",
            "< 5 s",
            report.cli_seconds < 5,
            "start-up and imports (matplotlib) of the command, then the queries and charts of"
            " `write_report`",
        ),
    ]


def preflight_figures(sizes: Sizes) -> list[Figure]:
    """The check `claire papertest start` runs over a replay file, beside a raw read of it."""
    # Imported here: it loads pyarrow, and the figures measured in spawned processes import
    # this module again, which would count pyarrow in their peak RSS.
    from bench import file_check

    found = file_check.measure(sizes.preflight_rows)
    figures = []
    for kind, raw_read in (
        ("CSV", "raw `csv.reader` counting the rows"),
        ("Parquet", "raw pyarrow batches to Python values"),
    ):
        check = found.seconds[f"check_market_data, {kind}"]
        base = found.seconds[f"raw baseline, {kind}"]
        name = (
            f"replay preflight (`check_market_data`), {found.rows:,} 1-min candles, 2 symbols,"
            f" {kind} ({found.size_mb[kind]:.0f} MB)"
            if kind == "CSV"
            else f"same, {kind} ({found.size_mb[kind]:.0f} MB)"
        )
        figures.append(
            Figure(
                name,
                check,
                "s",
                f"{check / base:.2f}x {raw_read} ({base:.2f} s); the row-wise check alone"
                f" {found.seconds[f'row-wise check only, {kind}']:.2f} s",
                f"< {file_check.TARGET_S:.0f} s",
                check < file_check.TARGET_S,
            )
        )
    return figures


def tick_figures(sizes: Sizes) -> list[Figure]:
    """1-second trade ticks from a file through `claire papertest start`, and the engine's
    RSS sampled along the same ticks through the in-memory pipeline."""
    days = sizes.tick_seconds / 86_400
    with servers() as srv, srv.database() as conninfo:
        product = product_tick_replay(srv, conninfo, sizes.tick_seconds)
    with servers() as srv, srv.database() as conninfo:
        ticks = engine_figures.tick_replay(conninfo, sizes.tick_seconds)
    rss = ticks.rss
    return [
        Figure(
            f"`claire papertest start --source replay:FILE --speed max`, {days:g} days of 1-s"
            f" trades, 2 symbols ({product['ticks']:,} ticks), with persistence",
            product["seconds"],
            "s",
            f"{product['ticks'] / product['seconds']:,.0f} ticks/s, the whole command;"
            f" {product['fills']:,} fills; engine peak RSS {product['peak_rss_mb']:.0f} MB",
            "< 20 s",
            product["seconds"] < 20,
            "the same per-event work as the candle replay, for every tick",
            "replay",
        ),
        Figure(
            "engine RSS along the same ticks, 5 % -> 100 % (in-memory pipeline)",
            rss["last"] - rss["first"],
            "MB",
            f"sampled every 5 %: first {rss['first']:.0f} MB, last {rss['last']:.0f} MB,"
            f" peak {rss['peak']:.0f} MB (process peak {ticks.peak_rss_mb:.0f} MB;"
            f" {ticks.seconds:.1f} s with a synchronous writer)",
            "flat (< 20 MB)",
            rss["last"] - rss["first"] < 20,
            "state kept per event beyond the bounded duplicate guards (see the samples)",
        ),
    ]


def peer_figures(path: Path) -> list[Figure]:
    """claire and nautilus_trader replaying the same candle file with the same rules."""
    with servers() as srv, srv.database() as conninfo:
        result = peer.compare(path, srv, conninfo)
    ours, theirs = result.claire, result.nautilus
    orders = max(len(ours.fills), len(theirs.fills))
    return [
        Figure(
            f"`claire papertest start --source replay:FILE --speed max`, {ours.bars:,} 1-min"
            " bars into PostgreSQL",
            ours.bars_per_second,
            "bars/s",
            f"{result.speed_ratio:.2f}x nautilus_trader {theirs.bars_per_second:,.0f} bars/s"
            f" ({ours.seconds:.0f} s, the whole command, vs {theirs.seconds:.0f} s, of which"
            " nautilus took"
            f" {theirs.extra['load_seconds']:.0f} s to load the file)",
            ">= 1.0x nautilus",
            result.speed_ratio >= 1.0,
            "reading the file into validated events and the pipeline's per-event work in"
            " Python and Decimal, where nautilus runs compiled code on fixed-point values",
            "replay",
        ),
        Figure(
            "peak RSS of that replay, claire",
            ours.peak_rss_mb,
            "MB",
            f"{result.memory_ratio:.2f}x nautilus_trader {theirs.peak_rss_mb:,.0f} MB"
            " (claire: its engine process, as it records with the run)",
            "<= 1/3 of nautilus",
            result.memory_ratio <= 1 / 3,
            "the interpreter, pydantic and psycopg loaded, and the bounded per-stage state",
        ),
        Figure(
            "same trades as nautilus_trader (symbol, bar, side of each order)",
            result.matched,
            f"of {orders:,}",
            f"claire {len(ours.fills):,} orders ({ours.extra['split_orders']:,} filled over"
            f" more than one bar), nautilus_trader {len(theirs.fills):,};"
            f" {result.same_quantity:,} of the same quantity (to 0.01 %)",
            "-",
            None,
        ),
    ]


def limits(figures: list[Figure]) -> list[profiling.Profile]:
    """Profile what limits the figures that missed their targets (each profile once)."""
    wanted = {f.profile for f in figures if f.met is False and f.profile}
    profiles = []
    if "replay" in wanted:
        path = peer.candle_file(10_000)
        with servers() as srv, srv.database() as conninfo:
            profiles.append(profiling.replay_profile(path, conninfo))
    if "writer" in wanted:
        with servers() as srv, srv.database() as conninfo:
            profiles.append(profiling.writer_profile(conninfo))
    if "cli" in wanted:
        profiles.append(profiling.import_profile([str(cli_bench.CLAIRE), "--help"]))
    return profiles


if __name__ == "__main__":
    main()
