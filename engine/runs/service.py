"""What `claire papertest` does, apart from rendering: preflight, start, stop, resume.

Every step that can fail says why and what to do; nothing is registered until the
preflight passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from engine.durations import parse_duration, parse_speed
from engine.errors import ClaireError, PermanentError
from engine.runs.control import RunControl
from engine.runs.hosts import engine_host
from engine.runs.registry import (
    Run,
    RunParameters,
    RunRepository,
    check_run_name,
    check_source,
    code_version,
    new_run_id,
    recorded_settings,
    settings_hash,
    utc_now,
)
from engine.runtime.select import runtime_for
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings, symbols_problem
from engine.storage.migrations import apply_migrations
from engine.strategy.base import strategy_home
from engine.strategy.params import as_text

if TYPE_CHECKING:
    from engine.marketdata.file_check import MarketDataCheck


class PreflightError(PermanentError):
    """The papertest cannot start; every problem is listed (and what passed, beside them)."""

    def __init__(
        self,
        problems: list[str],
        hint: str | None = None,
        passed: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.problems = problems
        self.passed = list(passed)
        listed = "; ".join(problems)
        super().__init__(f"cannot start the papertest: {listed}", hint=hint)


_FAILED = "FAILED: "


@dataclass
class Preflight:
    """What was checked before a start, what failed, and what to warn about."""

    #: The parameters to register: a replay asked for no symbols gets its files' symbols.
    parameters: RunParameters
    checks: list[tuple[str, str]] = field(default_factory=list)  # (what, result)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What to do about the problems, when claire knows (None: their own words say it).
    hint: str | None = None

    def ok(self, what: str, result: str = "ok") -> None:
        self.checks.append((what, result))

    def fail(self, what: str, problem: str) -> None:
        self.checks.append((what, f"{_FAILED}{problem}"))
        self.problems.append(f"{what}: {problem}")

    def warn(self, what: str, warning: str) -> None:
        self.checks.append((what, f"warning: {warning}"))
        self.warnings.append(f"{what}: {warning}")

    def passed(self) -> list[tuple[str, str]]:
        """The checks that did not fail (a failure is said once, in `problems`)."""
        return [(what, result) for what, result in self.checks if not result.startswith(_FAILED)]


#: What a step of a long command is shown by: `step("backing up")` around its work.
Step = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Started:
    """A papertest that passed its preflight, was registered and whose engine runs."""

    run: Run
    #: What runs its engine (a process id, a container).
    engine: str
    warnings: list[str]
    #: The backup taken before the run (None: none asked for).
    backup_id: str | None


def start_papertest(
    settings: Settings,
    parameters: RunParameters,
    *,
    name: str | None = None,
    backup: bool = True,
    env_file: Path | None = None,
    step: Step = nullcontext,
) -> Started:
    """`claire papertest start`: preflight, a backup, register, start the engine, check it
    started. Nothing is registered or backed up unless the preflight passes
    (`PreflightError`, naming what passed and every problem)."""
    from engine.runtime.listeners import start_warnings

    if name is not None:
        check_run_name(name)  # before any work: nothing checked, backed up or registered
    with step("preflight: settings, servers, migrations, market data"), connect(settings) as conn:
        checked = preflight(settings, parameters, conn)
    if checked.problems:
        raise PreflightError(checked.problems, hint=checked.hint, passed=checked.passed())
    backup_id = None
    if backup:
        from engine.backup.operations import create_backup

        with step("backing up before the run (--no-backup skips it)"):
            made = create_backup(settings, label="before-papertest", env_file=env_file)
        backup_id = made.backup_id
    with connect(settings) as conn:
        run = register(settings, checked.parameters, conn, name)
    with step("starting the engine"):
        engine = start_engine(settings, run, env_file=env_file)
        check_started(settings, run)
    return Started(run, engine, [*checked.warnings, *start_warnings(settings)], backup_id)


def data_source_name(
    parameters: RunParameters, started: datetime, warmup: timedelta = timedelta(0)
) -> str:
    """Return the `source` the run's market events carry (a synthetic market's depends on
    the strategy's `warmup`)."""
    if parameters.source == "synthetic":
        from engine.marketdata.source import SyntheticSource

        start = started.replace(second=0, microsecond=0)
        return SyntheticSource(
            parameters.symbols, start, 0, seed=parameters.seed, warmup=warmup
        ).name
    if parameters.source.startswith("replay:"):
        from engine.marketdata.source import replay_source_name

        return replay_source_name(Path(parameters.source.removeprefix("replay:")))
    return "mexc"


