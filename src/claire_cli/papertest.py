"""`claire papertest start/stop/status/list/report/resume`: the product's main job."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table

from claire_cli import groups
from claire_cli.arguments import JsonOption, formats_option
from claire_cli.compare import compare
from claire_cli.context import database, state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_error, print_json, print_warning
from engine import reports
from engine.durations import format_duration
from engine.errors import PermanentError
from engine.reports.summary import RunSummary, summarize
from engine.runs import service
from engine.runs.control import RunControl
from engine.runs.hosts import engine_host
from engine.runs.matrix import read_matrix, repeated
from engine.runs.registry import RunRepository
from engine.settings import Settings
from engine.strategy.params import given_params, strategy_label

app = typer.Typer(
    help="Run a strategy against live or recorded market data with simulated execution.",
    no_args_is_help=True,
)

RunArgument = Annotated[
    str | None, typer.Argument(help="Run id (or a unique prefix); default: the newest run.")
]
GroupOption = Annotated[
    str | None,
    typer.Option("--group", help="The runs of a group (its id, or a unique prefix of it)."),
]


@app.command()
def start(
    ctx: typer.Context,
    duration: Annotated[str, typer.Option(help="Planned length: 90m, 12h, 7d.")] = "",
    capital: Annotated[str, typer.Option(help="Initial capital in the quote currency.")] = "",
    symbols: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated symbols, each once. Default: CLAIRE_PAPERTEST_SYMBOLS; for"
            " replay:PATH, the symbols its files hold."
        ),
    ] = None,
    source: Annotated[str, typer.Option(help="mexc, synthetic or replay:PATH.")] = "",
    speed: Annotated[str, typer.Option(help="realtime, max or a multiple like 60.")] = "",
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            help="Strategy name or dotted path; repeated, one run each, started as a group.",
        ),
    ] = None,
    matrix: Annotated[
        Path | None,
        typer.Option(
            help="A TOML file of runs ([[run]] with strategy, name, params): one run each,"
            " started as a group over the same source, period and capital.",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="A strategy parameter, key=value (repeat it for each one)."),
    ] = None,
    params: Annotated[
        Path | None,
        typer.Option(
            help="A TOML file of strategy parameters (--param wins over it; both win over"
            " CLAIRE_STRATEGY_PARAMS)."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to recognise the run by.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic market.")] = None,
    record: Annotated[
        bool | None,
        typer.Option(
            help="Record the market data for a later replay (default: live runs do, for "
            "`claire papertest compare RUN --replay`)."
        ),
    ] = None,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Skip the backup taken before the run.")
    ] = False,
    foreground: Annotated[
        bool, typer.Option(help="Show a live view; Ctrl-C stops the run gracefully.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Check everything, register the run, and start its engine in the background.

    Defaults come from the settings (CLAIRE_PAPERTEST_*, CLAIRE_MARKET_SOURCE). A replay's
    files are read through first: a bad row stops the start (nothing registered, no backup)
    with its file and line; gaps between candles are a warning. It plays only --symbols
    (each must be in the files), or else every symbol the files hold.

    Examples:
      claire papertest start --duration 7d --symbols BTCUSDT,ETHUSDT
      claire papertest start --duration 2h --source replay:btc.parquet --speed max
      claire papertest start --duration 1d --source replay:data/ --symbols ETHUSDT
      claire papertest start --duration 30m --source synthetic --foreground
      claire papertest start --duration 1d --source synthetic --param lookback_minutes=30
      claire papertest start --duration 2d --source synthetic --matrix runs.toml
      claire papertest start --source synthetic --strategy momentum \\
          --strategy examples.strategies.ema_cross:EmaCross

    A group's runs each have their own engine and report; `claire papertest compare
    --group GROUP` sets them side by side.
    """
    cli = state(ctx)
    settings = cli.settings()
    strategies = strategy or [settings.papertest.strategy]
    if matrix is not None and strategy:
        raise PermanentError("give --strategy or --matrix, not both (a matrix names each run's)")
    common = given_params(param or [], params, configured=settings.papertest.strategy_params)
    parameters = service.make_parameters(
        duration=duration or settings.papertest.duration,
        capital=capital or str(settings.papertest.capital),
        symbols=symbols,
        source=source or _default_source(settings),
        speed=speed or ("realtime" if (source or settings.market.source) == "mexc" else "max"),
        strategy=strategies[0],
        record=record,
        seed=settings.market.synthetic_seed if seed is None else seed,
        default_symbols=settings.papertest.symbols,
        strategy_params=common,
    )
    members: list[service.Member] = []
    if matrix is not None:
        members = read_matrix(matrix, common)
    elif len(strategies) > 1:
        members = repeated(strategies, common, name)
    try:
        started = service.start_papertest(
            settings, parameters, name=name, members=members, backup=not no_backup,
            env_file=cli.env_file, step=console.status,
        )  # fmt: skip
    except service.PreflightError as refused:
        _render_refusal(refused, json)
        raise
    _render_started(started, json)
    if foreground and started.group_id is not None:
        groups.follow(settings, started.runs)
    elif foreground:
        _follow(settings, started.run.run_id)


