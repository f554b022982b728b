"""What `claire papertest` does, apart from rendering: preflight, start, stop, resume.

Every step that can fail says why and what to do; nothing is registered until the
preflight passes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from engine.errors import ClaireError, PermanentError
from engine.papertest.durations import parse_duration, parse_speed
from engine.papertest.hosts import engine_host
from engine.papertest.runs import (
    Run,
    RunParameters,
    RunRepository,
    check_source,
    code_version,
    new_run_id,
    settings_hash,
    utc_now,
)
from engine.runtime.kind import RuntimeKind
from engine.runtime.select import runtime_for
from engine.settings import Settings, symbols_problem


class PreflightError(PermanentError):
    """The papertest cannot start; every problem is listed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "; ".join(problems)
        super().__init__(f"cannot start the papertest: {listed}")


@dataclass
class Preflight:
    """What was checked before a start, and what failed."""

    checks: list[tuple[str, str]] = field(default_factory=list)  # (what, result)
    problems: list[str] = field(default_factory=list)

    def ok(self, what: str, result: str = "ok") -> None:
        self.checks.append((what, result))

    def fail(self, what: str, problem: str) -> None:
        self.checks.append((what, f"FAILED: {problem}"))
        self.problems.append(f"{what}: {problem}")


def data_source_name(parameters: RunParameters, started: datetime) -> str:
    """Return the `source` the run's market events carry."""
    if parameters.source == "synthetic":
        from engine.marketdata.source import SyntheticSource

        start = started.replace(second=0, microsecond=0)
        return SyntheticSource(parameters.symbols, start, 0, seed=parameters.seed).name
    if parameters.source.startswith("replay:"):
        from engine.marketdata.source import ReplaySource

        return ReplaySource(Path(parameters.source.removeprefix("replay:"))).name
    return "mexc"


def preflight(
    settings: Settings, parameters: RunParameters, conn: psycopg.Connection[Any]
) -> Preflight:
    """Check everything a start needs; never raises for a problem, lists it instead."""
    from engine.strategy import load_strategy

    report = Preflight()
    problem = symbols_problem(parameters.symbols)
    if problem:
        report.fail("symbols", problem)
    else:
        report.ok("symbols", ", ".join(parameters.symbols))
    for what, check in (
        ("duration", lambda: parse_duration(parameters.duration)),
        ("speed", lambda: parse_speed(parameters.speed)),
        ("strategy", lambda: load_strategy(parameters.strategy, settings.strategy)),
    ):
        try:
            check()
            report.ok(what)
        except (ClaireError, ValueError, ImportError) as exc:
            report.fail(what, getattr(exc, "message", str(exc)))
    _check_source(settings, parameters, report)
    active = RunRepository(conn).active()
    if active is None:
        report.ok("no other papertest running")
    else:
        report.fail("another papertest", f"{active.run_id} is running (claire papertest stop)")
    return report


def _check_source(settings: Settings, parameters: RunParameters, report: Preflight) -> None:
    spec = parameters.source
    try:
        if spec.startswith("replay:"):
            from engine.marketdata.files import market_files

            path = Path(spec.removeprefix("replay:"))
            files = market_files(path)
            _check_visible_to_containers(settings, path)
            report.ok("market data", f"{len(files)} file(s) to replay")
        elif spec == "mexc":
            asyncio.run(_check_mexc(settings, parameters.symbols))
            report.ok("market data", f"MEXC answers at {settings.mexc.rest_url}")
        else:
            report.ok("market data", "synthetic")
    except ClaireError as exc:
        report.fail("market data", exc.message)


def _check_visible_to_containers(settings: Settings, path: Path) -> None:
    """The Docker runtime's engine containers see recorded data under the data directory."""
    if settings.runtime is not RuntimeKind.DOCKER:
        return
    data = settings.data_dir.resolve()
    if not path.resolve().is_relative_to(data):
        raise PermanentError(
            f"{path} is outside {data}, the only directory the engine containers see "
            "(CLAIRE_MARKET_DATA_DIR): move or copy the recording there"
        )


async def _check_mexc(settings: Settings, symbols: tuple[str, ...]) -> None:
    from engine.marketdata.mexc import MexcRest

    async with MexcRest(settings.mexc.rest_url) as rest:
        await rest.validate_symbols(symbols)


