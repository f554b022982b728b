"""The envelope every event on the bus shares."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from engine.events.fields import Code, Identifier, UtcDatetime, rule_error

#: The version of the event contracts this engine writes and reads.
SCHEMA_VERSION = 1


#: The longest id an event may carry (`Identifier`; the tables' ids are the same).
LONGEST_ID = 128
_DIGEST = 40


def new_event_id() -> str:
    """Return a fresh random event id (a uuid4 in hex)."""
    return uuid4().hex


def bounded_id(text: str) -> str:
    """`text` as an id: itself when it fits in LONGEST_ID characters, else its head and a
    digest of the whole, so two long ids that differ only at their end stay apart."""
    if len(text) <= LONGEST_ID:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]
    return f"{text[: LONGEST_ID - _DIGEST - 1]}-{digest}"


def stamped(event_id: str, at: datetime, source: str, run_id: str | None) -> dict[str, Any]:
    """The envelope of an event the engine derives at event time `at`: created then too
    (`ts_init` is `at`, not the wall clock), so a replay or a resume derives it again to the
    letter, and its id (deterministic, see `bounded_id`) is stored once."""
    return {
        "event_id": bounded_id(event_id),
        "ts_event": at,
        "ts_init": at,
        "source": source,
        "run_id": run_id,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _supported_version(value: int) -> int:
    if not 1 <= value <= SCHEMA_VERSION:
        raise rule_error(f"unsupported schema version (this engine reads 1 to {SCHEMA_VERSION})")
    return value


class EventEnvelope(BaseModel):
    """Fields common to every event; subclasses fix `type` to their discriminator.

    `ts_event` is when the thing happened (exchange time for market data); `ts_init` is when
    this process created the event. Both are timezone-aware UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Identifier = Field(default_factory=new_event_id)
    type: str
    ts_event: UtcDatetime
    ts_init: UtcDatetime = Field(default_factory=_utc_now)
    #: Who produced the event: `mexc`, `synthetic`, `replay`, `inject`, `engine.risk`, ...
    source: Code
    schema_version: Annotated[StrictInt, AfterValidator(_supported_version)] = SCHEMA_VERSION
    run_id: Identifier | None = None
