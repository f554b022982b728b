"""Quick profiles behind the "what limits it" notes: where a missed target's time goes.

- `replay_profile`: cProfile of claire's replay of a candle file with persistence (the path
  of the replay figures), in a fresh process; the top functions by own time, and the time
  grouped by area (pydantic validation, psycopg, each engine package, builtins).
- `writer_profile`: cProfile of EventWriter storing candles, in a fresh process.
- `import_profile`: `python -X importtime` of a command; the slowest top-level imports.
"""

from __future__ import annotations

import cProfile
import multiprocessing
import pstats
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Hotspot:
    """One function of a profile."""

    function: str
    calls: int
    own_s: float
    cumulative_s: float


@dataclass(frozen=True)
class Profile:
    """What a profile of `what` found."""

    what: str
    total_s: float
    hotspots: list[Hotspot]
    #: (area, seconds of own time), largest first.
    areas: list[tuple[str, float]]


def replay_profile(path: Path, conninfo: str, top: int = 10) -> Profile:
    """Profile claire's replay of `path` into PostgreSQL, in a fresh process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_replay_profile, path, conninfo, top).result()


def _replay_profile(path: Path, conninfo: str, top: int) -> Profile:
    from bench.peer import run_claire

    profiler = cProfile.Profile()
    result: dict[str, Any] = profiler.runcall(run_claire, path, {"conninfo": conninfo})
    what = f"claire replay of {result['bars']:,} bars from a file, with persistence"
    return summarize(pstats.Stats(profiler), what, top)


def writer_profile(conninfo: str, count: int = 20_000, top: int = 10) -> Profile:
    """Profile EventWriter storing `count` candles in batches of 1,000, in a fresh process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_writer_profile, conninfo, count, top).result()


def _writer_profile(conninfo: str, count: int, top: int) -> Profile:
    import psycopg

    from bench.engine_figures import START, SYMBOLS
    from engine.marketdata.synthetic import synthetic_candles
    from engine.storage.event_writer import EventWriter

    candles = list(synthetic_candles(SYMBOLS, START, count // len(SYMBOLS)))
    profiler = cProfile.Profile()
    with psycopg.connect(conninfo) as conn:
        writer = EventWriter(conn, conninfo)
        for offset in range(0, len(candles), 1000):
            profiler.runcall(writer.write, candles[offset : offset + 1000])
    return summarize(pstats.Stats(profiler), f"EventWriter storing {len(candles):,} candles", top)


def summarize(stats: pstats.Stats, what: str, top: int) -> Profile:
    """The top functions by own time and the own time per area."""
    rows = stats.stats  # type: ignore[attr-defined]  # pstats keeps no public accessor
    spots = sorted(
        (
            Hotspot(_name(key), int(nc), float(tt), float(ct))
            for key, (_, nc, tt, ct, _) in rows.items()
        ),
        key=lambda h: h.own_s,
        reverse=True,
    )
    areas: dict[str, float] = defaultdict(float)
    for key, (_, _, tt, _, _) in rows.items():
        areas[_area(key)] += float(tt)
    total = float(stats.total_tt)  # type: ignore[attr-defined]
    return Profile(what, total, spots[:top], sorted(areas.items(), key=lambda a: -a[1]))


def _name(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({function})"


def _area(key: tuple[str, int, str]) -> str:
    filename, _, function = key
    if filename == "~":
        if "pydantic" in function:
            return "pydantic validation (compiled)"
        return "builtins (decimal, dict, isinstance, ...)"
    for package in ("pydantic", "psycopg", "pyarrow"):
        if f"site-packages/{package}" in filename:
            return package
    if str(ROOT / "engine") in filename:
        parts = Path(filename).relative_to(ROOT).parts
        return ".".join(parts[:2]).removesuffix(".py")
    if str(ROOT / "bench") in filename:
        return "bench (the wrapper)"
    return "Python standard library and others"


def import_profile(command: Sequence[str], top: int = 8) -> Profile:
    """The slowest top-level imports of `python -X importtime COMMAND`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    spots = []
    for line in done.stderr.splitlines():
        own, _, rest = line.removeprefix("import time:").partition("|")
        cumulative, _, name = rest.partition("|")
        if not own.strip().isdigit() or name.removeprefix(" ").startswith(" "):
            continue  # the header, or a nested import (its parent's time includes it)
        spots.append(Hotspot(name.strip(), 1, int(own) / 1e6, int(cumulative) / 1e6))
    spots.sort(key=lambda h: h.cumulative_s, reverse=True)
    total = sum(h.cumulative_s for h in spots)
    return Profile(f"imports of {' '.join(command)}", total, spots[:top], [])
