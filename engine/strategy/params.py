"""A strategy's own parameters: a typed model on its class, values from the command line.

A strategy class declares `Params`, a pydantic model with defaults, ranges and descriptions;
it is built with an instance of it. Values come as text (`--param key=value`, repeated), from
a TOML file (`--params FILE`) and from the settings (`CLAIRE_STRATEGY_PARAMS=fast=8,slow=21`),
each in that order winning over the next and all over the strategy's defaults. The model
checks them, and a wrong one is one line that names the parameter and what it allows, before
anything starts. A run records the values it was given, so a resume builds the same strategy
again.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from engine.errors import PermanentError
from engine.settings import STRATEGY_PARAMS_ENV, STRATEGY_PARAMS_FORM, strategy_param_pairs


class StrategyParamsError(PermanentError):
    """A strategy parameter that is unknown, malformed or out of its range."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a strategy declares: for `claire strategy list` and errors."""

    name: str
    type: str
    default: Any
    allowed: str
    description: str


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """`key=value` texts as a mapping (a later key wins); raise on a text without `=`."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise StrategyParamsError(
                f"strategy parameter {pair!r} is not key=value",
                hint="for example: --param lookback_minutes=30",
            )
        values[key.strip()] = value.strip()
    return values


def configured_params(text: str) -> dict[str, str]:
    """The parameters CLAIRE_STRATEGY_PARAMS gives: `key=value` pairs separated by commas or
    semicolons (a later key wins); raise, naming the variable, on a pair without `=`."""
    try:
        return parse_pairs(strategy_param_pairs(text))
    except StrategyParamsError as exc:
        raise StrategyParamsError(
            f"{STRATEGY_PARAMS_ENV}: {exc.message}", hint=STRATEGY_PARAMS_FORM
        ) from None


def read_params_file(path: Path) -> dict[str, Any]:
    """The parameters of a TOML file (a flat table of keys and values)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StrategyParamsError(f"cannot read the parameters file {path}: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StrategyParamsError(f"{path} is not a TOML file: {exc}") from None
    nested = [key for key, value in data.items() if isinstance(value, dict)]
    if nested:
        raise StrategyParamsError(
            f"{path}: a parameters file is one flat table of key = value ({nested[0]!r} is a table)"
        )
    return data


def as_text(values: Mapping[str, Any]) -> dict[str, str]:
    """The values as the texts a run records (TOML's numbers and booleans spelled out)."""
    return {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in sorted(values.items())
    }


def params_text(values: Mapping[str, Any]) -> str:
    """`fast 12, slow 26`: parameters as the report and the commands show them."""
    return ", ".join(f"{key} {value}" for key, value in sorted(values.items()))


def strategy_label(name: str, values: Mapping[str, Any]) -> str:
    """`ema_cross (fast 12, slow 26)`: a strategy and the parameters it runs with."""
    return f"{name} ({params_text(values)})" if values else name


def params_model(factory: object) -> type[BaseModel] | None:
    """The `Params` model a strategy class declares, else None."""
    model = getattr(factory, "Params", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def specs(model: type[BaseModel]) -> list[ParamSpec]:
    """What each parameter of `model` is: its type, default, range and description."""
    return [
        ParamSpec(
            name,
            _type_name(info),
            info.default,
            _allowed(info),
            info.description or "",
        )
        for name, info in model.model_fields.items()
    ]


def build_params(
    model: type[BaseModel],
    values: Mapping[str, Any],
    *,
    strategy: str,
    defaults: Mapping[str, Any] | None = None,
) -> BaseModel:
    """`model` built from `defaults` and `values` over them; raise StrategyParamsError, one
    line naming the parameter and what it allows, for an unknown or a wrong value."""
    known = model.model_fields
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise StrategyParamsError(
            f"strategy {strategy} has no parameter {unknown[0]!r}; it takes: " + ", ".join(known),
            hint="claire strategy list shows every parameter with its range",
        )
    try:
        return model.model_validate({**(defaults or {}), **values})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        given = values.get(name, (defaults or {}).get(name))
        if not str(given).isprintable():  # a line break or an escape: the error stays one line
            given = repr(given)
        info = known.get(name)
        allowed = f" (allowed: {_allowed(info)})" if info is not None and _allowed(info) else ""
        raise StrategyParamsError(
            f"strategy {strategy} parameter {name}={given}: {error['msg']}{allowed}",
            hint="claire strategy list shows every parameter with its range",
        ) from None


def _type_name(info: FieldInfo) -> str:
    annotation = info.annotation
    return getattr(annotation, "__name__", None) or str(annotation)


def _allowed(info: FieldInfo) -> str:
    """The range a field's constraints allow, in words (`>= 1, <= 1440`): the tightest
    lower and upper bound of all its constraints."""
    lower: tuple[Any, bool] | None = None  # (bound, strict)
    upper: tuple[Any, bool] | None = None
    for constraint in info.metadata:
        for attribute, strict, is_lower in (
            ("gt", True, True), ("ge", False, True), ("lt", True, False), ("le", False, False),
        ):  # fmt: skip
            bound = getattr(constraint, attribute, None)
            if bound is None:
                continue
            current = lower if is_lower else upper
            tighter = (
                current is None
                or (bound > current[0] if is_lower else bound < current[0])
                or (bound == current[0] and strict)
            )
            if tighter:
                if is_lower:
                    lower = (bound, strict)
                else:
                    upper = (bound, strict)
    words = []
    if lower is not None:
        words.append(f"{'>' if lower[1] else '>='} {lower[0]}")
    if upper is not None:
        words.append(f"{'<' if upper[1] else '<='} {upper[0]}")
    return ", ".join(words)


def given_params(
    pairs: Iterable[str], path: Path | None = None, *, configured: str = ""
) -> dict[str, Any]:
    """The parameters given at a start: `configured` (CLAIRE_STRATEGY_PARAMS, see
    `configured_params`), a TOML file's over them, and `key=value` pairs (`--param`) over
    both; the strategy's defaults stay under all three."""
    return {
        **configured_params(configured),
        **(read_params_file(path) if path is not None else {}),
        **parse_pairs(pairs),
    }
