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
from functools import partial
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
from engine.strategy.params import as_text, strategy_label

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
    """Papertests that passed their preflight, were registered and whose engines run."""

    runs: list[Run]
    #: What runs each run's engine (a process id, a container), in the order of `runs`.
    engines: list[str]
    warnings: list[str]
    #: The backup taken before the runs (None: none asked for).
    backup_id: str | None

    @property
    def run(self) -> Run:
        """The run (the first of a group)."""
        return self.runs[0]

    @property
    def engine(self) -> str:
        return self.engines[0]

    @property
    def group_id(self) -> str | None:
        return self.runs[0].group_id


@dataclass(frozen=True)
class Member:
    """One run of a start: its strategy, that strategy's parameters and its name."""

    strategy: str
    strategy_params: dict[str, str] = field(default_factory=dict)
    name: str | None = None

    def parameters(self, common: RunParameters) -> RunParameters:
        """The run's parameters: `common` (source, period, capital) with this strategy."""
        return replace(
            common,
            strategy=self.strategy,
            strategy_params=dict(self.strategy_params),
            strategy_dir=strategy_home(self.strategy),
        )

    def label(self) -> str:
        """`momentum` or `momentum (lookback_minutes 30)`: how the preflight names it."""
        return strategy_label(self.strategy, self.strategy_params)


def start_papertest(
    settings: Settings,
    parameters: RunParameters,
    *,
    name: str | None = None,
    members: Sequence[Member] = (),
    backup: bool = True,
    env_file: Path | None = None,
    step: Step = nullcontext,
) -> Started:
    """`claire papertest start`: preflight, a backup, register, start the engines, check
    they started. Nothing is registered or backed up unless the preflight passes
    (`PreflightError`, naming what passed and every problem).

    With `members`, one run each over the source, period and capital of `parameters`, as a
    group (the group's runs see one market: one start time, one seed)."""
    from engine.runtime.listeners import start_warnings

    for each in members or (Member(parameters.strategy, name=name),):
        if each.name is not None:  # before any work: nothing checked, backed up or registered
            check_run_name(each.name)
    with step("preflight: settings, servers, migrations, market data"), connect(settings) as conn:
        checked = preflight(settings, parameters, conn, members=members)
    if checked.problems:
        raise PreflightError(checked.problems, hint=checked.hint, passed=checked.passed())
    backup_id = None
    if backup:
        from engine.backup.operations import create_backup

        with step("backing up before the run (--no-backup skips it)"):
            made = create_backup(settings, label="before-papertest", env_file=env_file)
        backup_id = made.backup_id
    common = replace(checked.parameters, queued=_for_workers(settings))
    asked = [(m.parameters(common), m.name) for m in members] or [(common, name)]
    with connect(settings) as conn:
        runs = register_all(settings, asked, conn)
    engines = []
    with step("starting the engine" if len(runs) == 1 else f"starting {len(runs)} engines"):
        for run in runs:
            engines.append(start_engine(settings, run, env_file=env_file))
        for run in runs:
            check_started(settings, run)
    return Started(runs, engines, [*checked.warnings, *start_warnings(settings)], backup_id)


def _for_workers(settings: Settings) -> bool:
    """Whether a new run waits for a worker (`claire worker`) to take it."""
    return settings.runtime is RuntimeKind.LOCAL and settings.papertest.engines == "workers"


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
    settings: Settings,
    parameters: RunParameters,
    conn: psycopg.Connection[Any],
    *,
    members: Sequence[Member] = (),
) -> Preflight:
    """Check everything a start needs; never raises for a problem, lists it instead.

    With `members`, each one's strategy and parameters are checked (by its label)."""
    from engine.strategy import load_strategy

    report = Preflight(parameters)
    if parameters.symbols or not parameters.source.startswith("replay:"):
        _check_symbols(parameters.symbols, report)  # else the files' symbols, checked with them
    checks: list[tuple[str, Callable[[], object]]] = [
        ("duration", lambda: parse_duration(parameters.duration)),
        ("speed", lambda: parse_speed(parameters.speed)),
    ]
    for each in members or (Member(parameters.strategy, parameters.strategy_params),):
        checks.append(
            (
                f"strategy {each.label()}" if members else "strategy",
                partial(load_strategy, each.strategy, settings.strategy, each.strategy_params),
            )
        )
    for what, check in checks:
        try:
            check()
            report.ok(what)
        except (ClaireError, ValueError, ImportError) as exc:
            report.fail(what, getattr(exc, "message", str(exc)))
    _check_source(settings, parameters, report, conn)
    _check_room(settings, conn, max(1, len(members)), report)
    _check_monitor(settings, report)
    for each in members or (Member(parameters.strategy),):
        _check_strategy_in_image(settings, each.strategy, report)
    return report