def _render_refusal(refused: service.PreflightError, json: bool) -> None:
    """What passed before the start was refused (the error itself is its own line)."""
    if json:  # stdout stays JSON: what passed and what did not; the error on stderr
        print_json(
            {
                "started": False,
                "passed": dict(refused.passed),
                "problems": refused.problems,
                "hint": refused.hint,
            }
        )
        return
    for what, result in refused.passed:
        console.print(f"  {what}: {escape(as_typed(result))}")


def _render_started(started: service.Started, json: bool) -> None:
    run = started.run
    for warning in started.warnings:
        print_warning(warning)
    if json:
        every = [
            {"run_id": r.run_id, "name": r.name, "engine": e, "parameters": r.parameters.to_json()}
            for r, e in zip(started.runs, started.engines, strict=True)
        ]
        print_json({**every[0], "group_id": started.group_id, "runs": every})
        return
    if started.backup_id is not None:
        console.print(f"backup {started.backup_id} taken")
    group = started.group_id
    if group is None:
        console.print(f"[green]started[/] papertest [bold]{run.run_id}[/] ({started.engine})")
        console.print(as_typed(f"  follow it:  claire papertest status {run.run_id} --watch"))
        console.print(as_typed(f"  stop it:    claire papertest stop {run.run_id}"))
        return
    console.print(f"[green]started[/] group [bold]{group}[/]: {len(started.runs)} papertests")
    for each, engine in zip(started.runs, started.engines, strict=True):
        named = f" ({escape(each.name)})" if each.name else ""
        label = strategy_label(each.parameters.strategy, each.parameters.strategy_params)
        console.print(f"  {each.run_id}{named}: {escape(label)} ({engine})")
    console.print(as_typed(f"  follow them:  claire papertest status --group {group} --watch"))
    console.print(as_typed(f"  compare them: claire papertest compare --group {group}"))
    console.print(as_typed(f"  stop them:    claire papertest stop --group {group}"))


def _default_source(settings: Settings) -> str:
    if settings.market.source == "replay":
        return f"replay:{settings.market.replay_path}"
    return settings.market.source


#: How long `start --foreground` waits for the engine to write the report after the run ends.
REPORT_WAIT_S = 300.0


def _follow(settings: Settings, run_id: str) -> None:
    """Refresh the status until the run ends; Ctrl-C asks it to stop gracefully."""
    try:
        with Live(console=console, refresh_per_second=2) as live:
            summary = _summary(settings, run_id)
            while summary.engine == "running":
                live.update(_render(summary))
                time.sleep(1)
                summary = _summary(settings, run_id)
            live.update(_render(summary))
    except KeyboardInterrupt:
        console.print("stopping gracefully (final snapshot and report)…")
        with database(settings) as conn:
            service.stop(settings, conn, RunRepository(conn).get(run_id), None, timeout=120)
        return
    # The run is recorded as ended before its engine writes the report: wait for the engine.
    with console.status("writing the report"):
        engine_host(settings).wait_for_exit(summary.run, timeout=REPORT_WAIT_S)
    written = reports.report_dir(settings, run_id)
    if (written / "report.html").exists():
        console.print(
            escape(as_typed(f"report: {written}  (claire papertest report {run_id} --check)"))
        )


