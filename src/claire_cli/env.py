"""`claire env check`, `claire env show` and `claire env template`: claire's settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claire_cli.arguments import JsonOption
from claire_cli.context import state
from claire_cli.invocation import as_typed
from claire_cli.output import console, print_json
from engine.errors import PermanentError
from engine.settings_check import (
    Finding,
    check_settings,
    effective_settings,
    env_template,
    is_valid,
    printable,
    resolve_env_file,
)
from engine.strategy.configured import strategy_params_findings

app = typer.Typer(
    no_args_is_help=True,
    help="Check, show and document claire's settings (CLAIRE_* variables and .env).",
)

EnvFileOption = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="Settings file (default: the global --env-file, else ./.env when present).",
    ),
]


def _env_file(ctx: typer.Context, option: Path | None) -> Path | None:
    return resolve_env_file(option if option is not None else state(ctx).env_file)


@app.command()
def check(ctx: typer.Context, env_file: EnvFileOption = None, json: JsonOption = False) -> None:
    """Check every setting and list every problem at once, one line each.

    Reports missing, mistyped and out-of-range values, unknown CLAIRE_
    variables (with a suggestion), contradictory limits, a
    CLAIRE_STRATEGY_PARAMS the configured strategy does not take, and a .env
    file holding secrets that others can read. Secrets are never printed.
    Exit code 0 when valid (warnings alone are valid), 1 otherwise.

    Example: claire env check --env-file prod.env
    """
    path = _env_file(ctx, env_file)
    findings = check_settings(os.environ, path, checks=[strategy_params_findings])
    valid = is_valid(findings)
    if json:
        print_json(
            {
                "valid": valid,
                "env_file": str(path) if path is not None else None,
                "findings": [finding.as_dict() for finding in findings],
            }
        )
    else:
        _print_findings(findings, path)
    if not valid:
        raise typer.Exit(1)


def _print_findings(findings: list[Finding], path: Path | None) -> None:
    for finding in findings:
        style = "red" if finding.severity == "error" else "yellow"
        console.print(f"[{style}]{finding.severity:<7}[/] {escape(as_typed(str(finding)))}")
    errors = sum(finding.severity == "error" for finding in findings)
    warnings = len(findings) - errors
    source = f"environment and {printable(path)}" if path is not None else "environment"
    if not findings:
        console.print(f"[green]settings are valid[/] ({escape(source)})")
    elif errors:
        console.print(
            f"[bold red]settings are invalid:[/] {_count(errors, 'error')}, "
            f"{_count(warnings, 'warning')} ({escape(source)})"
        )
    else:
        console.print(
            f"[green]settings are valid[/] with [yellow]{_count(warnings, 'warning')}[/] "
            f"({escape(source)})"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@app.command()
def show(ctx: typer.Context, env_file: EnvFileOption = None, json: JsonOption = False) -> None:
    """Show the effective settings: each variable, its value and where it comes from.

    The source is env (process environment), file (the .env file) or
    default. Secrets are masked. Invalid settings are an error:
    `claire env check` lists every problem.

    Example: claire env show --json
    """
    path = _env_file(ctx, env_file)
    settings = effective_settings(os.environ, path)
    state(ctx).check_env_file(os.environ, path)
    if json:
        print_json(
            {
                "env_file": str(path) if path is not None else None,
                "settings": [
                    {"variable": s.variable, "value": s.value, "source": s.source} for s in settings
                ],
            }
        )
        return
    table = Table(title="claire settings")
    table.add_column("variable", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source")
    for setting in settings:
        value = escape(setting.value) if setting.value is not None else "[dim](not set)[/]"
        source = f"[bold]{setting.source}[/]" if setting.source != "default" else "[dim]default[/]"
        table.add_row(setting.variable, value, source)
    console.print(table)


@app.command()
def template(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Print a commented .env.example with every variable, its description and default.

    Every assignment is commented out: uncomment the lines you change.

    Example: claire env template --out .env && chmod 600 .env
    """
    text = env_template()
    if out is None:
        console.file.write(text)
        return
    if out.exists() and not force:
        raise PermanentError(f"{out} already exists", hint="pass --force to overwrite it")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PermanentError(f"cannot write {out}: {exc.strerror}") from exc
    console.print(f"[green]wrote[/] {escape(str(out))}")