def register(
    settings: Settings, parameters: RunParameters, conn: psycopg.Connection[Any], name: str | None
) -> Run:
    """Record a new run (after a passing preflight)."""
    now = utc_now()
    duration = parse_duration(parameters.duration)
    speed = 1.0 if parameters.source == "mexc" else parse_speed(parameters.speed)
    run = Run(
        run_id=new_run_id(now),
        name=name,
        status="running",
        parameters=parameters,
        settings_hash=settings_hash(settings),
        code_version=code_version(),
        data_source=data_source_name(parameters, now),
        started_at=now,
        # Wall clock: unknown for a `--speed max` run (it ends at event_start + duration).
        planned_end=now + duration / speed if speed is not None else None,
        ended_at=None,
        end_reason=None,
        initial_capital=parameters.capital,
    )
    repo = RunRepository(conn)
    created = repo.create(run)
    repo.annotate(created.run_id, {"settings": run_settings(settings)})
    return repo.get(created.run_id)


def run_settings(settings: Settings) -> dict[str, Any]:
    """The settings a run's figures depend on, kept with the run for its report."""
    return {
        "execution": settings.execution.model_dump(mode="json"),
        "risk": settings.risk.model_dump(mode="json"),
        "strategy": settings.strategy.model_dump(mode="json"),
        "stale_after_seconds": settings.market.stale_after_seconds,
        "snapshot_seconds": settings.papertest.snapshot_seconds,
        "quote_currency": settings.papertest.quote_currency,
    }


def normalise(parameters: RunParameters) -> RunParameters:
    """Return the parameters with the source spelled canonically and symbols upper-case."""
    return RunParameters(
        duration=parameters.duration,
        capital=parameters.capital,
        symbols=tuple(s.strip().upper() for s in parameters.symbols if s.strip()),
        source=check_source(parameters.source),
        speed=parameters.speed,
        strategy=parameters.strategy,
        record=parameters.record,
        seed=parameters.seed,
    )


def start_engine(
    settings: Settings, run: Run, *, env_file: Path | None, resume: bool = False
) -> str:
    """Start the run's engine (a process, or the engine containers); return what runs it."""
    return engine_host(settings).start(run, resume=resume, env_file=env_file)


def check_started(settings: Settings, run: Run) -> None:
    """Raise with the engine's own words when it died at start; the run is marked failed.

    `run` is the run as it was before the start."""
    try:
        engine_host(settings).check_started(run)
    except PermanentError as exc:
        with connect(settings) as conn:
            RunRepository(conn).finish(run.run_id, "failed", exc.message[:2000], utc_now())
        raise PermanentError(
            exc.message, hint=exc.hint or f"the whole log: claire logs --run {run.run_id}"
        ) from None


def connect(settings: Settings) -> psycopg.Connection[Any]:
    """Open an autocommit connection to claire's database; start the servers claire manages
    (and apply migrations) only when the database does not answer."""
    runtime = runtime_for(settings)
    conninfo = runtime.endpoints().database_conninfo
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        runtime.up()
        return psycopg.connect(conninfo, autocommit=True)


def engine_state(settings: Settings, run: Run) -> str:
    """`running`, `crashed` (marked running, no engine alive) or the run's end status."""
    if not run.running:
        return run.status
    return "running" if engine_host(settings).alive(run) else "crashed"


def stop(
    settings: Settings,
    conn: psycopg.Connection[Any],
    run: Run,
    reason: str | None,
    timeout: float = 60.0,
) -> str:
    """Stop a run gracefully; return what happened (`stopped`, `not running`, `marked`)."""
    repo = RunRepository(conn)
    if not run.running:
        return "not running"
    if reason:
        repo.set_stop_reason(run.run_id, reason)
    host = engine_host(settings)
    if not host.request_stop(run):  # crashed: nothing to ask, record the stop ourselves
        repo.finish(run.run_id, "stopped", reason or "stopped while the engine was down", utc_now())
        return "marked"
    if not host.wait_for_exit(run, timeout):
        raise PermanentError(
            f"the engine of {run.run_id} did not stop within {timeout:.0f} s",
            hint=f"look at its log: claire logs --run {run.run_id}",
        )
    return "stopped"


def planned(run: Run) -> timedelta:
    return parse_duration(run.parameters.duration)


def make_parameters(
    *,
    duration: str,
    capital: str,
    symbols: str,
    source: str,
    speed: str,
    strategy: str,
    record: bool,
    seed: int,
) -> RunParameters:
    """Build run parameters from command-line text (checked by `normalise` and `preflight`)."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(capital)
    except InvalidOperation:
        raise PermanentError(f"capital {capital!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise PermanentError(f"capital {capital!r} must be a positive amount")
    return normalise(
        RunParameters(
            duration=duration,
            capital=amount,
            symbols=tuple(symbols.split(",")),
            source=source,
            speed=speed,
            strategy=strategy,
            record=record,
            seed=seed,
        )
    )
