"""`claire db migrate` and `claire db status`: the database schema."""

from __future__ import annotations

import typer
from rich.table import Table

from claire_cli.arguments import JsonOption
from claire_cli.context import state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_json
from engine.runtime.select import endpoints
from engine.storage.migrations import MigrationState, apply_migrations, migration_status

app = typer.Typer(
    help="Apply and inspect the database migrations.",
    no_args_is_help=True,
)


def _conninfo(ctx: typer.Context) -> str:
    return endpoints(state(ctx).settings()).database_conninfo


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Apply pending migrations, in order, each in its own transaction.

    Safe to repeat: applied migrations are skipped, and an applied migration whose file
    was edited since is refused. `claire up` migrates too.

    Example: claire db migrate
    """
    applied = apply_migrations(_conninfo(ctx))
    for migration in applied:
        console.print(f"[green]applied[/] {migration.filename}")
    if not applied:
        console.print("database is up to date")


@app.command()
def status(ctx: typer.Context, json: JsonOption = False) -> None:
    """List every migration: applied (when) or pending.

    Exit code 1 when an applied migration was edited since, or is unknown to this claire.

    Example: claire db status --json
    """
    states = migration_status(_conninfo(ctx))
    if json:
        print_json([migration.as_dict() for migration in states])
    else:
        _table(states)
    if any(migration.problem for migration in states):
        raise typer.Exit(1)


def _table(states: list[MigrationState]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("version", "name", "state", "applied at"):
        table.add_column(column)
    for migration in states:
        if migration.problem:
            label = f"[red]{migration.problem}[/]"
        elif migration.applied:
            label = "[green]applied[/]"
        else:
            label = "[yellow]pending[/]"
        applied_at = f"{migration.applied_at:%Y-%m-%d %H:%M:%S %Z}" if migration.applied_at else "-"
        table.add_row(f"{migration.version:04d}", migration.name, label, applied_at)
    console.print(table)
    pending = sum(not migration.applied for migration in states)
    if pending:
        console.print(as_typed(f"{pending} pending — `claire db migrate` applies them"))
