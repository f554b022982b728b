"""Events built without validating again what their producer already guarantees.

Validation is for what enters the engine: a websocket message, a Redis entry, an injected
event, a file row the replay cannot vouch for. Between stages in one process an event is
made from values that are already checked (a market file's row that passed the rules a
Candle enforces, the portfolio's own exact arithmetic), and validating them again is most
of what building the event costs. `trusted` builds such an event as validation would have
built it; each caller checks the few rules its values could break (a magnitude, a sign)
and falls back to the validating constructor, which words the error, when one fails.
tests/unit/test_trusted_events.py holds every trusted build equal to the validated one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from engine.events.fields import MAX_MAGNITUDE

M = TypeVar("M", bound=BaseModel)


class _Plan:
    """What `trusted` needs of a model: its fields in order with their static defaults, the
    defaults made by a factory, and the fields without a default."""

    def __init__(self, model: type[BaseModel]) -> None:
        fields = model.model_fields
        self.names = frozenset(fields)
        self.template = {
            name: None if info.default is PydanticUndefined else info.default
            for name, info in fields.items()
        }
        self.factories: list[tuple[str, Callable[[], Any]]] = [
            (name, info.default_factory)  # type: ignore[misc]  # the events' take no argument
            for name, info in fields.items()
            if info.default_factory is not None
        ]
        self.required = frozenset(name for name, info in fields.items() if info.is_required())


_PLANS: dict[type[BaseModel], _Plan] = {}


def trusted(model: type[M], **values: Any) -> M:
    """Return `model(**values)` without validation: `values` must already be in validated
    form (UTC datetimes, Decimal amounts within their rules, normalised names, enum members).
    Raise TypeError for a field `model` does not have or a required one missing."""
    plan = _PLANS.get(model) or _PLANS.setdefault(model, _Plan(model))
    given = values.keys()
    if not (given <= plan.names and plan.required <= given):
        unknown, missing = sorted(given - plan.names), sorted(plan.required - given)
        raise TypeError(f"{model.__name__}: unknown fields {unknown}, missing fields {missing}")
    data = plan.template.copy()
    data.update(values)
    for name, factory in plan.factories:
        if name not in values:
            data[name] = factory()
    event = model.__new__(model)
    object.__setattr__(event, "__dict__", data)
    object.__setattr__(event, "__pydantic_fields_set__", set(given))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def storable(*amounts: Decimal) -> bool:
    """Tell whether every amount is finite and below NUMERIC(38, 18)'s magnitude."""
    return all(a.is_finite() and a.copy_abs() < MAX_MAGNITUDE for a in amounts)
