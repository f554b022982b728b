"""Pick the runtime the settings name, and the endpoints every command connects to."""

from __future__ import annotations

from collections.abc import Callable

from engine.runtime.base import Endpoints, Runtime
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings


def runtime_for(settings: Settings, progress: Callable[[str], None] | None = None) -> Runtime:
    """Return the local runtime, or the Docker runtime when CLAIRE_RUNTIME=docker (which
    reports what it does, image build steps included, to `progress`)."""
    if settings.runtime is RuntimeKind.DOCKER:
        from engine.runtime.docker_runtime import DockerRuntime  # docker-py: only when used

        return DockerRuntime(settings, progress=progress) if progress else DockerRuntime(settings)
    from engine.runtime.local import LocalRuntime

    return LocalRuntime(settings)


def endpoints(settings: Settings) -> Endpoints:
    """Return how this process reaches Redis and PostgreSQL (servers given by URL win)."""
    return runtime_for(settings).endpoints()
