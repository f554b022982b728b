"""`--help` shows a flag as a flag: no `<bool>` after `--json`, a type only where a value goes."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from claire_cli.app import COMMANDS, app, load_command

pytestmark = pytest.mark.cli

WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}


def every_command() -> list[list[str]]:
    """Each command's words: `[]` (the root), `["up"]`, `["papertest", "start"]`, ..."""
    found: list[list[str]] = [[]]

    def walk(words: list[str], command: Any) -> None:
        found.append(words)
        for name, sub in getattr(command, "commands", {}).items():
            walk([*words, name], sub)

    for name in COMMANDS:
        walk([name], load_command(name))
    return found


def help_of(words: list[str]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def test_papertest_start_help_when_shown_then_flags_plain_and_values_typed() -> None:
    text = help_of(["papertest", "start"])

    assert "<bool>" not in text
    [duration] = [line for line in text.splitlines() if "Planned length" in line]
    assert "<str>" in duration  # an option that takes a value keeps its type
    [record] = [line for line in text.splitlines() if "Record the market data" in line]
    assert "--no-record" in record


@pytest.mark.parametrize("words", every_command(), ids=lambda words: " ".join(words) or "claire")
def test_help_when_shown_then_no_bool_type(words: list[str]) -> None:
    assert "<bool>" not in help_of(words)