def _summary(settings: Settings, run_id: str | None) -> RunSummary:
    with database(settings) as conn:
        run = RunRepository(conn).get(run_id)
        return summarize(conn, run, settings, service.engine_state(settings, run))


@app.command()
def status(
    ctx: typer.Context,
    run_id: RunArgument = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Refresh every 2 s until the run ends (or Ctrl-C); piped, one line each time.",
        ),
    ] = False,
    group: GroupOption = None,
    json: JsonOption = False,
) -> None:
    """Show a papertest's progress, equity, PnL, drawdown, exposure, positions and alerts.

    Several running at once (or --group): one line each, side by side.

    With --watch it refreshes until the run ends, then shows the final state (exit 0); when
    stdout is not a terminal it prints one plain line per refresh instead. When the engine has
    crashed and nothing restarts it (no supervisor), or it stays down for 5 minutes, the
    watch ends with exit 1 and the command that resumes the run.

    Examples:
      claire papertest status
      claire papertest status pt-20261124-0312 --watch
      claire papertest status --watch | tee status.log
      claire papertest status --group grp-20261207-1530 --watch
    """
    settings = state(ctx).settings()
    with database(settings) as conn:
        runs = groups.chosen(conn, run_id, group, every_active=True)
    if len(runs) > 1 or group is not None:
        if json:
            print_json([s.to_dict() for s in groups.summaries(settings, runs)])
        elif watch:
            groups.follow(settings, runs)
        else:
            console.print(groups.side_by_side(groups.summaries(settings, runs)))
        return
    summary = _summary(settings, runs[0].run_id)
    if json:
        print_json(summary.to_dict())
        return
    if not watch:
        console.print(_render(summary))
        return
    with contextlib.suppress(KeyboardInterrupt):
        _watch(settings, summary)


#: How often `papertest status --watch` reads the run again.
WATCH_INTERVAL_S = 2.0


#: How long `--watch` waits for a crashed engine to come back before it gives up.
CRASH_PATIENCE_S = 300.0


def _watch(settings: Settings, summary: RunSummary) -> None:
    """Refresh until the run has ended: a live view on a terminal, else a line each time.

    A crashed engine that nothing restarts (or that stays down for CRASH_PATIENCE_S) ends the
    watch with exit 1 and the command that resumes it."""
    run_id = summary.run.run_id
    crashed_since: float | None = None
    live: Live | None = None
    if console.is_terminal:
        live = Live(_render(summary), console=console, refresh_per_second=1)
    with live or contextlib.nullcontext():
        if live is None:
            console.print(escape(_line(summary)))
        while summary.run.running:
            if summary.engine == "crashed":
                crashed_since = crashed_since or time.monotonic()
                orphaned = _orphaned(settings, time.monotonic() - crashed_since)
                if orphaned:
                    if live is not None:
                        live.stop()
                    print_error(f"the engine of {run_id} is down: {orphaned}")
                    console.print(as_typed(f"  resume it:  claire papertest resume {run_id}"))
                    raise typer.Exit(1)
            else:
                crashed_since = None
            time.sleep(WATCH_INTERVAL_S)
            summary = _summary(settings, run_id)
            if live is None:
                console.print(escape(_line(summary)))
            else:
                live.update(_render(summary))


def _orphaned(settings: Settings, down_for: float) -> str | None:
    """Why nobody will bring a crashed engine back, or None while something still may."""
    restarter = service.restarter(settings)
    if restarter is None:
        return "nothing restarts it (no supervisor runs)"
    if down_for >= CRASH_PATIENCE_S:
        waited = format_duration(timedelta(seconds=down_for))
        return f"{restarter} has not brought it back in {waited}"
    return None


def _line(s: RunSummary) -> str:
    """One plain line of the status, for a pipe or a log file (the wall-clock time first)."""
    ended = f" ({s.run.end_reason})" if s.run.end_reason else ""
    at = s.last_event_time
    played = f", event time {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if at else ""
    return (
        f"{datetime.now().astimezone():%H:%M:%S} {s.run.run_id} {s.engine}{ended}: "
        f"{s.progress * 100:.0f} % done, equity {s.equity:,.2f} "
        f"(return {_pct(s.total_return)}), max drawdown {_pct(s.max_drawdown)}, "
        f"{s.fills} fills{played}"
    )


