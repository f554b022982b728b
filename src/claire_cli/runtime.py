"""`claire up`, `claire down` and `claire ps`: claire's servers, on either runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from claire_cli.arguments import JsonOption
from claire_cli.context import database, state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_json, print_warning
from engine.errors import PermanentError
from engine.exposure import exposed_listeners
from engine.runs import service
from engine.runtime.select import runtime_for
from engine.runtime.status import ComponentState, ComponentStatus, uptime
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings


@contextmanager
def docker_progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar for image builds (`Step 3/12`) and a line for everything else."""
    if not enabled:
        yield lambda _: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("talking to Docker", total=None)

        def show(line: str) -> None:
            text = line.strip()
            if text.startswith("Step ") and "/" in text.split(" ", 2)[1]:
                done, _, total = text.split(" ", 2)[1].partition("/")
                if done.isdigit() and total.isdigit():
                    progress.update(task, completed=int(done), total=int(total))
                    text = "building the engine image: " + text.split(":", 1)[-1].strip()
            progress.update(task, description=escape(text[:90]))

        yield show


def up(ctx: typer.Context, json: JsonOption = False) -> None:
    """Start claire's servers, wait until they are healthy, apply the migrations.

    Local runtime: Redis and PostgreSQL as processes in the state directory (first use:
    initdb); a pid file left by a crash is cleaned up. Docker runtime: the engine image is
    built when the checkout changed; network, volumes and containers are created, and a
    container is recreated only when its configuration changed. Idempotent either way.
    Servers given by CLAIRE_REDIS_URL / CLAIRE_DATABASE_URL are only checked.

    Examples:
      claire up && claire ps
      claire --runtime docker up
    """
    settings = state(ctx).settings()
    for listener in exposed_listeners(settings):
        print_warning(str(listener))
    docker = settings.runtime is RuntimeKind.DOCKER
    with docker_progress(docker and not json) as show:
        runtime = runtime_for(settings, progress=show)
        if docker:
            statuses = runtime.up()
        else:
            with console.status("starting Redis and PostgreSQL…", spinner="dots"):
                statuses = runtime.up()
    where = (
        f"project {settings.docker.project} on Docker"
        if docker
        else f"state directory: {settings.home}"
    )
    if docker and not json:
        _summarise_changes(getattr(runtime, "changes", []))
    for notice in getattr(runtime, "notices", []):
        console.print(f"[yellow]{escape(as_typed(notice))}[/]")
    supervisor = service.supervise(settings, state(ctx).env_file)
    if supervisor is not None and not json:
        console.print(f"supervisor: pid {supervisor} (restarts a dead server or engine)")
    _report(statuses, json, f"claire is up ({where})")
    if not json:
        _notice_crashed_run(settings)


def _summarise_changes(changes: list[object]) -> None:
    """One line: how many containers were created, recreated, started or left alone."""
    counts: dict[str, int] = {}
    for change in changes:
        action = str(getattr(change, "action", ""))
        counts[action] = counts.get(action, 0) + 1
    if counts:
        order = ("created", "recreated", "started", "removed", "unchanged")
        console.print(", ".join(f"{counts[a]} {a}" for a in order if a in counts))


def _notice_crashed_run(settings: Settings) -> None:
    """After a reboot or crash: say so of each papertest marked running with no engine."""
    from engine.runs import service
    from engine.runs.registry import RunRepository

    with database(settings) as conn:
        runs = RunRepository(conn).active_runs()
    for run in runs:
        if service.engine_state(settings, run) == "crashed":
            console.print(
                f"[bold yellow]papertest {run.run_id} was interrupted[/] (its engine is not"
                " running):" + escape(as_typed(f" claire papertest resume {run.run_id}"))
            )
        elif settings.runtime is RuntimeKind.DOCKER:
            console.print(f"papertest {run.run_id} is running (the engine containers resume it)")


def down(
    ctx: typer.Context,
    volumes: Annotated[
        bool,
        typer.Option(
            "--volumes", help="Docker runtime: also delete the volumes (every database row)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --volumes.")] = False,
    json: JsonOption = False,
) -> None:
    """Stop claire's servers cleanly; their data is kept.

    Docker runtime: the containers and the network are removed, the volumes kept unless
    --volumes (asked to confirm). A running papertest is interrupted, and resumes at the
    next `claire up`.

    Examples:
      claire down
      claire down --volumes --yes
    """
    settings = state(ctx).settings()
    docker = settings.runtime is RuntimeKind.DOCKER
    if volumes and not docker:
        raise PermanentError(
            "--volumes applies to the Docker runtime; the local runtime keeps its data in "
            f"{settings.home}"
        )
    if volumes and not yes:
        typer.confirm(
            f"Delete every volume of project {settings.docker.project}, "
            "with the database and all papertests?",
            abort=True,
        )
    with docker_progress(docker and not json) as show:
        statuses = runtime_for(settings, progress=show).down(volumes=volumes)
    if json:
        print_json([s.as_dict() for s in statuses])
        return
    _table(statuses)
    console.print("[green]claire is down[/]" + (" (volumes deleted)" if volumes else ""))


def ps(ctx: typer.Context, json: JsonOption = False) -> None:
    """Show each component: state, health check, and (Docker) restarts and uptime.

    Exit code 0 when every component is healthy, 1 otherwise (for monitoring).

    Example: claire ps --json
    """
    statuses = runtime_for(state(ctx).settings()).status()
    _report(statuses, json, None)


def _report(statuses: list[ComponentStatus], json: bool, success: str | None) -> None:
    healthy = all(s.healthy for s in statuses)
    if json:
        print_json([s.as_dict() for s in statuses])
    else:
        _table(statuses)
        if healthy and success:
            console.print(f"[green]{success}[/]")
        elif not healthy:
            console.print(
                "[red]not healthy[/] — " + escape(as_typed("`claire up` starts what is down"))
            )
    if not healthy:
        raise typer.Exit(1)


_STATE_STYLE = {
    ComponentState.RUNNING: "green",
    ComponentState.EXTERNAL: "cyan",
    ComponentState.STOPPED: "yellow",
    ComponentState.DOWN: "red",
}


def _table(statuses: list[ComponentStatus]) -> None:
    containers = any(s.restarts is not None for s in statuses)
    table = Table(box=None, pad_edge=False)
    columns = ["component", "state", *(("restarts", "uptime") if containers else ("pid",))]
    for column in columns:
        table.add_column(column, no_wrap=True)
    table.add_column("health", no_wrap=True)
    table.add_column("endpoint", overflow="fold")
    for status in statuses:
        style = _STATE_STYLE[status.state]
        detail = escape(as_typed(status.detail))  # "its pid file is wrong (claire up repairs it)"
        health = f"[green]ok[/] {detail}" if status.healthy else f"[red]fail[/] {detail}"
        middle = (
            [
                str(status.restarts if status.restarts is not None else "-"),
                uptime(status.started_at),
            ]
            if containers
            else [str(status.pid or "-")]
        )
        table.add_row(
            status.name, f"[{style}]{status.state}[/]", *middle, health, status.endpoint or "-"
        )
    console.print(table)