def preflight(
    settings: Settings, parameters: RunParameters, conn: psycopg.Connection[Any]
) -> Preflight:
    """Check everything a start needs; never raises for a problem, lists it instead."""
    from engine.strategy import load_strategy

    report = Preflight(parameters)
    if parameters.symbols or not parameters.source.startswith("replay:"):
        _check_symbols(parameters.symbols, report)  # else the files' symbols, checked with them
    for what, check in (
        ("duration", lambda: parse_duration(parameters.duration)),
        ("speed", lambda: parse_speed(parameters.speed)),
        (
            "strategy",
            lambda: load_strategy(
                parameters.strategy, settings.strategy, parameters.strategy_params
            ),
        ),
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
    _check_monitor(settings, report)
    _check_strategy_in_image(settings, parameters.strategy, report)
    return report


#: The packages the engine image holds: a strategy elsewhere cannot be imported there.
IMAGE_PACKAGES = ("engine", "examples")


def _check_strategy_in_image(settings: Settings, strategy: str, report: Preflight) -> None:
    """The Docker runtime's engine runs in its image: a strategy of the user's own module is
    not there (the local runtime imports it from the working directory)."""
    if settings.runtime is not RuntimeKind.DOCKER or not (":" in strategy or "." in strategy):
        return
    package = strategy.split(":", 1)[0].split(".", 1)[0]
    if package not in IMAGE_PACKAGES:
        report.fail(
            "strategy in the engine image",
            f"{strategy} is a module of your own: the Docker runtime's engine image holds "
            "claire and its examples only; run it on the local runtime (CLAIRE_RUNTIME=local)",
        )


def _check_monitor(settings: Settings, report: Preflight) -> None:
    """The local engine's /health port: taken is fine (it takes a free one), unbindable not."""
    if settings.runtime is not RuntimeKind.LOCAL:
        return  # the engine containers listen inside their own network
    from engine.errors import ListenError
    from engine.runtime.listeners import monitor_port_note

    try:
        note = monitor_port_note(settings.monitor.host, settings.monitor.port)
    except ListenError as exc:
        report.fail("monitor", exc.message)
        return
    report.ok("monitor", note or f"{settings.monitor.host}:{settings.monitor.port}")


def _check_symbols(symbols: tuple[str, ...], report: Preflight, whose: str = "") -> None:
    problem = symbols_problem(symbols)
    if problem:
        report.fail("symbols", problem + whose)
    else:
        report.ok("symbols", ", ".join(symbols) + whose)


def _check_source(settings: Settings, parameters: RunParameters, report: Preflight) -> None:
    spec = parameters.source
    try:
        if spec.startswith("replay:"):
            from engine.marketdata.file_check import check_market_data
            from engine.marketdata.files import market_files

            path = Path(spec.removeprefix("replay:"))
            market_files(path)
            _check_visible_to_containers(settings, path)
            _check_replay(check_market_data(path), report)
        elif spec == "mexc":
            _check_mexc_answers(settings, parameters.symbols, report)
        else:
            report.ok("market data", "synthetic")
    except ClaireError as exc:
        report.fail("market data", exc.message)


def _check_replay(found: MarketDataCheck, report: Preflight) -> None:
    """Every row of the replay's files; the symbols asked for must be in them (none asked
    for: the files' symbols are the run's)."""
    if not found.ok:
        for problem in found.problem_lines():
            report.fail("market data", problem)
        return
    held = sorted(found.symbols)
    if not held:
        report.fail("market data", f"{found.path}: only warmup files (history), nothing to trade")
        return
    report.ok("market data", f"{found.rows:,} rows in {found.files} file(s) checked")
    asked = report.parameters.symbols
    missing = [symbol for symbol in asked if symbol not in found.symbols]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        report.fail(
            "symbols",
            f"{', '.join(missing)} {verb} not in {found.path} (it holds {', '.join(held)})",
        )
        return
    if not asked:
        _check_symbols(tuple(held), report, f" (those of {found.path})")
        report.parameters = replace(report.parameters, symbols=tuple(held))
    warning = found.gap_warning(report.parameters.symbols)
    if warning:
        report.warn("market data", warning)


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


#: What to do when MEXC cannot be reached from here: the sources that need no network.
OFFLINE_HINT = (
    "without MEXC: --source synthetic (a generated market), or --source replay:PATH "
    "(a recording: claire data list shows yours)"
)


def _check_mexc_answers(settings: Settings, symbols: tuple[str, ...], report: Preflight) -> None:
    """MEXC answers and trades `symbols`; unreachable, the offline sources are the hint."""
    from engine.marketdata.mexc.errors import (
        ExchangeBannedError,
        ExchangeForbiddenError,
        ExchangeUnavailableError,
    )

    try:
        asyncio.run(_check_mexc(settings, symbols))
    except (ExchangeUnavailableError, ExchangeForbiddenError, ExchangeBannedError) as exc:
        report.fail(
            "market data", f"MEXC cannot be reached at {settings.mexc.rest_url}: {exc.message}"
        )
        report.hint = OFFLINE_HINT if exc.hint is None else f"{exc.hint}; {OFFLINE_HINT}"
        return
    report.ok("market data", f"MEXC answers at {settings.mexc.rest_url}")


async def _check_mexc(settings: Settings, symbols: tuple[str, ...]) -> None:
    from engine.marketdata.mexc import MexcRest

    async with MexcRest(settings.mexc.rest_url) as rest:
        await rest.validate_symbols(symbols)


def register(
    settings: Settings, parameters: RunParameters, conn: psycopg.Connection[Any], name: str | None
) -> Run:
    """Record a new run (after a passing preflight)."""
    from engine.strategy.base import strategy_parameters, strategy_warmup

    now = utc_now()
    duration = parse_duration(parameters.duration)
    speed = 1.0 if parameters.source == "mexc" else parse_speed(parameters.speed)
    run = Run(
        run_id=new_run_id(now),
        name=check_run_name(name) if name is not None else None,
        status="running",
        parameters=parameters,
        settings_hash=settings_hash(settings, parameters.strategy_params),
        code_version=code_version(),
        data_source=data_source_name(
            parameters,
            now,
            strategy_warmup(parameters.strategy, settings.strategy, parameters.strategy_params),
        ),
        started_at=now,
        # Wall clock: unknown for a `--speed max` run (it ends at event_start + duration).
        planned_end=now + duration / speed if speed is not None else None,
        ended_at=None,
        end_reason=None,
        initial_capital=parameters.capital,
        settings=recorded_settings(
            settings,
            strategy_parameters(parameters.strategy, settings.strategy, parameters.strategy_params),
        ),
    )
    return RunRepository(conn).create(run)


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
        strategy_params=dict(parameters.strategy_params),
        strategy_dir=parameters.strategy_dir or strategy_home(parameters.strategy),
    )


