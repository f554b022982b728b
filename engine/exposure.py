"""Which of claire's listeners other hosts can reach: a listener setting on an address that
is not loopback is allowed, with a one-line warning (`claire env check`, every start)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from engine.runtime_kind import RuntimeKind
from engine.settings import Settings

HOST_VARIABLE = "CLAIRE_MONITOR_HOST"


@dataclass(frozen=True)
class ExposedListener:
    """A listener setting whose address is not loopback: other hosts may reach it."""

    variable: str
    host: str
    what: str

    def __str__(self) -> str:
        return (
            f"{self.variable}={self.host}: {self.what} can be reached from other hosts "
            "(use 127.0.0.1 unless that is meant)"
        )


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (no name is looked up)."""
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposed_listeners(settings: Settings) -> list[ExposedListener]:
    """Return every listener of the chosen runtime configured on a non-loopback address."""
    if settings.runtime is RuntimeKind.DOCKER:
        listeners = [
            (
                "CLAIRE_DOCKER_BIND_ADDRESS",
                settings.docker.bind_address,
                "every port the Docker runtime publishes (Redis, PostgreSQL, Prometheus, Grafana)",
            )
        ]
    else:
        listeners = [
            (
                HOST_VARIABLE,
                settings.monitor.host,
                "the engine's /health and /metrics (no authentication)",
            )
        ]
    return [ExposedListener(*listener) for listener in listeners if not is_loopback(listener[1])]
