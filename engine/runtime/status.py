"""What `claire ps` and health checks report about one component."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum


class ComponentState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DOWN = "down"  # should be running (pid file or socket left behind) but is not
    EXTERNAL = "external"  # a server given by URL; claire does not manage it


@dataclass(frozen=True)
class ComponentStatus:
    """One component's state and the result of a health check that can fail."""

    name: str
    state: ComponentState
    healthy: bool
    detail: str
    pid: int | None = None
    endpoint: str | None = None
    restarts: int | None = None  # containers: times Docker restarted it
    started_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def uptime(started_at: datetime | None, now: datetime | None = None) -> str:
    """Say how long a container has run: 45 s, 12 min, 3.5 h, 2.1 d."""
    if started_at is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - started_at).total_seconds()
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
