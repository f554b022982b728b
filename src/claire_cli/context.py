"""State shared by every command of one invocation: global options and lazy settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from engine.runtime_kind import RuntimeKind

if TYPE_CHECKING:
    import psycopg

    from engine.settings import Settings


@dataclass
class CliState:
    """Global options, and the settings loaded once on first use."""

    env_file: Path | None = None
    debug: bool = False
    runtime: RuntimeKind | None = None  # --runtime: wins over CLAIRE_RUNTIME
    _settings: Settings | None = field(default=None, repr=False)
    _env_file_checked: bool = field(default=False, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            # pydantic: only when a command needs it
            from engine.settings_check import load_settings, resolve_env_file

            environ = dict(os.environ)
            if self.runtime is not None:  # checked like the variable it stands for
                environ["CLAIRE_RUNTIME"] = self.runtime.value
            self._settings = load_settings(self.env_file, environ)
            self.check_env_file(environ, resolve_env_file(self.env_file))
        return self._settings

    def check_env_file(self, environ: Mapping[str, str], env_file: Path | None) -> None:
        """Warn (once per command, on stderr) when the settings file holds secrets that
        group or others can read."""
        if self._env_file_checked:
            return
        self._env_file_checked = True
        from claire_cli.output import print_warning
        from engine.settings_check import file_permission_warnings

        for finding in file_permission_warnings(environ, env_file):
            print_warning(f"{finding.problem}; {finding.allowed}")


def state(ctx: typer.Context) -> CliState:
    """Return this invocation's state (created by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def database(settings: Settings) -> psycopg.Connection[Any]:
    """claire's database for a command, its migrations applied; claire's servers are started
    when they do not answer, and a line on stderr says so."""
    from claire_cli.output import print_note
    from engine.runs import service

    return service.connect(settings, starting=print_note)
