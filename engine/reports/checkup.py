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
    run: RunSummary | None = None
    changes: list[str] = field(default_factory=list)

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
            "changes": self.changes,
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
    repo = RunRepository(conn)
    run = repo.active()
    if run is None:
        result.add("papertest", Level.OK, "none running")
        return
    host = engine_host(settings)
    engine = "running" if host.alive(run) else "crashed"
    summary = summarize(conn, run, settings, engine)
    result.run = summary
    stall = OutageLog(conn).stall_of(run.run_id)
    if engine == "crashed":
        result.add("engine", Level.CRITICAL, f"{run.run_id} is down — claire papertest resume")
    elif stall is not None:
        result.add("engine", Level.CRITICAL, stall)
    else:
        healthy, detail = host.health(run)
        result.add("engine", Level.OK if healthy else Level.WARNING, detail)
    _risk(settings, summary, result)
    result.changes = _changes(settings.home, run, summary)


def _risk(settings: Settings, s: RunSummary, result: Checkup) -> None:
    limits = settings.risk
    if s.max_drawdown >= limits.abort_drawdown:
        result.add(
            "drawdown", Level.CRITICAL, f"max drawdown {_pct(s.max_drawdown)} at the abort level"
        )
    elif s.daily_drawdown >= limits.max_daily_drawdown or s.max_drawdown >= limits.alert_drawdown:
        result.add(
            "drawdown",
            Level.WARNING,
            f"daily {_pct(s.daily_drawdown)}, max {_pct(s.max_drawdown)} (alert at "
            f"{_pct(limits.alert_drawdown)})",
        )
    else:
        result.add(
            "drawdown", Level.OK, f"daily {_pct(s.daily_drawdown)}, max {_pct(s.max_drawdown)}"
        )
    stale = timedelta(seconds=settings.market.stale_after_seconds)
    if s.market_data_age is not None and s.market_data_age > stale:
        result.add(
            "market data", Level.CRITICAL, f"newest market data is {_hours(s.market_data_age)} old"
        )
    elif s.market_data_age is not None:
        result.add("market data", Level.OK, f"{s.market_data_age.total_seconds():.0f} s old")
    if s.errors:
        result.add(
            "errors", Level.WARNING, f"{s.errors} critical alerts or dead letters since start"
        )


def _changes(home: Path, run: Run, s: RunSummary) -> list[str]:
    """Compare with the previous check of the same run; remember this one."""
    path = home / "state" / "last-status.json"
    now = {
        "run_id": run.run_id,
        "at": utc_now().isoformat(),
        "fills": s.fills,
        "alerts": len(s.alerts),
        "equity": str(s.equity),
        "max_drawdown": str(s.max_drawdown),
    }
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        before = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(now))
    if not before or before.get("run_id") != run.run_id:
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
