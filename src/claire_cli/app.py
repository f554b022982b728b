"""The `claire` command: one Typer app, one module per command group, one error boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from claire_cli import backup, data, db, env, inject, papertest, runtime, status
from claire_cli.context import CliState
from claire_cli.output import print_error
from engine import __version__
from engine.errors import ClaireError
from engine.settings import RuntimeKind


class ClaireGroup(TyperGroup):
    """The root group: turns a known error into one red line and a non-zero exit."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ClaireError as exc:
            debug = isinstance(ctx.obj, CliState) and ctx.obj.debug
            if debug:
                raise
            print_error(exc.message, exc.hint)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="claire",
    cls=ClaireGroup,
    help="Run and watch crypto papertests: a paper-trading engine on live MEXC market data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"claire {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Settings file (default: ./.env).")
    ] = None,
    runtime: Annotated[
        RuntimeKind | None,
        typer.Option(
            "--runtime", help="local (claire's own processes) or docker; default CLAIRE_RUNTIME."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """claire: papertests on live MEXC data with simulated execution.

    Start with `claire up` (starts claire's own Redis and PostgreSQL, or with
    `--runtime docker` everything as containers), then `claire ps`.
    """
    ctx.obj = CliState(env_file=env_file, debug=debug, runtime=runtime)


app.add_typer(env.app, name="env")
app.add_typer(db.app, name="db")
app.add_typer(data.app, name="data")
app.add_typer(papertest.app, name="papertest")
app.add_typer(backup.app, name="backup")
app.add_typer(inject.app, name="inject")
app.command("restore")(backup.restore)
runtime.register(app)
status.register(app)


def main() -> None:
    """Entry point of the `claire` console script."""
    app()
