"""The `claire` command: one Typer app, one module per command group, one error boundary.

Each command's module is imported only when that command runs (or shows its own help), so
`claire --help` loads no engine module and starts in a fraction of a second.
"""

from __future__ import annotations

import errno
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from claire_cli.context import CliState
from claire_cli.output import print_error
from engine.errors import ClaireError
from engine.runtime_kind import RuntimeKind


@dataclass(frozen=True)
class Lazy:
    """Where a command lives: a Typer app (a group) or a function, and its one-line help."""

    module: str
    attribute: str
    help: str


#: Every command, in the order `claire --help` lists them. The help is the first line of the
#: command's own docstring or its group's help (tests/cli/test_app_cli.py keeps them equal).
COMMANDS: dict[str, Lazy] = {
    "up": Lazy(
        "claire_cli.runtime",
        "up",
        "Start claire's servers, wait until they are healthy, apply the migrations.",
    ),
    "down": Lazy(
        "claire_cli.runtime", "down", "Stop claire's servers cleanly; their data is kept."
    ),
    "boot": Lazy(
        "claire_cli.boot",
        "boot",
        "Print (or install) the boot entry that starts claire after a reboot.",
    ),
    "ps": Lazy(
        "claire_cli.runtime",
        "ps",
        "Show each component: state, health check, and (Docker) restarts and uptime.",
    ),
    "worker": Lazy(
        "claire_cli.worker",
        "worker",
        "Take the papertests that wait for a worker and run them, one at a time, until Ctrl-C.",
    ),
    "status": Lazy(
        "claire_cli.status",
        "status",
        "Check everything: servers, migrations, disk, backups, every running papertest.",
    ),
    "logs": Lazy(
        "claire_cli.status",
        "logs",
        "Print a papertest's engine log (JSON lines, archived per day of the run).",
    ),
    "papertest": Lazy(
        "claire_cli.papertest",
        "app",
        "Run a strategy against live or recorded market data with simulated execution.",
    ),
    "backup": Lazy(
        "claire_cli.backup",
        "app",
        "Back up claire's database and settings; every backup can be verified by a restore.",
    ),
    "restore": Lazy(
        "claire_cli.backup",
        "restore",
        "Replace claire's database with a backup's (a safety backup is taken first).",
    ),
    "inject": Lazy(
        "claire_cli.inject",
        "app",
        "Publish edge cases into a dedicated engine (its own run id and streams) and verify "
        "the outcome in PostgreSQL and Redis. Exit code 1 when an expectation fails.",
    ),
    "data": Lazy(
        "claire_cli.data",
        "app",
        "Download, list and inspect recorded market data (the replay source reads it).",
    ),
    "strategy": Lazy(
        "claire_cli.strategy",
        "app",
        "List the strategies with their parameters, write a new one, or check one at full speed.",
    ),
    "env": Lazy(
        "claire_cli.env",
        "app",
        "Check, show and document claire's settings (CLAIRE_* variables and .env).",
    ),
    "db": Lazy("claire_cli.db", "app", "Apply and inspect the database migrations."),
}


def load_command(name: str) -> Any:
    """Import command `name` and build it as Typer would have (a group, or one command)."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(rich_markup_mode="rich")
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


def plain_flags(command: Any, ctx: Any) -> None:
    """Show `command`'s flags (and its subcommands') in --help without a `<bool>` type:
    a flag takes no value. `ctx` gives the help option's names."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # Typer's rich help shows the metavar in place of the type
    for sub in getattr(command, "commands", {}).values():
        plain_flags(sub, ctx)


class LazyCommand(TyperCommand):
    """Stands for a command in `claire --help`; becomes the real one when it runs."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        real = load_command(self.name or "")
        if parent is not None:
            plain_flags(real, parent)
        return real.make_context(info_name, args, parent=parent, **extra)


class ClaireGroup(TyperGroup):
    """The root group: commands loaded when used; a known error becomes one red line and a
    non-zero exit."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        plain_flags(self, ctx)
        super().format_help(ctx, formatter)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        return LazyCommand(name=cmd_name, help=entry.help, short_help=entry.help)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if isinstance(ctx.obj, CliState) and ctx.obj.debug:
                raise
            message, hint = explain(exc)
            if message is None:
                raise
            print_error(message, hint)
            raise typer.Exit(1) from None


#: Driver errors that reach the boundary untranslated: a server that does not answer, or
#: refuses claire's password. Their first line is shown (drivers never print a password).
_DRIVERS = ("psycopg", "redis", "docker", "requests")
_DISK_HINTS = {
    errno.ENOSPC: "free some space on that file system (df -h), or point claire elsewhere",
    errno.EACCES: "check who owns that path and its permissions",
    errno.EPERM: "check who owns that path and its permissions",
    errno.EROFS: "that file system is read-only: point claire elsewhere",
    errno.ENOTDIR: "a file stands where claire needs a directory",
}


def explain(exc: BaseException) -> tuple[str | None, str | None]:
    """Return the one line (and hint) an error deserves, or (None, None) for a bug."""
    if isinstance(exc, ClaireError):
        return exc.message, exc.hint
    if isinstance(exc, OSError) and exc.errno in _DISK_HINTS:  # a full disk, a closed door
        where = f": {exc.filename}" if exc.filename is not None else ""
        return f"{exc.strerror or exc}{where}", _DISK_HINTS[exc.errno]
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}", "check the path and its permissions"
    if type(exc).__module__.split(".")[0] in _DRIVERS or isinstance(exc, OSError):
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return first, "claire ps shows which server; claire up starts claire's own"
    return None, None


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
        from engine import __version__

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


def main() -> None:
    """Entry point of the `claire` console script."""
    from claire_cli.invocation import invoked_as

    # Usage lines and "Try '… -h'" name claire as typed too. Called before any command reads
    # the environment (see WRAPPER_VARIABLE).
    app(prog_name=invoked_as())
