"""The form of `claire` a hint names: what the user typed, unless PATH finds the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from claire_cli.invocation import invoked_form, rewrite


def test_invoked_form_when_path_finds_the_same_program_then_claire(tmp_path: Path) -> None:
    program = tmp_path / "bin" / "claire"
    program.parent.mkdir()
    program.touch()

    assert invoked_form(str(program), str(program)) == "claire"


def test_invoked_form_when_not_on_path_then_the_path_as_typed() -> None:
    assert invoked_form("./scripts/claire", None) == "./scripts/claire"
    assert invoked_form(".venv/bin/claire", None) == ".venv/bin/claire"


def test_invoked_form_when_path_finds_another_claire_then_the_path_as_typed(
    tmp_path: Path,
) -> None:
    other = tmp_path / "claire"
    other.touch()

    assert invoked_form("./scripts/claire", str(other)) == "./scripts/claire"


def test_invoked_form_when_the_path_has_a_space_then_quoted_for_a_shell() -> None:
    assert invoked_form("/opt/my tools/claire", None) == "'/opt/my tools/claire'"


@pytest.mark.parametrize("program", ["/usr/bin/pytest", "/x/claire_cli/__main__.py"])
def test_invoked_form_when_the_program_is_not_claire_then_claire(program: str) -> None:
    assert invoked_form(program, None) == "claire"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stop it: claire papertest stop pt-1", "stop it: ./scripts/claire papertest stop pt-1"),
        ("run `claire env check` to see", "run `./scripts/claire env check` to see"),
        ("claire ps; claire logs engine", "./scripts/claire ps; ./scripts/claire logs engine"),
    ],
)
def test_rewrite_when_a_command_is_named_then_in_the_typed_form(text: str, expected: str) -> None:
    assert rewrite(text, "./scripts/claire") == expected


@pytest.mark.parametrize(
    "text",
    [
        "claire needs noeviction",
        "start claire's servers",
        "point claire elsewhere",
        "claire upgrade",  # a word that begins like a command
        "./scripts/claire papertest stop",  # rewritten already
    ],
)
def test_rewrite_when_no_command_is_named_then_unchanged(text: str) -> None:
    assert rewrite(text, "./scripts/claire") == text