def _check_room(
    settings: Settings, conn: psycopg.Connection[Any], adding: int, report: Preflight
) -> None:
    """Room for `adding` more papertests beside those running (each of the Docker runtime's
    engine containers runs one at a time)."""
    from engine.runs.registry import STOP_HINT, too_many

    active = RunRepository(conn).active_runs()
    most = settings.papertest.max_active
    engines = settings.docker.engines
    if settings.runtime is RuntimeKind.DOCKER and len(active) + adding > engines:
        running = ", ".join(r.run_id for r in active)
        report.fail(
            "papertests running",
            f"the Docker runtime's {engines} engine container{'s' if engines > 1 else ''}"
            f" run{'' if engines > 1 else 's'} {engines} papertest{'s' if engines > 1 else ''}"
            " at a time"
            + (f" ({running} running)" if active else "")
            + f": CLAIRE_DOCKER_ENGINES={len(active) + adding} runs more",
        )
    elif len(active) + adding > most:
        report.fail("papertests running", too_many(active, adding, most))
        report.hint = STOP_HINT
    else:
        report.ok("papertests running", f"{len(active)} (at most {most} at once)")


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


def _check_source(
    settings: Settings, parameters: RunParameters, report: Preflight, conn: psycopg.Connection[Any]
) -> None:
    spec = parameters.source
    try:
        if spec.startswith("replay:"):
            from engine.marketdata.file_check import check_market_data
            from engine.marketdata.files import market_files

            path = Path(spec.removeprefix("replay:"))
            market_files(path)
            _check_visible_to_containers(settings, path)
            _check_replay(check_market_data(path), report)
        elif spec == "mexc" and _fed_already(settings, parameters.symbols, conn):
            report.ok("market data", "the shared MEXC feed carries these symbols already")
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


def _fed_already(
    settings: Settings, symbols: tuple[str, ...], conn: psycopg.Connection[Any]
) -> bool:
    """Whether the shared live feed runs and carries `symbols` for a running run: MEXC
    checked them when the feed started them, and is not asked again for each run."""
    from engine.marketdata.shared import shares_the_feed

    if not shares_the_feed(settings):
        return False
    from engine.marketdata.shared import wanted_by_runs
    from engine.runtime.feed_process import feed_pid

    if feed_pid(settings.home) is None:
        return False
    return set(symbols) <= set(wanted_by_runs(conn, timedelta()).symbols)


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
    return register_all(settings, [(parameters, name)], conn)[0]


