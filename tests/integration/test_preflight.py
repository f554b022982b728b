"""The checks before a papertest starts, as `claire papertest start` runs them."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine.marketdata.files import Layout, write_market_file
from engine.marketdata.synthetic import synthetic_candles
from engine.runs import service
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings
from tests.factories import EPOCH

pytestmark = pytest.mark.integration


def replay_parameters(path: Path) -> object:
    return service.make_parameters(
        duration="1h",
        capital="1000",
        symbols="BTCUSDT",
        source=f"replay:{path}",
        speed="max",
        strategy="momentum",
        record=False,
        seed=42,
    )


def recording(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "btc.csv"
    write_market_file(path, synthetic_candles(["BTCUSDT"], EPOCH, 30), Layout.CANDLES)
    return path


@pytest.mark.parametrize("runtime", ["local", "docker"])
def test_replay_outside_the_data_directory_then_refused_on_docker_only(
    settings: Settings, db: psycopg.Connection[tuple[object, ...]], tmp_path: Path, runtime: str
) -> None:
    chosen = settings.model_copy(update={"runtime": RuntimeKind(runtime)})
    outside = recording(tmp_path / "elsewhere")
    inside = recording(chosen.data_dir / "fetched")

    refused = service.preflight(chosen, replay_parameters(outside), db)  # type: ignore[arg-type]
    accepted = service.preflight(chosen, replay_parameters(inside), db)  # type: ignore[arg-type]

    assert accepted.problems == []
    if runtime == "docker":
        (problem,) = refused.problems
        assert "the only directory the engine containers see" in problem
        assert "CLAIRE_MARKET_DATA_DIR" in problem
    else:
        assert refused.problems == []


@pytest.mark.parametrize("runtime", ["local", "docker"])
def test_a_strategy_of_your_own_module_then_refused_on_docker_only(
    settings: Settings, db: psycopg.Connection[tuple[object, ...]], runtime: str
) -> None:
    """The engine image holds claire and its examples: a user's module is not there."""
    chosen = settings.model_copy(update={"runtime": RuntimeKind(runtime)})
    inside = chosen.data_dir / "fetched"
    path = recording(inside)

    def checked(strategy: str) -> list[str]:
        parameters = replay_parameters(path)
        own = parameters.__class__(**{**vars(parameters), "strategy": strategy})
        return service.preflight(chosen, own, db).problems

    assert checked("examples.strategies.ema_cross:EmaCross") == []
    mine = checked("tests.unit.test_strategy_registry:BuyEveryCandle")
    if runtime == "docker":
        (problem,) = mine
        assert "a module of your own" in problem
        assert "CLAIRE_RUNTIME=local" in problem
    else:
        assert mine == []
