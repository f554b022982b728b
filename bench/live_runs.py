"""Live papertests on the local runtime: what N of them cost, as the user runs them.

`python -m bench.live_runs [--runs 1,4,8] [--minutes 3] [--json] [--write]` starts claire's
servers in a temporary state directory (bench/servers.py) and the MEXC stand-in
(tests/mexc_standin/server.py) with 3 hours of 1-minute history of BTCUSDT and ETHUSDT, and
points claire at it (CLAIRE_MEXC_REST_URL, CLAIRE_MEXC_WS_URL). A thread of this process
replays a live market into the stand-in in real time (bench/live_market.py): per symbol 10
best bid/ask updates a second, about 3 trades a second and a push of the open minute's kline
every second, as MEXC pushes them.

For each N it starts N runs with the command the user runs, `claire papertest start --source
mexc --symbols BTCUSDT,ETHUSDT --duration 1h --no-backup --json` (each run's engine its own
process, every run reading the one shared feed process), lets them warm up for 20 s, then
samples every 5 s for --minutes: CPU time (utime + stime, and that of reaped children, from
/proc/PID/stat) over the wall time, and VmRSS, of each engine, the feed, the supervisor,
redis-server and the postmaster with its children (whose VmRSS counts the shared buffers in
each process: their PSS sum is shown beside it). Then it checks that every run kept up:
still running, its newest portfolio snapshot (one a minute of event time) at most 75 s old,
and the newest market data each of its stages saw (the engine's /metrics, scraped before
and after the window, which also gives the events handed to each stage a second) at most
10 s behind the clock. It stops them with `claire papertest stop --all`. The state
directory's processes and servers are stopped at the end, on Ctrl-C or an error too.

Runs one core holds = 1 / (E + S / N): E the mean CPU of one engine, S the CPU of what the N
runs share (feed, supervisor, redis-server, PostgreSQL), both in cores; that is N / total.
Between two N, one more run costs (total_b - total_a) / (N_b - N_a). The stand-in and the
pusher run in this process, on the same cores: its CPU is shown, never counted.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from bench.cli import claire_env, run_claire
from bench.live_market import SYMBOLS, LiveMarket
from bench.proc_usage import Sample, sample, usage
from bench.render import write_benchmarks
from bench.servers import Servers, servers
from engine.runs.launcher import ENGINE_MARK, engine_pid
from engine.runtime.feed_process import feed_pid, stop_feed
from engine.runtime.processes import pid_alive, read_pid, terminate
from engine.runtime.supervisor import stop_supervisor, supervisor_pid
from tests.mexc_standin.server import MexcStandIn

WARMUP_S = 20.0
SAMPLE_S = 5.0
HISTORY_MINUTES = 180
#: A run keeps up when its newest snapshot is at most this old: it takes one a minute of
#: event time, which trails the wall clock by the engine's 2 s ordering hold.
KEEP_UP_S = 75.0
#: ... and the newest market data each of its stages saw at most this far behind the clock
#: (the engine holds live events 2 s of event time to put them in order).
KEEP_UP_LAG_S = 10.0
SHARED = ("feed", "supervisor", "redis-server", "postgres")
BENCH = "this bench (stand-in + pusher)"


def take_sample(srv: Servers, run_ids: Sequence[str]) -> Sample:
    """Sample every engine of `run_ids`, the processes they share, and this bench."""
    home = srv.home
    roots = {f"engine {run_id}": engine_pid(home, run_id) for run_id in run_ids}
    roots |= {
        "feed": feed_pid(home),
        "supervisor": supervisor_pid(home),
        "redis-server": srv.runtime.redis.live_pid(),
        "postgres": srv.runtime.postgres.live_pid(),
        BENCH: os.getpid(),
    }
    return sample(roots, pss={"postgres"})


def sample_for(srv: Servers, run_ids: Sequence[str], seconds: float) -> list[Sample]:
    """Samples every SAMPLE_S for `seconds` (the last interval ends at `seconds`)."""
    samples = [take_sample(srv, run_ids)]
    first = samples[0].at
    marks = [
        first + min(k * SAMPLE_S, seconds) for k in range(1, math.ceil(seconds / SAMPLE_S) + 1)
    ]
    for mark in marks:
        time.sleep(max(0.0, mark - time.monotonic()))
        samples.append(take_sample(srv, run_ids))
    return samples


# -- the runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """The state directory, its database, the stand-in and the environment of `claire`."""

    srv: Servers
    conninfo: str
    standin: MexcStandIn
    market: LiveMarket
    env: dict[str, str]
    cwd: Path

    def claire(self, *args: str) -> tuple[str, float]:
        """Run `claire ARGS` as the user does; return its output and wall seconds."""
        started = time.perf_counter()
        done = run_claire(args, self.env, self.cwd, check=False)
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise RuntimeError(f"claire {' '.join(args)} exited {done.returncode}: {said}")
        return done.stdout, time.perf_counter() - started

    def start_run(self) -> tuple[str, float]:
        """Start one live run; return its id and the seconds its start took."""
        output, seconds = self.claire(
            "papertest", "start", "--source", "mexc", "--symbols", ",".join(SYMBOLS),
            "--duration", "1h", "--no-backup", "--json",
        )  # fmt: skip
        return str(json.loads(output)["run_id"]), seconds


@contextmanager
def live_bench(max_runs: int) -> Iterator[Bench]:
    """Servers in a temporary state directory, the stand-in and its live market; at the end
    every process the runs left there is stopped, then the servers."""
    with (
        servers() as srv,
        srv.database() as conninfo,
        MexcStandIn() as standin,
        tempfile.TemporaryDirectory() as cwd,
    ):
        for symbol in SYMBOLS:
            standin.add_symbol(symbol)
        market = LiveMarket.seeded(standin, SYMBOLS, HISTORY_MINUTES).start()
        env = {
            **claire_env(srv, conninfo),
            "CLAIRE_MEXC_REST_URL": standin.rest_url,
            "CLAIRE_MEXC_WS_URL": standin.ws_url,
            "CLAIRE_PAPERTEST_MAX_ACTIVE": str(max(8, max_runs)),
        }
        try:
            yield Bench(srv, conninfo, standin, market, env, Path(cwd))
        finally:
            try:
                stop_processes(srv.home)
            finally:
                market.stop()


def stop_processes(home: Path) -> None:
    """Stop what the runs left in `home`: the supervisor first (it would start the others
    again), every engine, the feed."""
    stop_supervisor(home)
    for path in (home / "run").glob("papertest-*.pid"):
        pid = read_pid(path)
        if pid is not None and pid_alive(pid, ENGINE_MARK):
            progress(f"stopping the engine left in {path.name} (pid {pid})")
            terminate(pid, functools.partial(pid_alive, pid, ENGINE_MARK), 20.0)
    stop_feed(home)


def phase(bench: Bench, n: int, minutes: float) -> dict[str, Any]:
    """Start `n` live runs, sample them for `minutes` after the warm-up, stop them."""
    connections, requests = bench.standin.connection_count, bench.standin.requests()
    progress(f"{n} run(s): starting")
    starts = [bench.start_run() for _ in range(n)]
    run_ids = [run_id for run_id, _ in starts]
    progress(f"{n} run(s): warming up {WARMUP_S:.0f} s, then sampling {minutes:g} min")
    time.sleep(WARMUP_S)
    urls = monitor_urls(bench.conninfo, run_ids)
    metrics_before = {run_id: scrape(url) for run_id, url in urls.items()}
    pushed_before, window_start = bench.market.pushed(), datetime.now(UTC)
    samples = sample_for(bench.srv, run_ids, minutes * 60)
    pushed = bench.market.pushed() - pushed_before
    metrics_after = {run_id: scrape(url) for run_id, url in urls.items()}
    runs = kept_up(bench.conninfo, run_ids, window_start, metrics_before, metrics_after)
    exchange = {
        "new_connections": bench.standin.connection_count - connections,
        "rest_requests": bench.standin.requests() - requests,
    }
    progress(f"{n} run(s): claire papertest stop --all")
    _, stop_s = bench.claire("papertest", "stop", "--all")
    window = samples[-1].at - samples[0].at
    return {
        "runs": n,
        "sampled_s": window,
        "samples": len(samples),
        "start_s": [seconds for _, seconds in starts],
        "stop_all_s": stop_s,
        "pushed_per_symbol_per_s": {k: v / window / len(SYMBOLS) for k, v in pushed.items()},
        "exchange": exchange,
        "keep_up": runs,
        **costs(samples, run_ids),
    }


def costs(samples: Sequence[Sample], run_ids: Sequence[str]) -> dict[str, Any]:
    """Each process's usage, the engines' mean, the shared total, and runs per core."""
    engines = {run_id: usage(samples, f"engine {run_id}") for run_id in run_ids}
    shared = {name: usage(samples, name) for name in SHARED}
    used = list(engines.values())
    per_run = {
        "cpu_mean_pct": statistics.fmean(e["cpu_mean_pct"] for e in used),
        "cpu_max_pct": max(e["cpu_max_pct"] for e in used),
        "rss_mean_mb": statistics.fmean(e["rss_mean_mb"] for e in used),
        "rss_max_mb": max(e["rss_max_mb"] for e in used),
    }
    engine_cpu = per_run["cpu_mean_pct"]
    shared_cpu = sum(s["cpu_mean_pct"] for s in shared.values())
    n = len(run_ids)
    return {
        "engines": engines,
        "engine_per_run": per_run,
        "shared": shared,
        "shared_cpu_pct": shared_cpu,
        "total_cpu_pct": engine_cpu * n + shared_cpu,
        "runs_per_core": 100 / (engine_cpu + shared_cpu / n),
        "bench": usage(samples, BENCH),
    }


def monitor_urls(conninfo: str, run_ids: Sequence[str]) -> dict[str, str]:
    """Each run's /health and /metrics server, as its engine recorded it."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT run_id, monitor_url FROM run_control WHERE run_id = ANY(%s)", (list(run_ids),)
        ).fetchall()
    return {str(run_id): str(url) for run_id, url in rows if url}


