"""`claire status` (the twice-a-day check) and `claire logs` (the engine's logs)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claire_cli.context import database, state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_json
from engine.errors import ClaireError, PermanentError
from engine.reports.checkup import Checkup, Level, check
from engine.runs.logs import check_stage, is_from, log_files, log_record, read_log_lines
from engine.runs.registry import RunRepository
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings

_STYLE = {
    Level.OK: "green",
    Level.WARNING: "yellow",
    Level.CRITICAL: "bold red",
    Level.UNKNOWN: "magenta",
}


def status(
    ctx: typer.Context,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check everything: servers, migrations, disk, backups, every running papertest.

    Exit code as monitoring plugins: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN — so cron or a
    monitoring system can run it. Shows what changed since the previous `claire status`.

    Example: claire status && echo all good
    """
    try:
        result = check(state(ctx).settings())
    except ClaireError as exc:
        result = Checkup()
        result.add("claire", Level.UNKNOWN, exc.message)
    if json:
        print_json(result.to_dict())
    else:
        _render(result)
    raise typer.Exit(int(result.level))


def _render(result: Checkup) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("component", "level", "detail"):
        table.add_column(column)
    for finding in result.findings:
        style = _STYLE[finding.level]
        table.add_row(
            finding.component, f"[{style}]{finding.level.name}[/]", escape(as_typed(finding.detail))
        )
    console.print(table)
    for s in result.runs:
        console.print(
            f"papertest {s.run.run_id}: equity {s.equity:,.2f} "
            f"(return {s.total_return * 100:.2f} %), {s.fills} fills, "
            f"exposure {s.exposure_pct * 100:.2f} %"
        )
        changes = result.changes.get(s.run.run_id)
        if changes:
            console.print("  " + " ".join(changes) if len(result.runs) > 1 else " ".join(changes))
    console.print(f"[{_STYLE[result.level]}]{result.level.name}[/]")


def logs(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Run id (default: the newest).")
    ] = None,
    stage: Annotated[
        str | None, typer.Argument(help="Only lines from this stage or logger.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option(help="How many of the last lines to show.", min=1)] = 50,
) -> None:
    """Print a papertest's engine log (JSON lines, archived per day of the run).

    Docker runtime: the output of one container, STAGE naming it (engine, redis, postgres,
    prometheus, grafana; default engine), or the engine container's lines of one stage
    (signal, risk, execution, portfolio, persistence).

    Examples:
      claire logs
      claire logs risk --follow
    """
    settings = state(ctx).settings()
    if settings.runtime is RuntimeKind.DOCKER:
        _container_logs(settings, stage or "engine", lines, follow)
        return

    with database(settings) as conn:
        run = RunRepository(conn).get(run_id)
    files = log_files(settings.home, run.run_id)
    records = [record for path in files for record in read_log_lines(path)]
    if stage is not None:
        check_stage(stage, records, run.run_id)
    if not files:
        console.print(f"no log yet for {run.run_id}")
        return
    records = [record for record in records if _wanted(record, stage)]
    for record in records[-lines:]:
        _print(record)
    if follow:
        _follow(files[-1], stage)


def _container_logs(settings: Settings, role: str, lines: int, follow: bool) -> None:
    from engine.runtime.docker_runtime import DockerRuntime
    from engine.runtime.docker_specs import ENGINE_ROLE
    from engine.services.pipeline import STAGE_NAMES

    # A stage runs in the engine container: its lines are those that name it.
    only = role if role in STAGE_NAMES else None
    container = ENGINE_ROLE if only else role
    runtime = DockerRuntime(settings)
    if container not in runtime.roles():
        raise PermanentError(
            f"{role!r} is no container of project {runtime.project}: choose one of "
            f"{', '.join(runtime.roles())}, or a stage of the engine ({', '.join(STAGE_NAMES)})"
        )
    try:
        tail = 10_000 if only else lines  # a stage: its last `lines` of the container's latest
        found = runtime.logs(container, tail=tail, follow=follow)
        shown = (line for line in found if only is None or only in line)
        for line in shown if only is None or follow else list(shown)[-lines:]:
            console.print(escape(line))
    except KeyboardInterrupt:
        return


def _wanted(record: dict[str, str], stage: str | None) -> bool:
    return stage is None or is_from(record, stage)


def _print(record: dict[str, str]) -> None:
    level = record.get("level", "INFO")
    style = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}.get(level, "dim")
    console.print(
        f"{escape(record.get('ts', '')[:19])} [{style}]{escape(f'{level:<7}')}[/] "
        f"{escape(record.get('logger', ''))}: {escape(record.get('message', ''))}"
    )
    if record.get("error"):
        console.print(escape(record["error"]))


def _follow(path: object, stage: str | None) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    with path.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(0, 2)
        try:
            while True:
                line = handle.readline()
                if not line:
                    time.sleep(0.5)
                    continue
                if line.strip() and _wanted(record := log_record(line), stage):
                    _print(record)
        except KeyboardInterrupt:
            return
