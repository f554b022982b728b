"""A run's epochs: each start of its engine (the first, and every resume) is one.

An epoch has streams of its own, `<namespace>:<run>:<epoch>`, and every stage of it
starts from what the database holds of the run. A stage that dies loses its memory, so
the run goes on in a new epoch: the stages rebuild from the database, the feed plays the
market data after the last stored snapshot again, and nothing of the dead epoch's streams
is read any more. Stages in processes of their own follow the epoch the run's row names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import redis

from engine.bus.redis_streams import RedisStreamBus
from engine.settings import Settings
from engine.streams import Stream


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


def groups(bus: RedisStreamBus, stream: Stream) -> list[dict[str, Any]]:
    """The consumer groups of one stream (none when the stream does not exist yet)."""
    try:
        found: list[dict[str, Any]] = bus.client.xinfo_groups(bus.key(stream))
    except redis.ResponseError:
        return []
    return found


def settled(bus: RedisStreamBus, expected: Iterable[str], skip: Collection[str] = ()) -> bool:
    """True when every `expected` group reads the market data, and every group of every
    stream (but those in `skip`) has read and acknowledged everything published."""
    every = all_groups(bus)
    market = {_text(g["name"]) for g in every[Stream.MARKET_DATA]}
    if not set(expected) <= market:
        return False
    return all(
        not (group["pending"] or (group.get("lag") or 0))
        for found in every.values()
        for group in found
        if _text(group["name"]) not in skip
    )


def all_groups(bus: RedisStreamBus) -> dict[Stream, list[dict[str, Any]]]:
    """The consumer groups of every stream, in one round trip."""
    pipe = bus.client.pipeline(transaction=False)
    for stream in Stream:
        pipe.xinfo_groups(bus.key(stream))
    replies = pipe.execute(raise_on_error=False)
    return {
        stream: reply if isinstance(reply, list) else []  # an error: no such stream yet
        for stream, reply in zip(Stream, replies, strict=True)
    }


def market_lags(bus: RedisStreamBus) -> dict[str, int | None]:
    """How far behind the market data each group is."""
    return {
        f"{_text(g['name'])}:{Stream.MARKET_DATA}": (
            None if g.get("lag") is None else int(g["lag"])
        )
        for g in groups(bus, Stream.MARKET_DATA)
    }


def consumed(bus: RedisStreamBus, group: str, streams: Iterable[Stream]) -> bool:
    """True when `group` has read something in this epoch (a restarted stage finds its
    memory of it gone)."""
    for stream in streams:
        for info in groups(bus, stream):
            if _text(info["name"]) == group and _text(info.get("last-delivered-id")) != "0-0":
                return True
    return False


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
