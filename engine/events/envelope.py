"""The envelope every event on the bus shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import uuid4

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from engine.events.fields import Code, Identifier, UtcDatetime, rule_error

#: The version of the event contracts this engine writes and reads.
SCHEMA_VERSION = 1


def new_event_id() -> str:
    """Return a fresh random event id (a uuid4 in hex)."""
    return uuid4().hex


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
