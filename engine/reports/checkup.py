"""`claire status`: the twice-a-day check of everything, as monitoring plugins report it.

Each check has a level: OK, WARNING, CRITICAL or UNKNOWN; the worst one is the exit code
(0, 1, 2, 3), so cron and monitoring systems can use it. Worst means CRITICAL, then UNKNOWN,
then WARNING: a thing known to be broken outranks one that could not be checked. What changed
since the previous check (new alerts and trades, equity and drawdown moves) is kept in
`<home>/state/`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any

import psycopg

from engine.errors import ClaireError
from engine.reports.summary import RunSummary, summarize
from engine.runs.hosts import engine_host
from engine.runs.registry import Run, RunRepository, utc_now
from engine.runtime.base import Runtime
from engine.runtime.select import runtime_for
from engine.settings import Settings
from engine.storage.migrations import migration_status
from engine.storage.outages import OutageLog


class Level(IntEnum):
    """Monitoring-plugin levels; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


#: How bad each level is (the exit codes do not say it: UNKNOWN is 3).
_SEVERITY = {Level.OK: 0, Level.WARNING: 1, Level.UNKNOWN: 2, Level.CRITICAL: 3}


@dataclass(frozen=True)
class Finding:
    """One checked thing."""

    component: str
    level: Level
    detail: str


