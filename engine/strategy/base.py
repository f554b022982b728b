"""The strategy interface, the facts a strategy may read, and the registry of strategies.

A strategy is pure: it sees market events in event-time order and the positions the engine
holds, and answers with `SignalGenerated` events. It does no I/O and reads no clock, so a
replay at full speed gives the signals a live run gives.

Users add their own by dotted path: `CLAIRE_PAPERTEST_STRATEGY=mypackage.rules:Breakout`.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from engine.errors import PermanentError
from engine.events import Candle, QuoteTick, SignalGenerated, TradeTick
from engine.events.envelope import stamped
from engine.events.orders import OrderSide, OrderType, TimeInForce
from engine.settings import StrategySettings
from engine.strategy.params import StrategyParamsError, build_params, params_model

#: What a strategy reacts to: the events on the `market_data` stream.
MarketEvent = TradeTick | QuoteTick | Candle
#: The `source` of every signal.
SIGNAL_SOURCE: Final = "engine.signal"
#: Builds a strategy from its parameters (a class taking settings is a factory).
StrategyFactory = Callable[[StrategySettings], "Strategy"]

_FLAT: Final = (Decimal(0), Decimal(0))
#: The longest warm-up a strategy may ask for.
MAX_WARMUP: Final = timedelta(days=30)
_STRATEGY_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_MAX_EVENT_ID = 128
F = TypeVar("F", bound=Callable[..., object])


class StrategyNotFoundError(PermanentError):
    """The configured strategy cannot be loaded."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            hint="set CLAIRE_PAPERTEST_STRATEGY to a registered name or to a dotted path "
            "such as mypackage.rules:MyStrategy",
        )


