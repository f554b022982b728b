"""The local runtime: claire's own redis-server and PostgreSQL, or servers given by URL."""

from __future__ import annotations

import psycopg

from engine.runtime.base import Endpoints, endpoints_preferring_urls
from engine.runtime.paths import StatePaths
from engine.runtime.postgres_server import PostgresServer
from engine.runtime.prometheus_server import PrometheusServer
from engine.runtime.redis_server import RedisServer, redis_problem
from engine.runtime.status import ComponentState, ComponentStatus
from engine.settings import Settings


class LocalRuntime:
    """Start, stop and check claire's servers; external servers are only checked."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.paths = StatePaths(settings.home)
        self.redis = RedisServer(self.paths, settings.redis)
        self.postgres = PostgresServer(self.paths, settings.database)
        self.prometheus = PrometheusServer(settings.home, settings)
        self.notices: list[str] = []  # what `up` repaired, one line each

    def _notice(self, line: str | None) -> None:
        if line is not None:
            self.notices.append(line)

    @property
    def manages_redis(self) -> bool:
        return self._settings.redis.url is None

    @property
    def manages_postgres(self) -> bool:
        return self._settings.database.url is None

    def endpoints(self) -> Endpoints:
        return endpoints_preferring_urls(self._settings, self.redis.url, self.postgres.conninfo())

    def up(self) -> list[ComponentStatus]:
        """Start what claire manages (idempotent), wait until it answers, apply migrations."""
        from engine.storage.migrations import apply_migrations

        self.paths.prepare()
        self.notices = []
        if self.manages_redis:
            self._notice(self.redis.repair_pidfile())
            self.redis.start()
        if self.manages_postgres:
            self._notice(self.postgres.repair_pidfile())
            self.postgres.start()
        apply_migrations(self.endpoints().database_conninfo)
        if self._settings.monitor.prometheus:
            self.prometheus.start()
        return self.status()

    def down(self, *, volumes: bool = False) -> list[ComponentStatus]:
        """Stop what claire manages; servers given by URL are left alone. Data is always kept
        (`volumes` is a Docker runtime option)."""
        from engine.runtime.feed_process import stop_feed
        from engine.runtime.supervisor import stop_supervisor

        stop_supervisor(self._settings.home)  # first, or it would start them again
        stop_feed(self._settings.home)
        if self.manages_redis:
            self.redis.stop()
        if self.manages_postgres:
            self.postgres.stop()
        self.prometheus.stop()
        return self.status()

    def status(self) -> list[ComponentStatus]:
        found = [self._redis_status(), self._postgres_status()]
        if self._settings.monitor.prometheus:
            found.append(self.prometheus.status())
        return found

    def _redis_status(self) -> ComponentStatus:
        if self.manages_redis:
            return self.redis.status()
        problem = redis_problem(self.endpoints().redis_url)
        if problem is not None:
            return ComponentStatus("redis", ComponentState.EXTERNAL, False, problem)
        return ComponentStatus("redis", ComponentState.EXTERNAL, True, "answers PING, noeviction")

    def _postgres_status(self) -> ComponentStatus:
        if self.manages_postgres:
            return self.postgres.status()
        try:
            with psycopg.connect(self.endpoints().database_conninfo, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return ComponentStatus(
                "postgres", ComponentState.EXTERNAL, False, f"does not answer: {first}"
            )
        return ComponentStatus("postgres", ComponentState.EXTERNAL, True, "answers SELECT 1")
