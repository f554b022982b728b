"""A run's epochs: each start of its engine (the first, and every resume) is one.

An epoch has streams of its own, `<namespace>:<run>:<epoch>`. Whatever died before it (the
engine, a server, the machine), its stages start from what PostgreSQL holds of the run and
the feed plays the market data after the last stored snapshot again, with the same event
ids: nothing is stored twice, and nothing of an earlier epoch's streams is read any more.
"""

from __future__ import annotations

import redis

from engine.settings import Settings


def run_namespace(settings: Settings, run_id: str, epoch: int) -> str:
    return f"{settings.redis.namespace}:{run_id}:{epoch}"


def allocate_epoch(client: redis.Redis, settings: Settings, run_id: str, recorded: int) -> int:
    """Return a number no epoch of `run_id` had before: above the one the database
    `recorded` and above any Redis handed out (a database restored from a backup made
    mid-run records an older epoch, whose number its stages and streams may have used)."""
    key = f"{settings.redis.namespace}:epochs:{run_id}"
    epoch = max(int(client.incr(key)), recorded + 1)
    client.set(key, epoch)
    return epoch


def clear_other_epochs(
    client: redis.Redis, settings: Settings, run_id: str, keep: int | None
) -> int:
    """Delete the keys of every epoch of `run_id` but `keep` (None: of all, once the run
    ended: its report reads the database); return how many were deleted."""
    prefix = f"{settings.redis.namespace}:{run_id}:"
    kept = None if keep is None else run_namespace(settings, run_id, keep) + ":"
    doomed = [
        key
        for key in client.scan_iter(match=f"{prefix}*", count=1000)
        if kept is None or not _text(key).startswith(kept)
    ]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])
    return len(doomed)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