def start_engine(
    settings: Settings, run: Run, *, env_file: Path | None, resume: bool = False
) -> str:
    """Start the run's engine (a process, or the engine containers); return what runs it.

    On the local runtime the supervisor is started too (unless turned off), so a dead server
    or engine is restarted while nobody watches."""
    supervise(settings, env_file)
    return engine_host(settings).start(run, resume=resume, env_file=env_file)


def supervise(settings: Settings, env_file: Path | None) -> int | None:
    """Start the local runtime's supervisor unless it runs or is turned off; its pid."""
    if settings.runtime is not RuntimeKind.LOCAL or not settings.supervisor.enabled:
        return None
    from engine.runtime.supervisor import ensure_supervisor

    pid, _ = ensure_supervisor(settings.home, env_file)
    return pid


def restarter(settings: Settings) -> str | None:
    """What brings a crashed engine back by itself, in words, or None (only `resume` will)."""
    if settings.runtime is not RuntimeKind.LOCAL:
        return f"Docker (restart policy {settings.docker.restart})"
    if not settings.supervisor.enabled:
        return None
    from engine.runtime.supervisor import supervisor_pid

    pid = supervisor_pid(settings.home)
    return None if pid is None else f"the supervisor (pid {pid})"


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


def connect(
    settings: Settings, *, starting: Callable[[str], None] | None = None
) -> psycopg.Connection[Any]:
    """Open an autocommit connection to claire's database with its migrations applied (a
    newer claire on servers that kept running finds its tables). When the database does not
    answer, claire's servers are started first, as `claire up` starts them, after
    `starting` was told so in one line."""
    runtime = runtime_for(settings)
    conninfo = runtime.endpoints().database_conninfo
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        if starting is not None:
            starting(
                f"claire's servers do not answer: starting them ({settings.runtime} runtime;"
                " `claire down` stops them)"
            )
        runtime.up()  # applies the migrations
        return psycopg.connect(conninfo, autocommit=True)
    try:
        apply_migrations(conninfo)
    except BaseException:
        conn.close()
        raise
    return conn


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
    if not run.running:
        return "not running"
    RunControl(conn).request_stop(run.run_id, reason)
    host = engine_host(settings)
    if not host.request_stop(run):  # crashed: nothing to ask, record the stop ourselves
        RunRepository(conn).finish(
            run.run_id, "stopped", reason or "stopped while the engine was down", utc_now()
        )
        return "marked"
    if not host.wait_for_exit(run, timeout):
        raise PermanentError(
            f"the engine of {run.run_id} did not stop within {timeout:.0f} s",
            hint=f"look at its log: claire logs --run {run.run_id}",
        )
    return "stopped"


