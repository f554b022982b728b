"""`claire up`, `claire down` and `claire ps`: claire's own Redis and PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from claire_cli.context import state
from claire_cli.output import console, print_json
from engine.runtime.local import LocalRuntime
from engine.runtime.status import ComponentState, ComponentStatus
from engine.settings import Settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def up(ctx: typer.Context, json: JsonOption = False) -> None:
    """Start claire's Redis and PostgreSQL (first use: initdb), wait for them, migrate.

    Idempotent: servers already running are left alone, and a pid file left by a crash
    is cleaned up. Servers given by CLAIRE_REDIS_URL / CLAIRE_DATABASE_URL are only checked.

    Example: claire up && claire ps
    """
    settings = state(ctx).settings()
    runtime = LocalRuntime(settings)
    with console.status("starting Redis and PostgreSQL…", spinner="dots"):
        statuses = runtime.up()
    _report(statuses, json, f"claire is up (state directory: {runtime.paths.home})")
    if not json:
        _notice_crashed_run(settings)


def _notice_crashed_run(settings: Settings) -> None:
    """After a reboot or crash: say so when a papertest is marked running with no engine."""
    from engine.papertest import service
    from engine.papertest.runs import RunRepository

    with service.connect(settings) as conn:
        run = RunRepository(conn).active()
    if run is not None and service.engine_state(settings, run) == "crashed":
        console.print(
            f"[bold yellow]papertest {run.run_id} was interrupted[/] (its engine is not running):"
            f" claire papertest resume {run.run_id}"
        )


def down(ctx: typer.Context, json: JsonOption = False) -> None:
    """Stop claire's Redis and PostgreSQL cleanly (data is kept).

    Example: claire down
    """
    runtime = LocalRuntime(state(ctx).settings())
    with console.status("stopping…", spinner="dots"):
        statuses = runtime.down()
    if json:
        print_json([s.as_dict() for s in statuses])
        return
    _table(statuses)
    console.print("[green]claire is down[/]")


def ps(ctx: typer.Context, json: JsonOption = False) -> None:
    """Show each component with its pid, state and health check.

    Exit code 0 when every component is healthy, 1 otherwise (for monitoring).

    Example: claire ps --json
    """
    statuses = LocalRuntime(state(ctx).settings()).status()
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
            console.print("[red]not healthy[/] — `claire up` starts what is down")
    if not healthy:
        raise typer.Exit(1)


_STATE_STYLE = {
    ComponentState.RUNNING: "green",
    ComponentState.EXTERNAL: "cyan",
    ComponentState.STOPPED: "yellow",
    ComponentState.DOWN: "red",
}


def _table(statuses: list[ComponentStatus]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("component", "state", "pid"):
        table.add_column(column, no_wrap=True)
    table.add_column("health", no_wrap=True)
    table.add_column("endpoint", overflow="fold")
    for status in statuses:
        style = _STATE_STYLE[status.state]
        health = (
            f"[green]ok[/] {status.detail}" if status.healthy else f"[red]fail[/] {status.detail}"
        )
        table.add_row(
            status.name,
            f"[{style}]{status.state}[/]",
            str(status.pid or "-"),
            health,
            status.endpoint or "-",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add up, down and ps to the root app."""
    app.command("up")(up)
    app.command("down")(down)
    app.command("ps")(ps)
