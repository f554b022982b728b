"""What every runtime offers: start, stop and check claire's servers, and how to reach them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.runtime.status import ComponentStatus
from engine.settings import Settings


@dataclass(frozen=True)
class Endpoints:
    """How to reach Redis and PostgreSQL. Both strings may hold a password: never print them."""

    redis_url: str
    database_conninfo: str


class Runtime(Protocol):
    """The local runtime (claire's own processes) or the Docker runtime (containers)."""

    def endpoints(self) -> Endpoints: ...

    def up(self) -> list[ComponentStatus]: ...

    def down(self, *, volumes: bool = False) -> list[ComponentStatus]: ...

    def status(self) -> list[ComponentStatus]: ...


def endpoints_preferring_urls(settings: Settings, redis_url: str, conninfo: str) -> Endpoints:
    """Servers given by URL (CLAIRE_REDIS_URL, CLAIRE_DATABASE_URL) win over a runtime's own."""
    given_redis, given_database = settings.redis.url, settings.database.url
    return Endpoints(
        given_redis.get_secret_value() if given_redis else redis_url,
        given_database.get_secret_value() if given_database else conninfo,
    )