def resume(settings: Settings, run_id: str | None, *, env_file: Path | None) -> tuple[Run, str]:
    """Start the engine of a crashed run again (`papertest resume`, and the supervisor);
    return the run and what runs it now, or `running already`."""
    with connect(settings) as conn:
        repo = RunRepository(conn)
        run = repo.get(run_id)
        if engine_state(settings, run) == "running":
            return run, "running already"
        if not run.running and run.status != "failed":
            raise PermanentError(
                f"{run.run_id} ended ({run.status}: {run.end_reason}); only a crashed run resumes"
            )
        _check_same_recording(run)
        with conn.transaction():
            repo.reopen(run.run_id)
            RunControl(conn).record_resume(run.run_id)
    engine = start_engine(settings, run, env_file=env_file, resume=True)
    check_started(settings, run)
    return run, engine


def _check_same_recording(run: Run) -> None:
    """A replay resumes only over the files it started with: other bytes are another market."""
    if not run.parameters.source.startswith("replay:") or not run.data_source:
        return
    now = data_source_name(run.parameters, run.started_at)
    if now != run.data_source:
        raise PermanentError(
            f"{run.parameters.source.removeprefix('replay:')} changed since {run.run_id} "
            f"started (its content is {now}, the run's {run.data_source}); only the same "
            "recording resumes: start a new run on it"
        )


def planned(run: Run) -> timedelta:
    return parse_duration(run.parameters.duration)


def make_parameters(
    *,
    duration: str,
    capital: str,
    symbols: str | None,
    source: str,
    speed: str,
    strategy: str,
    record: bool,
    seed: int,
    default_symbols: Sequence[str] = (),
    strategy_params: Mapping[str, Any] | None = None,
) -> RunParameters:
    """Build run parameters from command-line text (checked by `normalise` and `preflight`).

    `symbols` None (not given): `default_symbols`, except for a replay, which plays the
    symbols of its files (the preflight finds them). Given, it must name one at least."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(capital)
    except InvalidOperation:
        raise PermanentError(f"capital {capital!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise PermanentError(f"capital {capital!r} must be a positive amount")
    if symbols is not None and not symbols.replace(",", "").strip():
        raise PermanentError(
            f"symbols {symbols!r} names no symbol: give one at least, like BTCUSDT"
        )
    parameters = normalise(
        RunParameters(
            duration=duration,
            capital=amount,
            symbols=() if symbols is None else tuple(symbols.split(",")),
            source=source,
            speed=speed,
            strategy=strategy,
            record=record,
            seed=seed,
            strategy_params=as_text(strategy_params or {}),
        )
    )
    if symbols is None and not parameters.source.startswith("replay:"):
        return replace(parameters, symbols=tuple(default_symbols))
    return parameters
