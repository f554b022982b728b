"""Dependency probes for /health: does Redis answer, does PostgreSQL answer."""

from __future__ import annotations

import psycopg
import redis

from engine.observability.health import Probe


def redis_probe(client: redis.Redis) -> Probe:
    """Return a probe that PINGs Redis."""

    def probe() -> object:
        return client.ping()

    return probe


def postgres_probe(conninfo: str, timeout_s: int = 2) -> Probe:
    """Return a probe that opens a connection and runs `SELECT 1`."""

    def probe() -> object:
        with psycopg.connect(conninfo, connect_timeout=timeout_s) as conn:
            return conn.execute("SELECT 1").fetchone()

    return probe