def register_all(
    settings: Settings,
    asked: Sequence[tuple[RunParameters, str | None]],
    conn: psycopg.Connection[Any],
) -> list[Run]:
    """Record new runs started together (after a passing preflight): several are a group,
    with one start time, so that a synthetic market is the same for each of them."""
    from engine.runs.registry import new_group_id

    now = utc_now()
    group_id = new_group_id(now) if len(asked) > 1 else None
    if group_id is not None:  # one market for the group: the longest warm-up for each run
        warmups = [_own_warmup(settings, parameters) for parameters, _ in asked]
        minutes = -(-max(warmups) // MINUTE)
        asked = [(replace(p, warmup_minutes=minutes), name) for p, name in asked]
    runs: list[Run] = []
    for index, (parameters, name) in enumerate(asked, 1):
        run = _new_run(settings, parameters, name, now, group_id)
        if group_id is not None:
            run = replace(run, group_index=index)
        while any(run.run_id == other.run_id for other in runs):  # 4 hex digits: may meet
            run = replace(run, run_id=new_run_id(now))
        runs.append(run)
    return RunRepository(conn).create_all(runs, max_active=settings.papertest.max_active)


MINUTE = timedelta(minutes=1)


def _own_warmup(settings: Settings, parameters: RunParameters) -> timedelta:
    from engine.strategy.base import strategy_warmup

    return strategy_warmup(parameters.strategy, settings.strategy, parameters.strategy_params)


def _new_run(
    settings: Settings,
    parameters: RunParameters,
    name: str | None,
    now: datetime,
    group_id: str | None,
) -> Run:
    from engine.strategy.base import strategy_parameters

    duration = parse_duration(parameters.duration)
    speed = 1.0 if parameters.source == "mexc" else parse_speed(parameters.speed)
    return Run(
        run_id=new_run_id(now),
        name=check_run_name(name) if name is not None else None,
        status="running",
        parameters=parameters,
        settings_hash=settings_hash(settings, parameters.strategy_params),
        code_version=code_version(),
        data_source=data_source_name(
            parameters,
            now,
            parameters.market_warmup(_own_warmup(settings, parameters)),
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
        group_id=group_id,
    )


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
    if run.parameters.source == "mexc":
        feed(settings, env_file)
    return engine_host(settings).start(run, resume=resume, env_file=env_file)


def feed(settings: Settings, env_file: Path | None) -> int | None:
    """Start the shared live feed unless it runs or the runs do not share one; its pid."""
    from engine.marketdata.shared import shares_the_feed

    if not shares_the_feed(settings):
        return None
    from engine.runtime.feed_process import ensure_feed

    pid, _ = ensure_feed(settings.home, env_file)
    return pid


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
    """`running`, `crashed` (marked running, no engine alive), `waiting` (for a worker to
    take it: `claire worker`) or the run's end status."""
    if not run.running:
        return run.status
    if engine_host(settings).alive(run):
        return "running"
    return "waiting" if run.parameters.queued else "crashed"


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


def recording_of(settings: Settings, run: Run) -> Path:
    """Where a run recorded the market data it received (`--record`; live runs by default)."""
    return settings.data_dir / "recordings" / run.run_id


def earlier_replay(settings: Settings, conn: psycopg.Connection[Any], run: Run) -> Run | None:
    """The newest completed replay of `run`'s recording made with today's settings and code
    (`compare --replay` shows it again rather than replaying a week once more); none while
    `run` is running (its recording still grows)."""
    if run.running:
        return None
    source = f"replay:{recording_of(settings, run)}"
    digest = settings_hash(settings, run.parameters.strategy_params)
    for other in RunRepository(conn).every():  # newest first
        if (
            other.parameters.source == source
            and other.status == "completed"
            and other.settings_hash == digest
            and other.code_version == code_version()
            and other.parameters.strategy == run.parameters.strategy
        ):
            return other
    return None


def replay_of(settings: Settings, run: Run, *, env_file: Path | None = None) -> Run:
    """Start a replay of `run`'s own recording through its strategy, parameters and
    settings at full speed (`claire papertest compare RUN --replay`); return the new run.

    The recording's warm-up files are its warm-up (nothing more is marked as history), and
    the replay plays the whole recording: it ends where the paper run's data ended."""
    from engine.marketdata.files import recorded_range

    recording = recording_of(settings, run)
    held = recorded_range(recording) if recording.is_dir() else None
    if held is None:
        raise PermanentError(
            f"{run.run_id} has no recording to replay (at {recording})",
            hint="live runs record what they receive by default; start one with --record",
        )
    minutes = max(1, -(-(held[1] - held[0]) // MINUTE) + 2)  # the last candle's minute too
    parameters = replace(
        run.parameters,
        source=f"replay:{recording}",
        speed="max",
        record=False,
        queued=False,
        warmup_minutes=0,
        duration=f"{minutes}m",
    )
    started = start_papertest(
        settings, parameters, name=f"replay of {run.run_id}", backup=False, env_file=env_file
    )
    return started.runs[0]


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
    record: bool | None,
    seed: int,
    default_symbols: Sequence[str] = (),
    strategy_params: Mapping[str, Any] | None = None,
) -> RunParameters:
    """Build run parameters from command-line text (checked by `normalise` and `preflight`).

    `symbols` None (not given): `default_symbols`, except for a replay, which plays the
    symbols of its files (the preflight finds them). Given, it must name one at least.
    `record` None (not given): a live run records what it receives, the others do not."""
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
            record=source == "mexc" if record is None else record,
            seed=seed,
            strategy_params=as_text(strategy_params or {}),
        )
    )
    if symbols is None and not parameters.source.startswith("replay:"):
        return replace(parameters, symbols=tuple(default_symbols))
    return parameters