def scrape(url: str) -> dict[str, Any]:
    """An engine's /metrics now: per stage, the event time of the newest market data it saw
    and the events handed to it; the largest consumer lag (events not yet read)."""
    found: dict[str, Any] = {"at": time.time(), "market_time": {}, "events_in": {}, "lag": 0}
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:  # noqa: S310
            text = answer.read().decode()
    except OSError as exc:
        return {**found, "error": str(exc)}
    for family in text_string_to_metric_families(text):
        for metric in family.samples:
            stage = metric.labels.get("stage", "")
            if metric.name == "claire_market_data_event_time_seconds":
                found["market_time"][stage] = metric.value
            elif metric.name == "claire_stage_events_in_total":
                found["events_in"][stage] = metric.value
            elif metric.name == "claire_consumer_lag":
                found["lag"] = max(found["lag"], int(metric.value))
    return found


def kept_up(
    conninfo: str,
    run_ids: Sequence[str],
    since: datetime,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Whether each run kept up: running, its newest snapshot at most KEEP_UP_S old, the
    newest market data of its slowest stage at most KEEP_UP_LAG_S behind the clock; with
    its snapshots in the window, heartbeat age, consumer lag and events handled a second."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """
            SELECT r.run_id, r.status,
                   EXTRACT(EPOCH FROM now() - max(s."timestamp"))::float8,
                   count(s.event_id) FILTER (WHERE s."timestamp" >= %s),
                   EXTRACT(EPOCH FROM now() - c.heartbeat_at)::float8,
                   COALESCE(c.epoch, 0)
              FROM runs r
              LEFT JOIN portfolio_snapshots s USING (run_id)
              LEFT JOIN run_control c USING (run_id)
             WHERE r.run_id = ANY(%s)
             GROUP BY r.run_id, r.status, c.heartbeat_at, c.epoch
             ORDER BY r.run_id
            """,
            (since, list(run_ids)),
        ).fetchall()
    found = []
    for run_id, status, age, count, heartbeat, epoch in rows:
        engine = engine_progress(before.get(run_id), after.get(run_id))
        lag = engine["event_time_lag_s"]
        fresh = age is not None and age <= KEEP_UP_S
        current = lag is not None and lag <= KEEP_UP_LAG_S
        found.append(
            {
                "run_id": run_id,
                "status": status,
                "snapshot_age_s": age,
                "snapshots_in_window": count,
                "heartbeat_age_s": heartbeat,
                "engine_starts": epoch,  # more than 1: the supervisor restarted its engine
                **engine,
                "kept_up": status == "running" and fresh and current,
            }
        )
    return found


def engine_progress(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """From two scrapes: how far the slowest stage's market data trails the clock at the
    end, the largest consumer lag, and the events handed to each stage a second."""
    if before is None or after is None or "error" in before or "error" in after:
        said = (after or before or {}).get("error", "no monitor URL recorded")
        return {"event_time_lag_s": None, "consumer_lag": None, "events_per_s": {}, "error": said}
    elapsed = after["at"] - before["at"]
    times = after["market_time"].values()
    return {
        "event_time_lag_s": after["at"] - min(times) if times else None,
        "consumer_lag": after["lag"],
        "events_per_s": {
            stage: (count - before["events_in"].get(stage, 0)) / elapsed
            for stage, count in after["events_in"].items()
        },
    }


def marginal(phases: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """What one more run costs between two N, and the runs one core holds at that cost."""
    steps = []
    for a, b in pairwise(sorted(phases, key=lambda p: p["runs"])):
        if b["runs"] == a["runs"]:
            continue
        extra = (b["total_cpu_pct"] - a["total_cpu_pct"]) / (b["runs"] - a["runs"])
        steps.append(
            {
                "from": a["runs"],
                "to": b["runs"],
                "cpu_pct_per_run": extra,
                "runs_per_core": 100 / extra if extra > 0 else None,
            }
        )
    return steps


def progress(line: str) -> None:
    print(f"[live_runs] {line}", file=sys.stderr, flush=True)


# -- output ---------------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    """The result as Markdown: a table per N, then what one more run costs."""
    lines = [
        f"## Live papertests side by side, measured {result['measured']} on"
        f" {result['cores']} cores (load average"
        f" {result['load_average'][0]:.1f} at the start, {result['load_average'][1]:.1f} at"
        " the end)",
        "",
        "CPU in % of one core; RSS is VmRSS. Runs one core holds = 1 / (E + S / N): E one"
        " engine's mean CPU, S that of what the runs share (feed, supervisor, redis-server,"
        " PostgreSQL), N the runs.",
    ]
    for found in result["phases"]:
        lines += ["", *render_phase(found)]
    if result["marginal"]:
        lines += ["", "| one more run | CPU % per run | runs per core at that cost |"]
        lines += ["|---|---:|---:|"]
        for step in result["marginal"]:
            held = step["runs_per_core"]
            lines.append(
                f"| {step['from']} -> {step['to']} runs | {step['cpu_pct_per_run']:.1f} |"
                f" {'-' if held is None else f'{held:.1f}'} |"
            )
    return "\n".join(lines) + "\n"


def render_phase(found: dict[str, Any]) -> list[str]:
    n, per_run = found["runs"], found["engine_per_run"]
    lines = [
        f"### {n} live run{'s' if n > 1 else ''}: {found['sampled_s']:.0f} s sampled every"
        f" {SAMPLE_S:.0f} s after a {WARMUP_S:.0f} s warm-up",
        "",
        "| process | CPU % mean | CPU % max | RSS MB mean | RSS MB max |",
        "|---|---:|---:|---:|---:|",
    ]
    for run_id, used in found["engines"].items():
        lines.append(_row(f"engine {run_id}", used))
    lines.append(_row("**engine, per run (E)**", per_run))
    for name, used in found["shared"].items():
        label = f"{name} ({used['processes']} processes)" if name == "postgres" else name
        lines.append(_row(label, used))
    shared, total = found["shared_cpu_pct"], found["total_cpu_pct"]
    lines += [
        f"| **shared (S)** | {shared:.1f} | | | |",
        f"| **total** | {total:.1f} | | | |",
        _row(f"{BENCH}, not counted", found["bench"]),
        "",
        f"Runs one core holds: 1 / ({per_run['cpu_mean_pct'] / 100:.3f} +"
        f" {shared / 100:.3f} / {n}) = **{found['runs_per_core']:.1f}**.",
        *_notes(found),
    ]
    return lines


def _row(label: str, used: dict[str, float]) -> str:
    rss = f"{used['rss_mean_mb']:.0f}"
    if "pss_mean_mb" in used:
        rss += f" (PSS {used['pss_mean_mb']:.0f})"
    return (
        f"| {label} | {used['cpu_mean_pct']:.1f} | {used['cpu_max_pct']:.1f} | {rss} |"
        f" {used['rss_max_mb']:.0f} |"
    )


def _notes(found: dict[str, Any]) -> list[str]:
    runs = found["keep_up"]
    ages = ", ".join(
        "none" if r["snapshot_age_s"] is None else f"{r['snapshot_age_s']:.0f} s" for r in runs
    )
    late = [r["run_id"] for r in runs if not r["kept_up"]]
    lags = ", ".join(
        "unknown" if r["event_time_lag_s"] is None else f"{r['event_time_lag_s']:.1f} s"
        for r in runs
    )
    busiest = ", ".join(f"{max(r['events_per_s'].values(), default=0):.0f}" for r in runs)
    starts = ", ".join(str(r["engine_starts"]) for r in runs)
    pushed = found["pushed_per_symbol_per_s"]
    exchange = found["exchange"]
    return [
        f"Kept up: {'yes' if not late else 'NO (' + ', '.join(late) + ')'}; newest snapshot"
        f" {ages} old (at most {KEEP_UP_S:.0f} s), snapshots in the window"
        f" {', '.join(str(r['snapshots_in_window']) for r in runs)}; the newest market data"
        f" of the slowest stage {lags} behind the clock (at most {KEEP_UP_LAG_S:.0f} s);"
        f" events handed to the busiest stage {busiest} a second; engine starts (epochs)"
        f" {starts}.",
        f"`claire papertest start`: {', '.join(f'{s:.1f}' for s in found['start_s'])} s;"
        f" `claire papertest stop --all`: {found['stop_all_s']:.1f} s. The stand-in saw"
        f" {exchange['new_connections']} new websocket connection(s) and"
        f" {exchange['rest_requests']} REST request(s) from the starts to the end of the window.",
        "Pushed per symbol per second: "
        + ", ".join(f"{pushed.get(k, 0):.1f} {k}s" for k in ("book", "trade", "kline"))
        + ".",
    ]


def runs_option(text: str) -> list[int]:
    try:
        runs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not runs or any(not 1 <= n <= 64 for n in runs):
        raise argparse.ArgumentTypeError("each N must be from 1 to 64")
    return runs


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a SIGTERM cleans up as Ctrl-C does


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=runs_option, default=[1, 4, 8], help="N, e.g. 1,4,8")
    parser.add_argument("--minutes", type=float, default=3.0, help="sampled minutes per N")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument(
        "--write", action="store_true", help="also put the Markdown into BENCHMARKS.md"
    )
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error("--minutes must be above 0")
    signal.signal(signal.SIGTERM, _interrupted)
    load = os.getloadavg()[0]
    with live_bench(max(args.runs)) as bench:
        phases = [phase(bench, n, args.minutes) for n in args.runs]
    result = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average": [load, os.getloadavg()[0]],
        "warmup_s": WARMUP_S,
        "sample_s": SAMPLE_S,
        "minutes": args.minutes,
        "formula": "runs_per_core = 1 / (E + S / N) = 100 * N / total_cpu_pct",
        "phases": phases,
        "marginal": marginal(phases),
    }
    print(json.dumps(result, indent=2) if args.json else render(result))
    if args.write:
        write_benchmarks(Path("BENCHMARKS.md"), live=render(result))


if __name__ == "__main__":
    main()
