"""The one decoder and encoder of events: JSON bytes on the bus <-> typed, validated events.

Decoding never lets a JSON or pydantic error escape: every problem with a payload is
reported at once, one readable line per field, in an `EventDecodeError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Final

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from engine.errors import EventDecodeError
from engine.events.alerts import AlertRaised
from engine.events.envelope import EventEnvelope
from engine.events.fields import NAMED_RULE_ERROR, decimal_text
from engine.events.market_data import Candle, FeedEnded, MarketDataGap, QuoteTick, TradeTick
from engine.events.portfolio import PortfolioSnapshotTaken
from engine.events.trading import (
    OrderResultReported,
    OrderSubmitted,
    RiskDecided,
    SignalGenerated,
)

#: Any event on the bus, told apart by its `type`.
Event = Annotated[
    TradeTick
    | QuoteTick
    | Candle
    | MarketDataGap
    | FeedEnded
    | SignalGenerated
    | RiskDecided
    | OrderSubmitted
    | OrderResultReported
    | PortfolioSnapshotTaken
    | AlertRaised,
    Field(discriminator="type"),
]
MarketDataEvent = TradeTick | QuoteTick | Candle

EVENT_CLASSES: Final[tuple[type[EventEnvelope], ...]] = (
    TradeTick,
    QuoteTick,
    Candle,
    MarketDataGap,
    FeedEnded,
    SignalGenerated,
    RiskDecided,
    OrderSubmitted,
    OrderResultReported,
    PortfolioSnapshotTaken,
    AlertRaised,
)
#: Discriminator -> event class.
EVENT_CLASS_FOR_TYPE: Final[Mapping[str, type[EventEnvelope]]] = {
    str(cls.model_fields["type"].default): cls for cls in EVENT_CLASSES
}
EVENT_TYPES: Final[tuple[str, ...]] = tuple(EVENT_CLASS_FOR_TYPE)

_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)
_SHOWN_INPUT_CHARS = 60
#: repr() of a longer int is slow or refused (sys.get_int_max_str_digits).
_HUGE_INTEGER_BITS = 1024
_NO_INPUT_SHOWN = frozenset({"missing", NAMED_RULE_ERROR})
_FIXED_MESSAGES: Final[Mapping[str, str]] = {
    "missing": "required",
    "extra_forbidden": "unexpected field",
    "tuple_type": "must be a list",
    "timezone_aware": "must be timezone-aware (add Z or an offset such as +00:00)",
}
_SHOULD_PREFIXES = ("Input should", "String should", "Decimal input should", "Value should")


def encode_event(event: EventEnvelope) -> bytes:
    """Return the compact JSON of `event`; amounts are strings, timestamps ISO 8601 UTC."""
    return event.model_dump_json().encode("utf-8")


def decode_event(raw: bytes | str | Mapping[str, object]) -> Event:
    """Decode and validate one event from JSON bytes/text or an already parsed mapping.

    Raise `EventDecodeError` listing every problem when the payload is not a valid event.
    Example: `decode_event(b'{"type": "alert", ...}')` returns an `AlertRaised`.
    """
    payload = _load_object(raw)
    try:
        return _ADAPTER.validate_python(payload)
    except ValidationError as exc:
        raise EventDecodeError(describe_validation_errors(exc), raw=raw) from exc


def _load_object(raw: object) -> dict[object, object]:
    """Parse `raw` into a dict, reading JSON numbers as Decimal, never as float."""
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            raw_text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise EventDecodeError(["payload: is not UTF-8 text"], raw=raw) from None
        return _load_object_text(raw_text, raw)
    if isinstance(raw, str):
        return _load_object_text(raw, raw)
    if isinstance(raw, Mapping):
        return dict(raw)
    kind = type(raw).__name__
    raise EventDecodeError([f"payload: must be JSON bytes, text or a mapping (got {kind})"], raw)


def _load_object_text(text: str, raw: object) -> dict[object, object]:
    try:
        # NaN/Infinity become Decimal so the field they sit in reports them as not finite.
        parsed = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except RecursionError:
        raise EventDecodeError(["payload: JSON is nested too deeply"], raw=raw) from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise EventDecodeError([f"payload: is not valid JSON ({exc})"], raw=raw) from None
    if not isinstance(parsed, dict):
        kind = _json_kind(parsed)
        raise EventDecodeError([f"payload: must be a JSON object (got {kind})"], raw=raw)
    return parsed


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def describe_validation_errors(exc: ValidationError) -> list[str]:
    """Turn a pydantic ValidationError on an event into one readable line per problem."""
    return [_describe(error) for error in exc.errors(include_url=False)]


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    expected = ", ".join(EVENT_TYPES)
    if kind == "union_tag_invalid":
        tag = _event_type_given(error["input"])
        return f"type: unknown event type {tag} (expected one of: {expected})"
    if kind == "union_tag_not_found":
        return f"type: required (expected one of: {expected})"
    if kind == "model_attributes_type" and not error["loc"]:
        return "payload: must be an object with the event's fields"
    loc = list(error["loc"])
    if loc and loc[0] in EVENT_CLASS_FOR_TYPE:
        loc = loc[1:]  # the union's tag: the event type, not a field
    where = ".".join(str(part) for part in loc) or "payload"
    message = _message(kind, error["msg"], ctx)
    if kind in _NO_INPUT_SHOWN or (error["input"] is None and message.startswith("required")):
        return f"{where}: {message}"
    return f"{where}: {message} (got {_show(error['input'])})"


def _message(kind: str, msg: str, ctx: Mapping[str, object]) -> str:
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    detail = ctx.get("detail")
    if isinstance(detail, str):  # one of our own rules: its message is already plain
        return detail
    msg = msg.removeprefix("Value error, ")
    for prefix in _SHOULD_PREFIXES:
        if msg.startswith(prefix):
            return "must" + msg.removeprefix(prefix)
    return msg[:1].lower() + msg[1:]


def _event_type_given(payload: object) -> str:
    if isinstance(payload, Mapping):
        return _show(payload.get("type"))
    return "?"


def _show(value: object) -> str:
    """Render an offending input briefly: `'-1'` for the text or Decimal -1."""
    if isinstance(value, int) and value.bit_length() > _HUGE_INTEGER_BITS:
        return f"an integer of {value.bit_length()} bits"
    try:
        shown = repr(decimal_text(value) if isinstance(value, Decimal) else value)
    except Exception:  # a mapping can hold anything, even objects whose repr fails
        return f"a {type(value).__name__}"
    if len(shown) > _SHOWN_INPUT_CHARS:
        return shown[: _SHOWN_INPUT_CHARS - 3] + "..."
    return shown
