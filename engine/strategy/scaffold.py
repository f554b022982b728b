"""`claire strategy new NAME`: the text of a new strategy and of its test, ready to run.

The strategy is a `BarStrategy` of 15-minute bars with its own `Params` and two streaming
indicators (a fast and a slow SMA: in when the fast one is above, out when it falls under);
the test plays a synthetic day through it with `claire strategy check`'s engine function
and fails on any exception the strategy raises. Both are the user's to change.
"""

from __future__ import annotations

import keyword
import re

from engine.errors import PermanentError

_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")

_STRATEGY = '''"""{title}: a strategy of 15-minute bars (written by `claire strategy new {name}`).

Run it:
    claire strategy check {name}:{cls} --days 3
    claire papertest start --strategy {name}:{cls} --source synthetic --speed max --duration 7d
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Candle, CandleInterval, SignalGenerated
from engine.strategy import StrategyContext
from engine.strategy.bar_strategy import BarStrategy
from engine.strategy.indicators import SMA, IndicatorSet


class {cls}Params(BaseModel):
    """The parameters of `{cls}` (`--param fast=10` changes one for a run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: CandleInterval = Field("15m", description="The bars it trades on")
    fast: int = Field(10, ge=2, le=500, description="Bars of the fast moving average")
    slow: int = Field(40, ge=3, le=2000, description="Bars of the slow moving average")


class {cls}(BarStrategy):
    """In when the fast SMA is above the slow one; out when it falls under."""

    name = "{code}"
    Params = {cls}Params

    def __init__(self, params: {cls}Params | None = None) -> None:
        self.params = params or {cls}Params()
        self.intervals = (self.params.interval,)
        self._indicators: dict[str, IndicatorSet] = {{}}

    def on_bar(self, bar: Candle, context: StrategyContext) -> list[SignalGenerated]:
        values = self._indicators.setdefault(
            bar.symbol, IndicatorSet(fast=SMA(self.params.fast), slow=SMA(self.params.slow))
        )
        values.update(bar)
        if not values.ready:
            return []
        held, _ = context.position(bar.symbol)
        if held == 0 and values["fast"] > values["slow"]:
            return [self.buy(bar, context, "fast SMA above slow")]
        if held > 0 and values["fast"] < values["slow"]:
            return [self.sell(bar, context, "fast SMA under slow")]
        return []
'''

_TEST = '''"""{cls} on a synthetic day through the paper pipeline (by `claire strategy new`).

Run it: python -m pytest test_{name}.py
"""

from __future__ import annotations

from engine.engine_process.strategy_check import check_strategy
from engine.settings import Settings

STRATEGY = "{name}:{cls}"


def test_it_runs_a_day_without_an_exception_and_trades() -> None:
    result = check_strategy(Settings(), STRATEGY, {{}}, symbols=["BTCUSDT", "ETHUSDT"], days=1)
    assert result.errors == []
    assert result.signals, "no signal in a day: change the parameters or the rules"


def test_its_parameters_change_what_it_does() -> None:
    quick = check_strategy(Settings(), STRATEGY, {{"fast": "3", "slow": "6"}}, symbols=["BTCUSDT"])
    slow = check_strategy(Settings(), STRATEGY, {{"fast": "20", "slow": "80"}}, symbols=["BTCUSDT"])
    assert len(quick.signals) != len(slow.signals)
'''


def class_name(name: str) -> str:
    """The class `scaffold` writes for module `name`: `my_breakout` -> `MyBreakout`."""
    return "".join(part.capitalize() for part in name.split("_") if part)


def scaffold(name: str) -> dict[str, str]:
    """The files of a new strategy `name` (a module name): `{name}.py` and its test."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise PermanentError(
            f"strategy name {name!r} must be a lower-case Python module name (letters, digits"
            " and _, starting with a letter, at most 41 characters)",
            hint="for example: claire strategy new my_breakout",
        )
    cls = class_name(name)
    words = {"name": name, "cls": cls, "code": name.replace("_", "-"), "title": cls}
    return {f"{name}.py": _STRATEGY.format(**words), f"test_{name}.py": _TEST.format(**words)}
