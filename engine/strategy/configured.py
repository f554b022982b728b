"""CLAIRE_STRATEGY_PARAMS checked against the configured strategy (`claire env check`).

The settings check cannot load a strategy (it is the lowest layer); this builds the one
CLAIRE_PAPERTEST_STRATEGY names with the variable's parameters, as a start would, and says
what is wrong in one line naming the variable.
"""

from __future__ import annotations

from engine.errors import ClaireError
from engine.settings import STRATEGY_PARAMS_ENV, Settings
from engine.settings_check import Finding, printable
from engine.strategy.base import load_strategy
from engine.strategy.params import StrategyParamsError, configured_params


def strategy_params_findings(settings: Settings) -> list[Finding]:
    """An error naming CLAIRE_STRATEGY_PARAMS when the configured strategy cannot be built
    with them (a parameter it does not take, a value out of its range); [] when unset.

    Building the strategy imports a dotted path's module, as `claire strategy list` does."""
    text = settings.papertest.strategy_params
    if not text.strip():
        return []
    chosen = settings.papertest.strategy
    allowed = f"parameters strategy {chosen} takes, in their ranges (`claire strategy list`)"
    try:
        load_strategy(chosen, settings.strategy, configured_params(text))
    except StrategyParamsError as exc:
        problem = exc.message
    except ClaireError as exc:  # the strategy cannot be loaded or built: its hint says why
        problem, allowed = exc.message, exc.hint or allowed
    except Exception as exc:  # a user's Params model raising what pydantic does not catch
        problem = f"strategy {chosen} refused them: {type(exc).__name__}: {exc}"
    else:
        return []
    return [Finding("error", STRATEGY_PARAMS_ENV, text, printable(problem), printable(allowed))]
