"""A strategy's own parameters: parsed, checked in one line, and built into the strategy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.runs.registry import RunParameters, settings_hash
from engine.settings import Settings, StrategySettings
from engine.settings_check import load_settings
from engine.strategy import MomentumStrategy, StrategyNotFoundError, load_strategy
from engine.strategy.params import (
    StrategyParamsError,
    as_text,
    configured_params,
    given_params,
    parse_pairs,
    specs,
)

PLAIN = "tests.unit.test_strategy_registry:BuyEveryCandle"


def test_pairs_are_key_value_and_a_later_key_wins() -> None:
    assert parse_pairs(["a=1", " b = x y ", "a=2"]) == {"a": "2", "b": "x y"}
    with pytest.raises(StrategyParamsError, match="'lookback' is not key=value"):
        parse_pairs(["lookback"])


def test_a_toml_file_and_pairs_over_it(tmp_path: Path) -> None:
    path = tmp_path / "params.toml"
    path.write_text('lookback_minutes = 30\nentry_threshold = "1%"\nflag = true\n')
    given = given_params(["lookback_minutes=45"], path)
    assert given == {"lookback_minutes": "45", "entry_threshold": "1%", "flag": True}
    assert as_text(given) == {"entry_threshold": "1%", "flag": "true", "lookback_minutes": "45"}


def test_a_file_that_is_no_flat_toml_table_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "params.toml"
    path.write_text("[momentum]\nlookback_minutes = 30\n")
    with pytest.raises(StrategyParamsError, match="one flat table"):
        given_params([], path)
    path.write_text("lookback_minutes = \n")
    with pytest.raises(StrategyParamsError, match="is not a TOML file"):
        given_params([], path)


def test_momentum_takes_a_param_over_its_settings() -> None:
    settings = StrategySettings(cooldown_minutes=5)
    strategy = load_strategy("momentum", settings, {"lookback_minutes": "30"})
    assert isinstance(strategy, MomentumStrategy)
    assert strategy.settings.lookback_minutes == 30
    assert strategy.settings.cooldown_minutes == 5  # from CLAIRE_STRATEGY_COOLDOWN_MINUTES
    fraction = load_strategy("momentum", settings, {"entry_threshold": "2%"})
    assert isinstance(fraction, MomentumStrategy)
    assert fraction.settings.entry_threshold == Decimal("0.02")


def test_a_value_out_of_its_range_is_one_line_naming_it_and_what_is_allowed() -> None:
    with pytest.raises(StrategyParamsError) as caught:
        load_strategy("momentum", StrategySettings(), {"lookback_minutes": "0"})
    assert caught.value.message == (
        "strategy momentum parameter lookback_minutes=0: Input should be greater than or"
        " equal to 1 (allowed: >= 1, <= 1440)"
    )
    with pytest.raises(StrategyParamsError, match="lookback_minutes=abc: Input should be"):
        load_strategy("momentum", StrategySettings(), {"lookback_minutes": "abc"})


def test_an_unknown_parameter_names_those_the_strategy_takes() -> None:
    with pytest.raises(StrategyParamsError, match="no parameter 'lookback'; it takes: lookback_m"):
        load_strategy("momentum", StrategySettings(), {"lookback": "30"})


def test_a_strategy_without_a_params_model_refuses_parameters() -> None:
    assert load_strategy(PLAIN, StrategySettings(), {}).name == "buy-every-candle"
    with pytest.raises(StrategyParamsError, match="declares no parameters, yet was given x"):
        load_strategy(PLAIN, StrategySettings(), {"x": "1"})


def test_specs_say_each_parameters_type_default_range_and_description() -> None:
    lookback = next(s for s in specs(StrategySettings) if s.name == "lookback_minutes")
    assert (lookback.type, lookback.default, lookback.allowed) == ("int", 15, ">= 1, <= 1440")
    assert lookback.description.startswith("Look-back")


def test_a_run_records_its_parameters_and_they_are_part_of_its_settings_hash() -> None:
    parameters = RunParameters(
        "1d", Decimal(1000), ("BTCUSDT",), "synthetic", "max", "momentum",
        strategy_params={"lookback_minutes": "30"},
    )  # fmt: skip
    assert RunParameters.from_json(parameters.to_json()) == parameters
    assert RunParameters.from_json({**parameters.to_json(), "strategy_params": None}) == (
        RunParameters("1d", Decimal(1000), ("BTCUSDT",), "synthetic", "max", "momentum")
    )
    settings = Settings()
    assert settings_hash(settings) != settings_hash(settings, {"lookback_minutes": "30"})
    assert settings_hash(settings) == settings_hash(settings, {})


def test_configured_params_are_pairs_separated_by_commas_or_semicolons() -> None:
    assert configured_params("fast=8, slow = 21;flag=true;;") == {
        "fast": "8",
        "slow": "21",
        "flag": "true",
    }
    assert configured_params("") == {}
    assert configured_params("fast=8,fast=9") == {"fast": "9"}
    with pytest.raises(StrategyParamsError) as caught:
        configured_params("fast=8,slow")
    assert caught.value.message == (
        "CLAIRE_STRATEGY_PARAMS: strategy parameter 'slow' is not key=value"
    )


def test_param_wins_over_the_file_which_wins_over_the_environment_over_the_defaults(
    tmp_path: Path,
) -> None:
    path = tmp_path / "params.toml"
    path.write_text("lookback_minutes = 30\ncooldown_minutes = 5\n")
    configured = "lookback_minutes=20,cooldown_minutes=4,take_profit=3%"
    given = given_params(["lookback_minutes=45"], path, configured=configured)
    assert given == {
        "lookback_minutes": "45",  # --param
        "cooldown_minutes": 5,  # --params FILE
        "take_profit": "3%",  # CLAIRE_STRATEGY_PARAMS
    }
    assert given_params([], None, configured=configured) == {
        "lookback_minutes": "20",
        "cooldown_minutes": "4",
        "take_profit": "3%",
    }
    strategy = load_strategy("momentum", StrategySettings(), given)
    assert isinstance(strategy, MomentumStrategy)
    assert strategy.settings.lookback_minutes == 45
    assert strategy.settings.cooldown_minutes == 5
    assert strategy.settings.take_profit == Decimal("0.03")
    assert strategy.settings.stop_loss == StrategySettings().stop_loss  # the default


def test_strategy_params_are_read_from_the_environment_and_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "claire.env"
    env_file.write_text('CLAIRE_STRATEGY_PARAMS="fast=8;slow=21"\n')
    env_file.chmod(0o600)
    assert load_settings(env_file, {}).papertest.strategy_params == "fast=8;slow=21"
    loaded = load_settings(env_file, {"CLAIRE_STRATEGY_PARAMS": "fast=3"})  # the process wins
    assert loaded.papertest.strategy_params == "fast=3"
    assert loaded.strategy == StrategySettings()  # no momentum parameter called `params`
    monkeypatch.setenv("CLAIRE_STRATEGY_PARAMS", "lookback_minutes=30")
    direct = Settings()  # pydantic-settings' own reading of the environment
    assert direct.papertest.strategy_params == "lookback_minutes=30"
    assert direct.strategy == StrategySettings()
    monkeypatch.delenv("CLAIRE_STRATEGY_PARAMS")
    assert Settings().papertest.strategy_params == ""


def test_a_value_with_a_line_break_is_still_one_line() -> None:
    with pytest.raises(StrategyParamsError) as caught:
        load_strategy("momentum", StrategySettings(), {"lookback_minutes": "3\n0"})
    assert caught.value.message.startswith("strategy momentum parameter lookback_minutes='3\\n0':")
    assert len(caught.value.message.splitlines()) == 1


def test_a_module_of_the_working_directory_is_imported_from_there_by_an_engine_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`claire papertest start --strategy mine:Mine` beside mine.py records that folder; an
    engine started in another directory (the supervisor's resume) imports the module there."""
    import sys

    from engine.strategy.base import import_from, strategy_home

    home = tmp_path / "strategies"
    home.mkdir()
    (home / "mine_elsewhere.py").write_text(
        "from engine.strategy import BaseStrategy\n\n\nclass Mine(BaseStrategy):\n"
        "    name = 'mine'\n"
    )
    monkeypatch.chdir(home)
    assert strategy_home("mine_elsewhere:Mine") == str(home.resolve())
    assert strategy_home("momentum") is None
    assert strategy_home("examples.strategies.ema_cross:EmaCross") is None  # claire's own
    found = strategy_home("mine_elsewhere:Mine")
    parameters = RunParameters(
        duration="1d", capital=Decimal(1000), symbols=("BTCUSDT",), source="synthetic",
        speed="max", strategy="mine_elsewhere:Mine", strategy_dir=found,
    )  # fmt: skip
    assert RunParameters.from_json(parameters.to_json()) == parameters

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(home))])
    with pytest.raises(StrategyNotFoundError, match="cannot import module 'mine_elsewhere'"):
        load_strategy("mine_elsewhere:Mine", Settings().strategy)
    import_from(parameters.strategy_dir)
    assert load_strategy("mine_elsewhere:Mine", Settings().strategy).name == "mine"