class StrategyContext(Protocol):
    """Read-only facts a strategy may use besides market data."""

    @property
    def run_id(self) -> str | None:
        """Return the id of the run the signals belong to."""
        ...

    def position(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Return (base quantity held, average entry price); (0, 0) when flat."""
        ...

    @property
    def cash(self) -> Decimal:
        """Return the run's cash in the quote currency: capital, less buys and fees, plus
        sells (the fills the strategy was told of)."""
        ...

    @property
    def equity(self) -> Decimal:
        """Return cash plus every holding at its symbol's newest market price."""
        ...


@dataclass(frozen=True)
class PositionsContext:
    """A `StrategyContext` over a mapping symbol -> (quantity, average price) (a test's)."""

    positions: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    run_id: str | None = None
    cash: Decimal = Decimal(100_000)
    equity: Decimal = Decimal(100_000)

    def position(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Return (base quantity held, average entry price); (0, 0) when flat."""
        return self.positions.get(symbol, _FLAT)


@runtime_checkable
class Strategy(Protocol):
    """Turns market events into signals; `name` is the `strategy` code on its signals."""

    name: str

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        """Return the signals `event` causes (usually none)."""
        ...

    def on_fill(
        self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal, ts: datetime
    ) -> None:
        """Learn that an order for `symbol` filled `quantity` at `price` at event time `ts`."""
        ...


class BaseStrategy:
    """A convenient base for strategies: set `name`, implement `on_market_data`."""

    name: str = "unnamed"
    #: How much market history the strategy wants before the run trades (its indicators'
    #: warm-up): fed to it first, live from REST, in a replay the recording's first rows.
    warmup: timedelta = timedelta(0)

    def on_market_data(self, event: MarketEvent, context: StrategyContext) -> list[SignalGenerated]:
        """Return the signals `event` causes; the base class never signals."""
        return []

    def on_fill(
        self, symbol: str, side: OrderSide, quantity: Decimal, price: Decimal, ts: datetime
    ) -> None:
        """Ignore fills; override to track entries."""


def warmup_of(strategy: object) -> timedelta:
    """The warm-up `strategy` asks for (its `warmup`; none: no history beyond the engine's)."""
    warmup = getattr(strategy, "warmup", None)
    return warmup if isinstance(warmup, timedelta) else timedelta(0)


def strategy_warmup(
    name_or_path: str, settings: StrategySettings, params: Mapping[str, Any] | None = None
) -> timedelta:
    """The warm-up of the strategy `load_strategy` builds from these."""
    return warmup_of(load_strategy(name_or_path, settings, params))


def signal_event_id(
    strategy: str, symbol: str, ts: datetime, side: OrderSide, run_id: str | None = None
) -> str:
    """Return the deterministic id of a signal: the same input always gives the same id.

    Example: `sig-run7-momentum-BTCUSDT-20260105T001500000000-buy`. The run id keeps two
    runs over the same data apart. An id that would pass the 128-character limit of ids is
    replaced by a hash of the same parts.
    """
    run = f"{run_id}-" if run_id else ""
    event_id = f"sig-{run}{strategy}-{symbol}-{ts:%Y%m%dT%H%M%S%f}-{side.value}"
    if len(event_id) <= _MAX_EVENT_ID:
        return event_id
    return "sig-" + hashlib.sha256(event_id.encode("utf-8")).hexdigest()


def make_signal(
    strategy: str,
    event: MarketEvent,
    context: StrategyContext,
    *,
    side: OrderSide,
    confidence: Decimal,
    reference_price: Decimal,
    reason: str,
    limit: Decimal | None = None,
    time_in_force: TimeInForce | str | None = None,
    expires_at: datetime | None = None,
    equity_fraction: Decimal | None = None,
    quote_amount: Decimal | None = None,
    close_fraction: Decimal | None = None,
) -> SignalGenerated:
    """Build the signal `strategy` emits for market `event`, stamped with its event time.

    Without more it asks for a market order: a buy risk sizes to its limits, or a sell of
    the whole holding. `limit` makes it a limit order at that price (`time_in_force` gtc,
    gtd with `expires_at`, or ioc; none: the engine's limit order TTL); a buy may ask for
    `equity_fraction` of equity or a `quote_amount`, a sell for `close_fraction` of the
    holding. Risk still caps every size at its limits.
    """
    return SignalGenerated(
        **stamped(
            signal_event_id(strategy, event.symbol, event.ts_event, side, context.run_id),
            event.ts_event,
            SIGNAL_SOURCE,
            context.run_id,
        ),
        symbol=event.symbol,
        side=side,
        strategy=strategy,
        confidence=confidence,
        reference_price=reference_price,
        reason=reason,
        order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        limit_price=limit,
        time_in_force=time_in_force,
        expires_at=expires_at,
        equity_fraction=equity_fraction,
        quote_amount=quote_amount,
        close_fraction=close_fraction,
    )


_REGISTRY: dict[str, StrategyFactory] = {}


def register_strategy(name: str) -> Callable[[F], F]:
    """Register a strategy class or factory under `name` (a lower-case code).

    Example: `@register_strategy("momentum")` above `class MomentumStrategy`.
    """
    if not _STRATEGY_NAME.fullmatch(name):
        raise ValueError(f"strategy name {name!r} must be a lower-case code such as momentum")

    def register(factory: F) -> F:
        known = _REGISTRY.get(name)
        if known is not None and _qualified_name(known) != _qualified_name(factory):
            raise ValueError(f"strategy {name!r} is already registered ({_qualified_name(known)})")
        _REGISTRY[name] = factory  # type: ignore[assignment]  # checked when loaded
        return factory

    return register


def registered_strategies() -> tuple[str, ...]:
    """Return the registered strategy names, sorted."""
    return tuple(sorted(_REGISTRY))


def load_strategy(
    name_or_path: str, settings: StrategySettings, params: Mapping[str, Any] | None = None
) -> Strategy:
    """Build the strategy a registered name or a dotted path names.

    A dotted path is `package.module:ClassName` or `package.module.ClassName`; the object
    there is a strategy class or factory. A class that declares `Params` (a pydantic model,
    see `engine.strategy.params`) is built with that model made of `params` (and, for a model
    that is the settings' strategy section, of the CLAIRE_STRATEGY_* settings under them);
    any other is called with the settings when it takes an argument. Raise
    `StrategyNotFoundError` naming what was tried and the registered strategies, and
    `StrategyParamsError` for a parameter that is unknown or wrong.
    """
    text = name_or_path.strip()
    return _build(text, factory_of(text), settings, dict(params or {}))


def factory_of(name_or_path: str) -> object:
    """The strategy class or factory a registered name or a dotted path names."""
    text = name_or_path.strip()
    if ":" in text or "." in text:
        return _import_factory(text)
    found = _REGISTRY.get(text.lower())
    if found is None:
        raise StrategyNotFoundError(f"unknown strategy {text!r} ({_known_names()})")
    return found


def _known_names() -> str:
    names = ", ".join(registered_strategies()) or "none"
    return f"registered strategies: {names}; or give a dotted path package.module:ClassName"


def _import_factory(path: str) -> object:
    module_name, _, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attribute:
        raise StrategyNotFoundError(f"strategy path {path!r} must be package.module:ClassName")
    _import_from_working_directory()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StrategyNotFoundError(
            f"cannot import module {module_name!r} of strategy {path!r}: {exc} ({_known_names()})"
        ) from exc
    except Exception as exc:  # the user's module failed while running its top level
        raise StrategyNotFoundError(
            f"importing module {module_name!r} of strategy {path!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    found: object = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise StrategyNotFoundError(
                f"module {module_name!r} has no {attribute!r} (strategy {path!r})"
            )
        found = getattr(found, part)
    return found


def strategy_home(name_or_path: str) -> str | None:
    """The working directory, when the strategy's module is imported from it (a module of
    the user's own, beside which `claire papertest start` ran); else None."""
    text = name_or_path.strip()
    if ":" not in text and "." not in text:
        return None
    module_name = text.partition(":")[0] if ":" in text else text.rpartition(".")[0]
    top = module_name.split(".", 1)[0]
    here = Path.cwd()
    if (here / top).is_dir() or (here / f"{top}.py").is_file():
        claire_root = Path(__file__).resolve().parents[2]
        return None if here.resolve() == claire_root else str(here.resolve())
    return None


def import_from(directory: str | None) -> None:
    """Let strategy modules of `directory` be imported (see `strategy_home`)."""
    if directory and directory not in sys.path:
        sys.path.append(directory)


def _import_from_working_directory() -> None:
    """Let a dotted path name a module of the working directory, as `python -m` does (the
    engine process runs so): `claire strategy check mystrat:Mystrat` beside `mystrat.py`."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)


def _build(
    text: str, factory: object, settings: StrategySettings, params: dict[str, Any]
) -> Strategy:
    if not callable(factory):
        raise StrategyNotFoundError(f"{text!r} is not a strategy class or factory")
    argument = _argument(text, factory, settings, params)
    try:
        strategy = factory(argument) if _takes_argument(factory) else factory()
    except Exception as exc:
        raise StrategyNotFoundError(
            f"strategy {text!r} could not be created: {type(exc).__name__}: {exc}"
        ) from exc
    return _checked(text, strategy)


def strategy_parameters(
    name_or_path: str, settings: StrategySettings, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The parameters the strategy runs with, as JSON values: its `Params` model made of
    `params` over its defaults; {} for a strategy that declares none. A run records them
    (its report shows them); errors are those of `load_strategy`."""
    text = name_or_path.strip()
    factory = factory_of(text)
    argument = _argument(text, factory, settings, dict(params or {}))
    if params_model(factory) is None or not isinstance(argument, BaseModel):
        return {}
    return argument.model_dump(mode="json")


def _argument(
    text: str, factory: object, settings: StrategySettings, params: dict[str, Any]
) -> object:
    """What the strategy is built with: its `Params` made of `params`, else the settings."""
    model = params_model(factory)
    if model is None and params:
        raise StrategyParamsError(
            f"strategy {text} declares no parameters, yet was given {', '.join(sorted(params))}",
            hint="a strategy takes parameters through a `Params` model on its class",
        )
    if model is not None and (params or not isinstance(settings, model)):
        defaults = settings.model_dump() if isinstance(settings, model) else None
        return build_params(model, params, strategy=text, defaults=defaults)
    return settings


def _takes_argument(factory: Callable[..., object]) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: give it the settings
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(
        p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters
    )


def _checked(text: str, strategy: object) -> Strategy:
    if not isinstance(strategy, Strategy):
        kind = type(strategy).__name__
        raise StrategyNotFoundError(
            f"{text!r} made a {kind}, which is not a strategy "
            "(it needs a `name`, `on_market_data` and `on_fill`; subclass BaseStrategy)"
        )
    name = getattr(strategy, "name", None)
    if not isinstance(name, str) or not _STRATEGY_NAME.fullmatch(name):
        raise StrategyNotFoundError(
            f"strategy {text!r} has name {name!r}; it must be a lower-case code such as momentum"
        )
    warmup = getattr(strategy, "warmup", timedelta(0))
    if not isinstance(warmup, timedelta) or not timedelta(0) <= warmup <= MAX_WARMUP:
        raise StrategyNotFoundError(
            f"strategy {text!r} has warmup {warmup!r}; it must be a timedelta from 0 to "
            f"{MAX_WARMUP.days} days"
        )
    return strategy


def _qualified_name(factory: object) -> str:
    module = getattr(factory, "__module__", "?")
    return f"{module}.{getattr(factory, '__qualname__', type(factory).__qualname__)}"
