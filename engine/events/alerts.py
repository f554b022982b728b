"""The alert event: something an operator should know about, raised or cleared."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from engine.events.envelope import EventEnvelope
from engine.events.fields import Code, Symbol, vocabulary
from engine.events.orders import UnknownVocabularyError


class AlertLevel(StrEnum):
    """How urgent an alert is; `critical` is sent to the operator's notifiers."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def normalize_alert_level(value: str) -> AlertLevel:
    """Return the `AlertLevel` that `value` spells (any case); raise `UnknownVocabularyError`."""
    if isinstance(value, str) and value.strip().lower() in set(AlertLevel):
        return AlertLevel(value.strip().lower())
    raise UnknownVocabularyError("alert level", value, tuple(AlertLevel))


class AlertRaised(EventEnvelope):
    """An alert was raised, or (with `cleared`) the condition behind `code` went away."""

    type: Literal["alert"] = "alert"
    level: Annotated[AlertLevel, vocabulary(normalize_alert_level)]
    #: Stable machine-readable name of the condition, e.g. `market_data_stale`.
    code: Code
    message: str = Field(min_length=1, max_length=2000)
    cleared: StrictBool = False
    symbol: Symbol | None = None