def _pct(value: object) -> str:
    return f"{float(str(value)) * 100:.2f} %"


def _quality(s: RunSummary) -> str:
    """Missing minutes per symbol, stale episodes and resumes, in one line."""
    missing = (
        "missing minutes " + ", ".join(f"{k} {v}" for k, v in s.missing_minutes.items())
        if s.missing_minutes
        else "missing minutes not counted yet"
    )
    return f"{missing}; {s.stale_episodes} stale episodes; {s.resumes} resumes"


def _render(s: RunSummary) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    _render_state(grid, s)
    _render_figures(grid, s)
    return grid


def _render_state(grid: Table, s: RunSummary) -> None:
    """Which run, how its engine is, what the supervisor and the data say."""
    state_style = {"running": "green", "crashed": "bold red"}.get(s.engine, "yellow")
    title = f"[bold]{s.run.run_id}[/]" + (f" ({escape(s.run.name)})" if s.run.name else "")
    grid.add_row("papertest", title)
    ended = f" — {escape(s.run.end_reason)}" if s.run.end_reason else ""
    grid.add_row("state", f"[{state_style}]{s.engine}[/]{ended}")
    if s.engine == "crashed":
        grid.add_row("", as_typed(f"the engine is down: claire papertest resume {s.run.run_id}"))
    if s.engine == "running" and s.held_by and s.heartbeat_age is not None:
        beat = format_duration(s.heartbeat_age)
        grid.add_row("engine", f"{escape(s.held_by)}, heartbeat {beat} ago")
    if s.stalled:
        grid.add_row("", f"[bold red]{escape(s.stalled)}[/]")
    if s.outages:
        ongoing = f", {s.outages_ongoing} still going on" if s.outages_ongoing else ""
        grid.add_row("outages", f"{s.outages} recorded by the supervisor{ongoing}")
    grid.add_row("data", _quality(s))


def _render_figures(grid: Table, s: RunSummary) -> None:
    """Progress, money, risk, trades and the latest alerts."""
    bar = ProgressBar(total=1.0, completed=float(s.progress), width=30)
    grid.add_row("progress", bar)
    grid.add_row(
        "",
        f"{format_duration(s.elapsed)} of {format_duration(s.planned)}, "
        f"{format_duration(s.remaining)} left",
    )
    grid.add_row("equity", f"{s.equity:,.2f} (return {_pct(s.total_return)})")
    grid.add_row("PnL", f"realized {s.realized_pnl:,.2f}, unrealized {s.unrealized_pnl:,.2f}")
    grid.add_row(
        "drawdown",
        f"daily {_pct(s.daily_drawdown)} (limit {_pct(s.limits['max_daily_drawdown'])}), "
        f"max {_pct(s.max_drawdown)} (abort at {_pct(s.limits['abort_drawdown'])})",
    )
    grid.add_row("exposure", f"{_pct(s.exposure_pct)} (limit {_pct(s.limits['max_exposure'])})")
    held = ", ".join(f"{p['symbol']} {p['quantity']}" for p in s.positions) or "none"
    grid.add_row("positions", held)
    win = _pct(s.win_rate) if s.win_rate is not None else "n/a"
    grid.add_row("trades", f"{s.fills} fills, {s.round_trips} round trips, win rate {win}")
    if s.last_event_time is not None:
        grid.add_row("event time", f"{s.last_event_time:%Y-%m-%d %H:%M:%S} UTC")
    if s.market_data_age is not None:
        grid.add_row("market data", f"{format_duration(s.market_data_age)} old")
    grid.add_row("alerts", f"{len(s.alerts)} (errors: {s.errors})")
    for alert in s.alerts[:5]:
        grid.add_row(
            "", f"{alert['ts_event']:%m-%d %H:%M} {alert['level']} {escape(alert['message'])}"
        )


