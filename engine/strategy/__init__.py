"""Strategies: market events in, signals out; pure, no I/O, no clock.

Load the configured one with `load_strategy(settings.papertest.strategy, settings.strategy)`.
"""

from engine.strategy.base import (
    SIGNAL_SOURCE,
    BaseStrategy,
    MarketEvent,
    PositionsContext,
    Strategy,
    StrategyContext,
    StrategyFactory,
    StrategyNotFoundError,
    load_strategy,
    make_signal,
    register_strategy,
    registered_strategies,
    signal_event_id,
)
from engine.strategy.momentum import MomentumStrategy, PriceWindow

__all__ = [
    "SIGNAL_SOURCE",
    "BaseStrategy",
    "MarketEvent",
    "MomentumStrategy",
    "PositionsContext",
    "PriceWindow",
    "Strategy",
    "StrategyContext",
    "StrategyFactory",
    "StrategyNotFoundError",
    "load_strategy",
    "make_signal",
    "register_strategy",
    "registered_strategies",
    "signal_event_id",
]
