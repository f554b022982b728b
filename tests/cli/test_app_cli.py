"""The root command: every command listed, each loaded only when it runs."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from claire_cli.app import COMMANDS, app, load_command

pytestmark = pytest.mark.cli

#: What `claire --help` may import of the project: no engine module with a heavy dependency.
LIGHT = {"engine", "engine.errors", "engine.runtime", "engine.runtime_kind"}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_help_is_the_command_s_own_first_line(name: str) -> None:
    command = load_command(name)
    own = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")

    assert COMMANDS[name].help == own


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_shows_its_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_root_help_lists_every_command_and_imports_no_engine_module() -> None:
    probe = (
        "import sys\n"
        "from claire_cli.app import main\n"
        "sys.argv = ['claire', '--help']\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('engine', 'psycopg', 'pydantic', 'redis', 'matplotlib', 'pyarrow', 'docker'))\n"
        "print('LOADED', ' '.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    loaded = set(done.stdout.split("LOADED", 1)[1].split())

    assert loaded <= LIGHT, f"claire --help imported {sorted(loaded - LIGHT)}"
    for name in COMMANDS:
        assert f" {name} " in done.stdout


@pytest.mark.parametrize("module", ["claire_cli.papertest", "claire_cli.status"])
def test_the_run_and_status_commands_load_no_charting(module: str) -> None:
    # matplotlib (about 0.25 s) is for writing a report; `papertest start` and `status` only
    # wait and read: their engine process writes the report.
    probe = f"import sys, {module}\nprint('matplotlib' in sys.modules, 'numpy' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.split() == ["False", "False"], done.stdout
