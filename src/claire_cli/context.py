"""State shared by every command of one invocation: global options and lazy settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from engine.settings import Settings, load_settings


@dataclass
class CliState:
    """Global options, and the settings loaded once on first use."""

    env_file: Path | None = None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.env_file)
        return self._settings


def state(ctx: typer.Context) -> CliState:
    """Return this invocation's state (created by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
