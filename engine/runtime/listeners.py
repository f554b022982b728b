"""Where claire's own servers listen, and what to do when that is taken or exposed.

An engine process of the local runtime serves /health and /metrics on CLAIRE_MONITOR_HOST and
CLAIRE_MONITOR_PORT. When another process holds that port (a second claire on the host: another
user, another checkout) it listens on a free port instead and says so in one line; the run
records the port it really has (`run_control.monitor_url`), so `claire status` and the local
Prometheus find it. Only when no port of that address can be bound at all does it fail, in one line.
The Docker runtime's engines listen on a fixed port inside their own network (no fallback).

A listener on an address other hosts can reach is allowed, with a one-line warning.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.errors import ListenError
from engine.exposure import HOST_VARIABLE, exposed_listeners
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings

if TYPE_CHECKING:  # the settings check reads this module; it needs no HTTP server
    from prometheus_client import CollectorRegistry

    from engine.observability.health import HealthReport
    from engine.observability.server import MonitorServer

log = logging.getLogger("engine.listeners")

PORT_VARIABLE = "CLAIRE_MONITOR_PORT"


def start_warnings(settings: Settings) -> list[str]:
    """One line per thing a start should warn about: exposed listeners, a taken monitor port."""
    warnings = [str(listener) for listener in exposed_listeners(settings)]
    if settings.runtime is RuntimeKind.LOCAL:
        note = monitor_port_note(settings.monitor.host, settings.monitor.port)
        warnings += [note] if note else []
    return warnings


def monitor_port_note(host: str, port: int) -> str | None:
    """Say when `host:port` is taken (the engine will take a free port; None: it is free).

    Raise `ListenError` when no port of `host` can be bound (the engine could not serve).
    """
    taken = _bind_problem(host, port) if port else None
    if port and taken is None:
        return None  # free: the common case, one bind
    unusable = _bind_problem(host, 0)
    if unusable is not None:
        raise listen_error(host, port, unusable)
    if taken is None:
        return None
    return (
        f"{host}:{port} ({PORT_VARIABLE}) is taken ({_reason(taken)}): the engine will listen "
        "on a free port, recorded with the run for claire status"
    )


def bind_monitor(
    registry: CollectorRegistry,
    health: Callable[[], HealthReport],
    host: str,
    port: int,
    *,
    fallback: bool = True,
) -> MonitorServer:
    """Bind the /health and /metrics server to `host:port`; when that is taken, with
    `fallback`, to a free port, said in one line. Not started yet.

    Raise `ListenError` (one line naming the port and CLAIRE_MONITOR_PORT) when nothing binds.
    """
    from engine.observability.server import MonitorServer

    try:
        return MonitorServer(registry, health, host=host, port=port)
    except OSError as exc:
        if not fallback or port == 0:
            raise listen_error(host, port, exc) from exc
        taken = exc
    try:
        server = MonitorServer(registry, health, host=host, port=0)
    except OSError as exc:
        raise listen_error(host, port, exc) from exc
    log.warning(
        "%s:%d (%s) is taken (%s): /health and /metrics on %s instead",
        host,
        port,
        PORT_VARIABLE,
        _reason(taken),
        server.url,
    )
    return server


def listen_error(host: str, port: int, exc: OSError) -> ListenError:
    return ListenError(
        f"cannot listen on {host}:{port} for /health and /metrics ({_reason(exc)}): set "
        f"{PORT_VARIABLE} to a free port (0: any) or {HOST_VARIABLE} to an address of this host"
    )


def _bind_problem(host: str, port: int) -> OSError | None:
    """Why the monitor server could not bind `host:port` now (None: it could)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def _reason(exc: OSError) -> str:
    text = str(exc.strerror or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
