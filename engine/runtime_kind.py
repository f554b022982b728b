"""Where claire's servers and engine run (a module of its own: the CLI reads it at start-up)."""

from __future__ import annotations

from enum import StrEnum


class RuntimeKind(StrEnum):
    """Where claire's servers and engine run."""

    LOCAL = "local"
    DOCKER = "docker"
