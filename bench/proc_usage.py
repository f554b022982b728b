"""CPU time and memory of process trees, from /proc (Linux).

A group is a process and its descendants. Its CPU time is utime + stime of each, plus what
its reaped children spent (cutime + cstime), so a PostgreSQL backend that ends between two
samples still counts; its memory is the sum of their VmRSS (and, when asked, of their PSS:
processes sharing memory, as PostgreSQL's do, count it once between them).
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: pid -> (ppid, start time, CPU ticks), as `process_table` reads them.
Table = dict[int, tuple[int, int, int]]


@dataclass(frozen=True)
class Group:
    """One sample of a process and its descendants: CPU ticks by (pid, start), memory."""

    cpu: dict[tuple[int, int], int]
    rss_mb: float
    pss_mb: float


@dataclass(frozen=True)
class Sample:
    """The groups sampled at one instant."""

    at: float  # monotonic seconds
    boot_ticks: int  # clock ticks since boot, as /proc/PID/stat's start times count
    groups: dict[str, Group]


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, start time, utime + stime + cutime + cstime) of `pid`, in clock ticks."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return int(fields[1]), int(fields[19]), sum(int(f) for f in fields[11:15])


def _status_kb(pid: int, key: str, name: str = "status") -> int:
    try:
        lines = Path(f"/proc/{pid}/{name}").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(key)), 0)


def process_table() -> Table:
    """pid -> (ppid, start time, CPU ticks) of every process."""
    table: Table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            table[int(entry.name)] = found
    return table


def group(
    roots: Sequence[int], table: Table, children: dict[int, list[int]], *, pss: bool
) -> Group:
    """Sample `roots` and their descendants (`children`: pid -> its children's pids)."""
    pids, todo = [], [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return Group(
        cpu={(pid, table[pid][1]): table[pid][2] for pid in pids},
        rss_mb=sum(_status_kb(pid, "VmRSS:") for pid in pids) / 1024,
        pss_mb=sum(_status_kb(pid, "Pss:", "smaps_rollup") for pid in pids) / 1024 if pss else 0,
    )


def cpu_seconds(before: Sample, after: Sample, name: str) -> float:
    """CPU seconds of group `name` between two samples. A process first seen in `after`
    counts whole when it started since `before`, else not at all (its share is unknown)."""
    now, then = after.groups.get(name), before.groups.get(name)
    if now is None:
        return 0.0
    ticks = 0
    for key, spent in now.cpu.items():
        if then is not None and key in then.cpu:
            ticks += spent - then.cpu[key]
        elif key[1] >= before.boot_ticks:
            ticks += spent
    return ticks / CLOCK_TICKS


def _boot_ticks() -> int:
    return int(float(Path("/proc/uptime").read_text().split()[0]) * CLOCK_TICKS)


def sample(roots: Mapping[str, int | None], pss: Collection[str] = ()) -> Sample:
    """Sample the group of each named root pid (None: nothing runs); PSS for `pss`."""
    at, boot_ticks, table = time.monotonic(), _boot_ticks(), process_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    groups = {
        name: group([] if pid is None else [pid], table, children, pss=name in pss)
        for name, pid in roots.items()
    }
    return Sample(at, boot_ticks, groups)


def usage(samples: Sequence[Sample], name: str) -> dict[str, float]:
    """CPU % of one core (mean over the window, max of a sample interval) and memory."""
    spent = [cpu_seconds(a, b, name) for a, b in pairwise(samples)]
    rates = [s / (b.at - a.at) for s, (a, b) in zip(spent, pairwise(samples), strict=True)]
    seen = [s.groups[name] for s in samples if name in s.groups and s.groups[name].cpu]
    rss = [g.rss_mb for g in seen] or [0.0]
    found = {
        "cpu_mean_pct": 100 * sum(spent) / (samples[-1].at - samples[0].at),
        "cpu_max_pct": 100 * max(rates),
        "rss_mean_mb": statistics.fmean(rss),
        "rss_max_mb": max(rss),
        "processes": max((len(g.cpu) for g in seen), default=0),
    }
    if any(g.pss_mb for g in seen):
        found["pss_mean_mb"] = statistics.fmean([g.pss_mb for g in seen] or [0.0])
    return found
