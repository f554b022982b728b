"""Files that appear whole or not at all: written under a temporary name beside their
place, then renamed (a reader never sees half a report, an export or a recording)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; when the block ends well it becomes
    `path`, else it is deleted. The temporary name is this writer's own, so two writers of
    one file (the engine finishing a run's report, and a user's `claire papertest report`
    at the same moment) never rename each other's half-written file: the last whole one
    stays."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` whole (see `replaced_atomically`)."""
    with replaced_atomically(path) as partial:
        partial.write_bytes(content)
