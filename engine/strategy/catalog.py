"""What `claire strategy list` shows: every registered strategy and the configured one, each
with the parameters it declares (type, default, range, description) and the values in effect."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from engine.settings import StrategySettings
from engine.strategy.base import factory_of, registered_strategies, strategy_parameters
from engine.strategy.params import ParamSpec, params_model, specs


@dataclass(frozen=True)
class StrategyInfo:
    """One strategy as the catalog lists it."""

    name: str
    where: str  # the class or factory behind the name
    configured: bool  # CLAIRE_PAPERTEST_STRATEGY names it
    params: list[ParamSpec] = field(default_factory=list)
    #: parameter -> the value a run started now would use (settings, then defaults).
    values: dict[str, Any] = field(default_factory=dict)


def strategy_catalog(
    configured: str, settings: StrategySettings, configured_params: Mapping[str, str] | None = None
) -> list[StrategyInfo]:
    """Every registered strategy, and the configured one when it is a dotted path; the
    configured one's values are those `configured_params` (CLAIRE_STRATEGY_PARAMS) give."""
    names = list(registered_strategies())
    chosen = configured.strip()
    if chosen.lower() not in names:
        names.append(chosen)
    infos = [_info(name, chosen, settings) for name in names]
    if configured_params:
        infos = [
            replace(
                info,
                values={
                    **info.values,
                    **strategy_parameters(info.name, settings, configured_params),
                },
            )
            if info.configured
            else info
            for info in infos
        ]
    return infos


def _info(name: str, configured: str, settings: StrategySettings) -> StrategyInfo:
    factory = factory_of(name)
    where = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', '?')}"
    model = params_model(factory)
    if model is None:
        return StrategyInfo(name, where, name.lower() == configured.lower())
    try:
        values = settings.model_dump() if isinstance(settings, model) else model().model_dump()
    except ValidationError:  # a parameter without a default: a run must give it
        values = {}
    return StrategyInfo(name, where, name.lower() == configured.lower(), specs(model), values)
