"""The time of the newest backup, kept in Redis beside the streams.

Engine processes export it for the 26-hour alert. In the Docker runtime they cannot read
the host's backup directory, so `claire backup` also leaves the time where every engine
process can read it, on any runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import redis

log = logging.getLogger(__name__)


def marker_key(namespace: str) -> str:
    return f"{namespace}:backups:last"


def record_backup_time(redis_url: str, namespace: str, when: datetime) -> bool:
    """Leave the time of a finished backup; return False (and log) when Redis is down."""
    try:
        with redis.Redis.from_url(redis_url, socket_timeout=3) as client:
            client.set(marker_key(namespace), f"{when.timestamp():.3f}")
    except (redis.RedisError, OSError) as exc:
        log.warning("could not record the backup time in Redis: %s", exc)
        return False
    return True


def backup_time_reader(client: redis.Redis, namespace: str) -> Callable[[], float]:
    """Return a function reading the recorded time (0 when none or Redis is down)."""

    def read() -> float:
        try:
            value = client.get(marker_key(namespace))
            return float(value) if value else 0.0
        except (redis.RedisError, OSError, ValueError):
            return 0.0

    return read
