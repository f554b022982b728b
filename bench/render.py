"""BENCHMARKS.md: the figures table, how the figures are made, and what limits the misses."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.profile import Profile


@dataclass(frozen=True)
class Figure:
    """One row of the table: a measured value beside its baseline and target."""

    name: str
    value: float  # an int for a count
    unit: str
    baseline: str
    target: str
    met: bool | None
    #: What limits the figure, said when it misses its target.
    limit: str = ""
    #: The profile that shows it (a key of PROFILES), or "".
    profile: str = ""


#: The profiles a missed target can point at (bench/profile.py), as the notes name them.
PROFILES = {
    "replay": "claire's replay from a file, below",
    "writer": "EventWriter, below",
    "cli": "imports of `claire --help`, below",
}


#: How the newer figures are made, under the table (details in each module's docstring).
METHOD = (
    "CLI start-up: wall time of a fresh process of the venv's `claire` (after one warm-up"
    " run), against the bench's own servers, from an empty directory (bench/cli.py);"
    " every `claire` the bench runs has PYTHONDONTWRITEBYTECODE removed from its"
    " environment, as an installed claire runs from its cached bytecode (with it set,"
    " each run compiled the engine's modules again).",
    "Report: a real `claire papertest start --duration 7d --source synthetic --speed max`"
    " (2 symbols, its engine in its own process), then `claire papertest report RUN` timed"
    " wall clock, median of 3 (bench/papertest_report.py).",
    "Replay preflight: bench/file_check.py (also `python -m bench.file_check` alone) writes "
    "1,000,000 rows of seeded 1-minute candles (2 symbols interleaved, MEXC close times) as "
    "CSV and as Parquet (decimal text, int64 times), then times the whole check `claire "
    "papertest start` runs before registering a replay, median of 3 in one process, beside a "
    "raw read of the same file. A candle file is read column-wise (Arrow) first; only a file "
    "it cannot vouch for is read row by row, which words each problem with its line (the row-"
    "wise figure is what such a file costs).",
    "Ticks: one trade per symbol per second from the bench's seeded tick walk"
    " (bench/ticks.py; claire's synthetic source makes candles only), written once to a"
    " Parquet file in the trade layout and replayed by `claire papertest start --source"
    " replay:FILE --speed max --foreground` at default settings, timed whole (ticks themselves"
    " are not stored). The RSS row replays the same ticks through the in-memory pipeline with"
    " persistence, sampling VmRSS every 5 % of them.",
    "Peer: claire's synthetic market (realistic mode: regimes, jumps, gaps) written once to"
    " Parquet in the `replay:PATH` layout; claire replays it through the in-memory pipeline"
    " into PostgreSQL, nautilus_trader 1.221 backtests the same momentum and sizing rules"
    " (bench/momentum_rules.py) on Bars wrangled from the same file, each in a process of its"
    " own, timed from opening the file to the last fill, peak RSS from VmHWM. Both fill"
    " market orders whole at the signal bar's close with the 0.05 % taker fee: claire with"
    " `latency_ms=0`, no slippage, and a partial fill only past 100 % of the last 5"
    " minutes' volume; nautilus with `BestPriceFillModel`. claire's drawdown abort and daily"
    " drawdown latch are off, as the peer has neither (a year of these rules passes the 8 %"
    " abort level). nautilus keeps its results in memory. Orders are grouped by order id"
    " and compared by (symbol, bar of the first fill, side).",
)


def render(figures: list[Figure], profiles: list[Profile], *, quick: bool, load: float) -> str:
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
        f" {_memory_gib():.0f} GiB,"
        f" Python {platform.python_version()}{' (quick sizes)' if quick else ''}"
        f"; load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        " (other work on the machine slows every figure)."
        " Written by `python -m bench.run`; raw baselines come from the same run.",
        "",
        "| figure | value | baseline / ratio | target | met |",
        "|---|---:|---|---|---|",
    ]
    for f in figures:
        met = "-" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {_value(f)} | {f.baseline} | {f.target} | {met} |")
    lines += ["", "How the figures are made:", ""] + [f"- {m}" for m in METHOD]
    lines += render_limits(figures, profiles)
    return "\n".join(lines) + "\n"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def _value(figure: Figure) -> str:
    """The value with its unit: counts whole, small values to 2 decimals, others to 1."""
    value = figure.value
    if isinstance(value, int):
        return f"{value:,} {figure.unit}"
    return f"{value:,.2f} {figure.unit}" if abs(value) < 10 else f"{value:,.1f} {figure.unit}"


def render_limits(figures: list[Figure], profiles: list[Profile]) -> list[str]:
    """The "what limits it" section: each missed target and the profiles behind them."""
    missed = [f for f in figures if f.met is False]
    if not missed:
        return []
    lines = ["", "## What limits it", ""]
    for f in missed:
        shown = f" (profile: {PROFILES[f.profile]})" if f.profile else ""
        lines.append(f"- **{f.name}** ({_value(f)}, target {f.target}): {f.limit}{shown}.")
    for p in profiles:
        lines += ["", f"### {p.what}: {p.total_s:.2f} s", ""]
        if p.areas:
            shares = ", ".join(f"{area} {s / p.total_s:.0%}" for area, s in p.areas[:8])
            lines += [f"Own time by area: {shares}.", ""]
        lines += ["| function | calls | own s | cumulative s |", "|---|---:|---:|---:|"]
        lines += [
            f"| `{h.function}` | {h.calls:,} | {h.own_s:.2f} | {h.cumulative_s:.2f} |"
            for h in p.hotspots
        ]
    return lines


#: BENCHMARKS.md from this line on is `python -m bench.live_runs --write`'s; `bench.run`
#: keeps it when it writes the rest (the two take their figures at different times).
LIVE_MARK = "<!-- written by python -m bench.live_runs --write -->"


def write_benchmarks(path: Path, *, main: str | None = None, live: str | None = None) -> None:
    """Write `main` (bench.run's part) or `live` (bench.live_runs' part) into `path`,
    keeping the other part as it is."""
    text = path.read_text() if path.exists() else ""
    kept_main, _, kept_live = text.partition(LIVE_MARK)
    body = main if main is not None else kept_main.rstrip("\n") + "\n"
    tail = live if live is not None else kept_live.strip("\n")
    path.write_text(
        body if not tail else f"{body.rstrip(chr(10))}\n\n{LIVE_MARK}\n\n{tail.strip(chr(10))}\n"
    )