@app.command()
def stop(
    ctx: typer.Context,
    run_id: RunArgument = None,
    reason: Annotated[str | None, typer.Option(help="Why; recorded with the run.")] = None,
    group: GroupOption = None,
    every: Annotated[bool, typer.Option("--all", help="Every running papertest.")] = False,
) -> None:
    """Stop a papertest gracefully: final snapshot, end recorded, report written.

    With several running, say which: a run id, --group or --all.

    Examples:
      claire papertest stop --reason "strategy change"
      claire papertest stop --group grp-20261207-1530
      claire papertest stop --all
    """
    settings = state(ctx).settings()
    with database(settings) as conn:
        if every or group is not None:
            runs = [r for r in groups.chosen(conn, run_id, group, every_active=True) if r.running]
        else:
            runs = [groups.one_or_ask(conn, run_id, "stop")]
        for run in runs:  # ask them all at once: each engine ends by itself
            if run.running and len(runs) > 1:
                RunControl(conn).request_stop(run.run_id, reason)
        for run in runs:
            with console.status(f"stopping {run.run_id} (final snapshot and report)"):
                outcome = service.stop(settings, conn, run, reason)
            messages = {
                "stopped": "[green]stopped[/] "
                + escape(as_typed(f"{run.run_id}; report: claire papertest report {run.run_id}")),
                "marked": f"{run.run_id}'s engine was down; recorded it as stopped",
                "not running": f"{run.run_id} is not running ({run.status})",
            }
            console.print(messages[outcome])
    if not runs:
        console.print("no papertest is running")


@app.command()
def resume(ctx: typer.Context, run_id: RunArgument = None, group: GroupOption = None) -> None:
    """Continue a papertest whose engine crashed (or the machine rebooted).

    Positions, cash and high-water marks come back from the database; the downtime is
    recorded as a gap. With --group, every crashed run of the group.

    Examples:
      claire papertest resume
      claire papertest resume --group grp-20261207-1530
    """
    cli = state(ctx)
    settings = cli.settings()
    with database(settings) as conn:
        runs = groups.chosen(conn, run_id, group)
    if group is not None:
        runs = [r for r in runs if service.engine_state(settings, r) in ("crashed", "failed")]
        if not runs:
            console.print(f"no run of {group} is to resume")
    for each in runs:
        with console.status(f"starting the engine of {each.run_id}"):
            run, engine = service.resume(settings, each.run_id, env_file=cli.env_file)
        if engine == "running already":
            console.print(f"{run.run_id} is running already")
        else:
            console.print(f"[green]resumed[/] {run.run_id} ({engine})")


@app.command("list")
def list_runs(ctx: typer.Context, group: GroupOption = None, json: JsonOption = False) -> None:
    """List every papertest (or a group's): status, when it started, the event time it
    played, return and max drawdown. A run of a group shows its group under its id.

    A run starts on the wall clock; its market data has event time of its own (a replay's
    is the recording's; a live run's follows the wall clock).
    Example: claire papertest list --json
    """
    settings = state(ctx).settings()
    with database(settings) as conn:
        repo = RunRepository(conn)
        runs = repo.every() if group is None else repo.group(group)
        summaries = [summarize(conn, r, settings, service.engine_state(settings, r)) for r in runs]
    if json:
        print_json([s.to_dict() for s in summaries])
        return
    if not summaries:
        console.print(as_typed("no papertest yet — claire papertest start"))
        return
    console.print(_runs_table(summaries))


def _runs_table(summaries: list[RunSummary]) -> Table:
    """The runs, one a row, the name under the id. An id is printed whole (every other
    command takes it); names and times wrap to fit. Each time column has one basis, named
    in its header: a run starts on the wall clock, its market data has event time."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    longest = max(len(s.run.group_id or s.run.run_id) for s in summaries)
    table.add_column("run", width=longest, overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("started (wall clock, UTC)", min_width=10)
    table.add_column("event time played (UTC)", min_width=10)
    for column in ("return", "max drawdown", "trades"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in summaries:
        name = f"\n[dim]{escape(s.run.name)}[/]" if s.run.name else ""
        if s.run.group_id:
            name += f"\n[dim]{s.run.group_id}[/]"
        table.add_row(
            s.run.run_id + name,
            s.engine,
            _minute(s.run.started_at),
            _event_span(s),
            _pct(s.total_return),
            _pct(s.max_drawdown),
            str(s.fills),
        )
    return table


def _minute(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}"


def _event_span(s: RunSummary) -> str:
    """From the run's first market data to its last (so far, while it runs)."""
    first, last = s.run.event_start, s.run.event_end or s.last_event_time
    if first is None:
        return "-"
    if last is None:
        return f"{_minute(first)} →"
    end = _minute(last)
    same_day = end[:10] == _minute(first)[:10]
    return f"{_minute(first)} → {end[11:] if same_day else end}"


