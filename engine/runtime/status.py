"""What `claire ps` and health checks report about one component."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