@dataclass
class Checkup:
    """Every finding, the active run's summary and what changed since last time."""

    findings: list[Finding] = field(default_factory=list)
    #: Every running papertest's summary, oldest first.
    runs: list[RunSummary] = field(default_factory=list)
    #: Run id -> what changed since the previous check.
    changes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def run(self) -> RunSummary | None:
        """The running papertest (the oldest of several)."""
        return self.runs[0] if self.runs else None

    @property
    def level(self) -> Level:
        return max((f.level for f in self.findings), key=_SEVERITY.__getitem__, default=Level.OK)

    def add(self, component: str, level: Level, detail: str) -> None:
        self.findings.append(Finding(component, level, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.level.name,
            "exit_code": int(self.level),
            "findings": [
                {"component": f.component, "level": f.level.name, "detail": f.detail}
                for f in self.findings
            ],
            "papertest": self.run.to_dict() if self.run else None,
            "papertests": [summary.to_dict() for summary in self.runs],
            # the oldest running papertest's (as when one ran at a time), and each one's
            "changes": self.changes.get(self.run.run.run_id, []) if self.run else [],
            "changes_by_run": self.changes,
        }


#: Free disk below these shares of the state directory's file system.
DISK_WARNING, DISK_CRITICAL = 0.10, 0.03
BACKUP_WARNING = timedelta(hours=36)


def check(settings: Settings) -> Checkup:
    """Run every check; never raises for a failing component, it becomes a finding."""
    result = Checkup()
    runtime = runtime_for(settings)
    servers_ok = _servers(runtime, result)
    _disk(settings.home, result)
    _backups(settings.backup_dir, result)
    if not servers_ok:
        result.add("papertest", Level.UNKNOWN, "cannot read the papertest: a server is down")
        return result
    conninfo = runtime.endpoints().database_conninfo
    _migrations(conninfo, result)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            _papertest(settings, conn, result)
    except (psycopg.Error, ClaireError) as exc:
        result.add("papertest", Level.UNKNOWN, f"cannot read the papertest: {exc}")
    return result


def _servers(runtime: Runtime, result: Checkup) -> bool:
    healthy = True
    for component in runtime.status():
        level = Level.OK if component.healthy else Level.CRITICAL
        healthy &= component.healthy
        result.add(component.name, level, f"{component.state}: {component.detail}")
    return healthy


def _disk(home: Path, result: Checkup) -> None:
    target = home if home.exists() else home.parent
    usage = shutil.disk_usage(target)
    free = usage.free / usage.total if usage.total else 0.0
    level = (
        Level.CRITICAL
        if free < DISK_CRITICAL
        else Level.WARNING
        if free < DISK_WARNING
        else Level.OK
    )
    result.add("disk", level, f"{usage.free / 2**30:.1f} GiB free ({free:.0%}) at {target}")


def _backups(directory: Path, result: Checkup) -> None:
    manifests = sorted(directory.glob("*/manifest.json")) if directory.exists() else []
    if not manifests:
        result.add("backup", Level.WARNING, f"no backup in {directory} — claire backup")
        return
    newest = max(manifests, key=lambda p: p.stat().st_mtime)
    age = utc_now() - datetime.fromtimestamp(newest.stat().st_mtime, tz=utc_now().tzinfo)
    level = Level.WARNING if age > BACKUP_WARNING else Level.OK
    result.add("backup", level, f"newest {newest.parent.name}, {_hours(age)} old")


def _migrations(conninfo: str, result: Checkup) -> None:
    try:
        states = migration_status(conninfo)
    except ClaireError as exc:
        result.add("migrations", Level.CRITICAL, exc.message)
        return
    problems = [s for s in states if s.problem]
    pending = [s for s in states if not s.applied]
    if problems:
        result.add("migrations", Level.CRITICAL, "; ".join(str(p.problem) for p in problems))
    elif pending:
        result.add("migrations", Level.WARNING, f"{len(pending)} pending — claire db migrate")
    else:
        result.add("migrations", Level.OK, f"{len(states)} applied")


def _papertest(settings: Settings, conn: psycopg.Connection[Any], result: Checkup) -> None:
    runs = RunRepository(conn).active_runs()
    if not runs:
        result.add("papertest", Level.OK, "none running")
        return
    before = _read_last(settings.home)
    for run in runs:
        # One run: its findings are "engine", "drawdown"; several: each names its run.
        _one_papertest(settings, conn, run, result, "" if len(runs) == 1 else f" {run.run_id}")
        result.changes[run.run_id] = _changes(before.get(run.run_id), result.runs[-1])
    _write_last(settings.home, result.runs)


def _one_papertest(
    settings: Settings, conn: psycopg.Connection[Any], run: Run, result: Checkup, which: str
) -> None:
    host = engine_host(settings)
    engine = "running" if host.alive(run) else "crashed"
    summary = summarize(conn, run, settings, engine)
    result.runs.append(summary)
    stall = OutageLog(conn).stall_of(run.run_id)
    resume = f"claire papertest resume {run.run_id}" if which else "claire papertest resume"
    if engine == "crashed":
        result.add(f"engine{which}", Level.CRITICAL, f"{run.run_id} is down — {resume}")
    elif stall is not None:
        result.add(f"engine{which}", Level.CRITICAL, stall)
    else:
        healthy, detail = host.health(run)
        result.add(f"engine{which}", Level.OK if healthy else Level.WARNING, detail)
    _risk(settings, summary, result, which)


def _risk(settings: Settings, s: RunSummary, result: Checkup, which: str = "") -> None:
    limits = settings.risk
    if s.max_drawdown >= limits.abort_drawdown:
        result.add(
            f"drawdown{which}",
            Level.CRITICAL,
            f"max drawdown {_pct(s.max_drawdown)} at the abort level",
        )
    elif s.daily_drawdown >= limits.max_daily_drawdown or s.max_drawdown >= limits.alert_drawdown:
        result.add(
            f"drawdown{which}",
            Level.WARNING,
            f"daily {_pct(s.daily_drawdown)}, max {_pct(s.max_drawdown)} (alert at "
            f"{_pct(limits.alert_drawdown)})",
        )
    else:
        result.add(
            f"drawdown{which}",
            Level.OK,
            f"daily {_pct(s.daily_drawdown)}, max {_pct(s.max_drawdown)}",
        )
    stale = timedelta(seconds=settings.market.stale_after_seconds)
    if s.market_data_age is not None and s.market_data_age > stale:
        result.add(
            f"market data{which}",
            Level.CRITICAL,
            f"newest market data is {_hours(s.market_data_age)} old",
        )
    elif s.market_data_age is not None:
        result.add(
            f"market data{which}", Level.OK, f"{s.market_data_age.total_seconds():.0f} s old"
        )
    if s.errors:
        result.add(
            f"errors{which}",
            Level.WARNING,
            f"{s.errors} critical alerts or dead letters since start",
        )


_LAST_STATUS = Path("state") / "last-status.json"


def _read_last(home: Path) -> dict[str, dict[str, Any]]:
    """What the previous check saw of each running papertest (by run id)."""
    try:
        before = json.loads((home / _LAST_STATUS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(before, dict):
        return {}
    if "run_id" in before:  # written by a claire that checked one papertest only
        return {str(before["run_id"]): before}
    return {str(k): v for k, v in before.items() if isinstance(v, dict)}


def _write_last(home: Path, summaries: list[RunSummary]) -> None:
    now = utc_now().isoformat()
    seen = {
        s.run.run_id: {
            "at": now,
            "fills": s.fills,
            "alerts": len(s.alerts),
            "equity": str(s.equity),
            "max_drawdown": str(s.max_drawdown),
        }
        for s in summaries
    }
    path = home / _LAST_STATUS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(seen))


def _changes(before: dict[str, Any] | None, s: RunSummary) -> list[str]:
    """What changed since the previous check of the same run."""
    if not before:
        return ["first check of this papertest"]
    changes = [f"since {before['at'][:16].replace('T', ' ')} UTC:"]
    changes.append(f"{s.fills - int(before['fills'])} new fills")
    changes.append(f"{len(s.alerts) - int(before['alerts'])} new alerts")
    move = s.equity - Decimal(before["equity"])
    changes.append(f"equity {move:+,.2f}")
    drawdown = s.max_drawdown - Decimal(before["max_drawdown"])
    if drawdown:
        changes.append(f"max drawdown {drawdown * 100:+.2f} points")
    return changes


def _pct(value: Decimal) -> str:
    return f"{value * 100:.2f} %"


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{span.total_seconds() / 60:.0f} min"