#: `claire papertest report --check` exits with the verdict: 0 GO, 1 NO-GO, 2 INCONCLUSIVE,
#: and this when no report could be made (no such run, no database).
CHECK_ERROR = 3


@app.command()
def report(
    ctx: typer.Context,
    run_id: RunArgument = None,
    out: Annotated[Path | None, typer.Option(help="Directory (default HOME/reports/RUN).")] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: html,md,json.")
    ] = ",".join(reports.FORMATS),
    check: Annotated[
        bool,
        typer.Option(
            help="Exit with the verdict: 0 GO, 1 NO-GO, 2 INCONCLUSIVE, 3 no report made."
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Write the report: HTML (self-contained), Markdown, JSON and PNG charts.

    Every figure comes from the database; the report of an ended run is the same each time.
    The verdict is GO, NO-GO or INCONCLUSIVE (too few round trips or days of data to judge;
    the criteria are CLAIRE_VERDICT_* settings).

    Examples:
      claire papertest report
      claire papertest report pt-20261124-0312 --format html --out ./reports --check
      claire papertest report --json | jq .verdict
    """
    settings = state(ctx).settings()
    chosen = formats_option(formats, reports.FORMATS)
    try:
        with console.status("computing the report from the database"):
            database(settings).close()  # servers up, migrations current
            written = reports.write_report(settings, run_id, out, chosen)  # loads matplotlib
    except Exception as exc:
        from claire_cli.app import explain  # the root's one-line errors

        message, hint = explain(exc)
        if not check or message is None or state(ctx).debug:
            raise
        print_error(message, hint)
        raise typer.Exit(CHECK_ERROR) from None
    _render_report(written, json)
    if check:
        raise typer.Exit(int(written.report.verdict.outcome))


def _render_report(written: reports.WrittenReport, json: bool) -> None:
    verdict = written.report.verdict
    if json:
        print_json(
            {
                "run_id": written.report.run.run_id,
                "verdict": verdict.label,
                "exit_code": int(verdict.outcome),
                "reasons": verdict.reasons,
                "criteria": [vars(c) for c in verdict.criteria],
                "caveats": written.report.caveats,
                "files": [str(p) for p in written.paths],
            }
        )
    else:
        for path in written.paths:
            console.print(f"wrote {path}")
        for criterion in verdict.criteria:
            mark = "[green]pass[/]" if criterion.passed else "[red]FAIL[/]"
            console.print(
                f"  {mark} {criterion.name} ({criterion.kind}): {escape(criterion.value)}"
                f" (rule {escape(criterion.rule)})"
            )
        colour = {0: "green", 1: "red", 2: "yellow"}[int(verdict.outcome)]
        console.print(
            f"verdict: [{colour}]{verdict.label}[/] — {escape('; '.join(verdict.reasons))}"
        )


@app.command()
def export(
    ctx: typer.Context,
    run_id: RunArgument = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Directory (default HOME/exports/RUN).")] = None,
) -> None:
    """Write the run's trades, orders, snapshots, alerts, decisions and gaps to files.

    Examples:
      claire papertest export --format parquet
      claire papertest export pt-20261124-0312 --out ./analysis
    """
    from engine.reports.export import export_run

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"format {fmt!r}: choose csv or parquet")
    settings = state(ctx).settings()
    with database(settings) as conn:
        run = RunRepository(conn).get(run_id)
        directory = out or settings.home / "exports" / run.run_id
        written = export_run(conn, run.run_id, directory, fmt)  # type: ignore[arg-type]
    for stem, (path, rows) in written.items():
        console.print(f"{stem:<20} {rows:>8,} rows  {path}")


app.command("compare")(compare)
