"""The settings class: defaults, parsing of percentages and lists, sources and their order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from engine.errors import ConfigurationError
from engine.runtime_kind import RuntimeKind
from engine.settings import Settings, setting_specs
from engine.settings_check import load_settings


@pytest.mark.parametrize("written", ["5%", "0.05", " 5% ", "5.0%"])
def test_fraction_when_written_as_percent_or_decimal_then_same_decimal(written: str) -> None:
    settings = Settings.model_validate({"risk": {"max_daily_drawdown": written}})

    assert settings.risk.max_daily_drawdown == Decimal("0.05")
    assert isinstance(settings.risk.max_daily_drawdown, Decimal)


def test_fraction_when_read_from_environment_then_decimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIRE_RISK_MAX_DAILY_DRAWDOWN", "5%")
    monkeypatch.setenv("CLAIRE_RISK_MAX_EXPOSURE", "0.1")

    settings = load_settings()

    assert settings.risk.max_daily_drawdown == Decimal("0.05")
    assert settings.risk.max_exposure == Decimal("0.1")


def test_defaults_when_nothing_set_then_values_from_the_brief() -> None:
    settings = load_settings()

    assert settings.papertest.capital == Decimal(100_000)
    assert settings.papertest.quote_currency == "USDT"
    assert settings.risk.max_daily_drawdown == Decimal("0.05")
    assert settings.risk.max_exposure == Decimal("0.10")
    assert settings.risk.abort_drawdown == Decimal("0.08")
    assert settings.risk.alert_drawdown == Decimal("0.03")
    assert settings.backup.retention_days == 14
    assert settings.runtime is RuntimeKind.LOCAL
    assert settings.database.password is None


def test_symbols_when_lowercase_with_spaces_then_upper_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_PAPERTEST_SYMBOLS", "btcusdt, ethusdt")

    assert load_settings().papertest.symbols == ["BTCUSDT", "ETHUSDT"]


def test_symbols_when_not_a_symbol_then_rejected() -> None:
    with pytest.raises(ValidationError, match="'BTC-USD' is not a symbol"):
        Settings.model_validate({"papertest": {"symbols": "btc-usd"}})


def test_fraction_when_above_one_then_rejected() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        Settings.model_validate({"risk": {"max_exposure": "250%"}})


def test_load_when_env_and_file_disagree_then_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "claire.env"
    env_file.write_text("CLAIRE_RISK_MAX_POSITION=2%\nCLAIRE_RISK_MAX_EXPOSURE=20%\n")
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "3%")

    settings = load_settings(env_file)

    assert settings.risk.max_position == Decimal("0.03")
    assert settings.risk.max_exposure == Decimal("0.2")


def test_load_when_invalid_then_configuration_error_names_variable_not_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_REDIS_PORT", "seventy")
    monkeypatch.setenv("CLAIRE_REDIS_PASSWORD", "hunter2-do-not-print")

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    assert "CLAIRE_REDIS_PORT" in caught.value.message
    assert "hunter2-do-not-print" not in caught.value.message


def test_secret_when_printed_then_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIRE_DATABASE_PASSWORD", "hunter2-do-not-print")

    settings = load_settings()

    assert isinstance(settings.database.password, SecretStr)
    assert "hunter2-do-not-print" not in repr(settings)
    assert "hunter2-do-not-print" not in str(settings.model_dump())


def test_setting_specs_when_listed_then_unique_names_and_secrets_flagged() -> None:
    specs = list(setting_specs())
    names = [spec.env for spec in specs]
    secrets = {spec.env for spec in specs if spec.secret}

    assert len(names) == len(set(names))
    assert "CLAIRE_RISK_MAX_DAILY_DRAWDOWN" in names
    assert secrets == {
        "CLAIRE_DATABASE_URL",
        "CLAIRE_DATABASE_PASSWORD",
        "CLAIRE_REDIS_URL",
        "CLAIRE_REDIS_PASSWORD",
        "CLAIRE_NOTIFY_URLS",
        "CLAIRE_NOTIFY_TELEGRAM_TOKEN",
        "CLAIRE_NOTIFY_DISCORD_WEBHOOK",
        "CLAIRE_NOTIFY_SMTP_PASSWORD",
        "CLAIRE_DOCKER_GRAFANA_PASSWORD",
    }


def test_load_when_variable_misspelt_then_refused_not_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_RISK_MAX_EXPOSRE", "0.5")

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    assert "CLAIRE_RISK_MAX_EXPOSRE" in caught.value.message
    assert "did you mean CLAIRE_RISK_MAX_EXPOSURE" in caught.value.message
