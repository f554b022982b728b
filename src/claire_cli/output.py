"""Rich consoles and the few rendering helpers every command shares."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from claire_cli.invocation import as_typed

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print data as JSON on stdout, with no styling (for scripts)."""
    console.file.write(json.dumps(data, indent=2, default=str) + "\n")


def print_note(message: str) -> None:
    """Print one dim line on stderr: something claire does on the way (stdout stays clean)."""
    err_console.print(f"[dim]{escape(as_typed(message))}[/]")


def print_warning(message: str) -> None:
    """Print one yellow line on stderr (stdout stays clean for --json); a claire command it
    names is written as the user ran claire."""
    err_console.print(f"[yellow]warning:[/] {escape(as_typed(message))}")


def print_error(message: str, hint: str | None = None) -> None:
    """Print one red line (and an optional hint) on stderr; the claire commands they name
    are written as the user ran claire (engine errors say `claire …`)."""
    err_console.print(f"[bold red]error:[/] {escape(as_typed(message))}")
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(as_typed(hint))}")
