"""`claire env check`, `claire env show` and `claire env template` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claire_cli.app import app

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-correct-horse-battery"
BROKEN_ENV = (
    "CLAIRE_RISK_MAX_EXPOSURE=250%\n"
    "CLAIRE_DATABASE_PORT=abc\n"
    "CLAIRE_RISK_MAX_POSTION=2%\n"
    "CLAIRE_RISK_ALERT_DRAWDOWN=9%\n"
)


def write_env(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_check_when_nothing_set_then_valid_and_exit_0() -> None:
    code, output = invoke("env", "check")

    assert code == 0, output
    assert "settings are valid" in output


def test_check_when_env_file_has_five_problems_then_five_lines_and_exit_1(tmp_path: Path) -> None:
    write_env(tmp_path / ".env", BROKEN_ENV)

    code, output = invoke("env", "check")

    assert code == 1
    error_lines = [line for line in output.splitlines() if line.startswith("error ")]
    assert len(error_lines) == 5
    assert "CLAIRE_RISK_MAX_EXPOSURE = '250%': is out of range" in output
    assert "a fraction from 0 to 1, written 0.05 or 5%" in output
    assert "did you mean CLAIRE_RISK_MAX_EXPOSURE?" not in output  # POSTION is closest to POSITION
    assert "did you mean CLAIRE_RISK_MAX_POSITION?" in output
    assert "settings are invalid: 5 errors, 0 warnings (environment and .env)" in output


def test_check_when_json_then_same_findings_as_data(tmp_path: Path) -> None:
    env_file = write_env(tmp_path / "prod.env", BROKEN_ENV)

    code, output = invoke("env", "check", "--env-file", str(env_file), "--json")

    report = json.loads(output)
    assert code == 1
    assert report["valid"] is False
    assert report["env_file"] == str(env_file)
    assert len(report["findings"]) == 5
    assert set(report["findings"][0]) == {"severity", "variable", "value", "problem", "allowed"}
    assert {f["severity"] for f in report["findings"]} == {"error"}


def test_check_when_valid_json_then_valid_true(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "2%")

    code, output = invoke("env", "check", "--json")

    assert code == 0
    assert json.loads(output) == {"valid": True, "env_file": None, "findings": []}


def test_check_when_only_warnings_then_exit_0_and_warning_shown(tmp_path: Path) -> None:
    write_env(tmp_path / ".env", f"CLAIRE_NOTIFY_DISCORD_WEBHOOK={SECRET}\n", mode=0o644)

    code, output = invoke("env", "check")

    assert code == 0, output
    assert output.startswith("warning ")
    assert "chmod 600 .env" in output
    assert "settings are valid with 1 warning" in output
    assert SECRET not in output


def test_check_when_env_has_typo_then_suggests_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIRE_BACKUP_RETENTION_DAY", "30")

    code, output = invoke("env", "check")

    assert code == 1
    assert "CLAIRE_BACKUP_RETENTION_DAY" in output
    assert "did you mean CLAIRE_BACKUP_RETENTION_DAYS?" in output


def test_check_when_env_file_missing_then_exit_1(tmp_path: Path) -> None:
    code, output = invoke("env", "check", "--env-file", "prod.env")

    assert code == 1
    assert "prod.env does not exist" in output


def test_check_when_global_env_file_given_then_used(tmp_path: Path) -> None:
    write_env(tmp_path / "prod.env", "CLAIRE_LOG_LEVEL=chatty\n")

    code, output = invoke("--env-file", "prod.env", "env", "check")

    assert code == 1
    assert "CLAIRE_LOG_LEVEL = 'chatty'" in output
    assert "(environment and prod.env)" in output


def test_check_when_subcommand_env_file_then_it_beats_global(tmp_path: Path) -> None:
    write_env(tmp_path / "good.env", "CLAIRE_LOG_LEVEL=debug\n")

    code, output = invoke("--env-file", "missing.env", "env", "check", "--env-file", "good.env")

    assert code == 0, output


def test_check_when_secret_set_wrongly_then_secret_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(tmp_path / ".env", f"CLAIRE_REDIS_PASSWROD={SECRET}\nCLAIRE_REDIS_PORT=6380\n", 0o644)
    monkeypatch.setenv("CLAIRE_NOTIFY_TELEGRAM_TOKEN", SECRET)

    code, output = invoke("env", "check")
    _, json_output = invoke("env", "check", "--json")

    assert code == 1
    assert "CLAIRE_REDIS_PASSWROD" in output
    assert SECRET not in output
    assert SECRET not in json_output


def test_check_when_strategy_params_wrong_then_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIRE_STRATEGY_PARAMS", "lookback_minutes=0")

    code, output = invoke("env", "check")

    assert code == 1
    [error] = [line for line in output.splitlines() if line.startswith("error ")]
    assert error == (
        "error   CLAIRE_STRATEGY_PARAMS = 'lookback_minutes=0': strategy momentum parameter"
        " lookback_minutes=0: Input should be greater than or equal to 1 (allowed: >= 1,"
        " <= 1440); allowed: parameters strategy momentum takes, in their ranges"
        " (`claire strategy list`)"
    )
    assert "settings are invalid: 1 error, 0 warnings" in output

    monkeypatch.delenv("CLAIRE_STRATEGY_PARAMS")
    write_env(tmp_path / ".env", "CLAIRE_STRATEGY_PARAMS=lookback_minutes=30,slow\n")
    code, output = invoke("env", "check", "--json")

    assert code == 1
    [finding] = json.loads(output)["findings"]
    assert finding == {
        "severity": "error",
        "variable": "CLAIRE_STRATEGY_PARAMS",
        "value": "lookback_minutes=30,slow",
        "problem": "'slow' is not key=value",
        "allowed": "key=value pairs separated by commas or semicolons, e.g. fast=8,slow=21",
    }


def test_check_when_strategy_params_right_then_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(tmp_path / ".env", "CLAIRE_STRATEGY_PARAMS=lookback_minutes=30;cooldown_minutes=0\n")

    code, output = invoke("env", "check")

    assert code == 0, output
    assert "settings are valid" in output

    monkeypatch.setenv(
        "CLAIRE_PAPERTEST_STRATEGY", "tests.unit.test_strategy_registry:BuyEveryCandle"
    )
    code, output = invoke("env", "check")  # a strategy that takes no parameters

    assert code == 1
    assert "CLAIRE_STRATEGY_PARAMS = 'lookback_minutes=30;cooldown_minutes=0': strategy" in output
    assert "declares no parameters, yet was given cooldown_minutes, lookback_minutes" in output


def test_show_when_sources_mixed_then_table_names_each_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(tmp_path / ".env", f"CLAIRE_DATABASE_PORT=5433\nCLAIRE_DATABASE_PASSWORD={SECRET}\n")
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "2%")

    code, output = invoke("env", "show")

    assert code == 0, output
    rows = {line.split()[1]: line for line in output.splitlines() if "CLAIRE_" in line}
    assert "env" in rows["CLAIRE_RISK_MAX_POSITION"]
    assert "file" in rows["CLAIRE_DATABASE_PORT"]
    assert "default" in rows["CLAIRE_RISK_MAX_EXPOSURE"]
    assert "(not set)" in rows["CLAIRE_REDIS_PASSWORD"]
    assert SECRET not in output


def test_show_when_json_then_values_and_sources_secrets_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_DATABASE_URL", f"postgresql://claire:{SECRET}@db/claire")
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "2%")

    code, output = invoke("env", "show", "--json")

    settings = {s["variable"]: s for s in json.loads(output)["settings"]}
    assert code == 0
    assert settings["CLAIRE_RISK_MAX_POSITION"] == {
        "variable": "CLAIRE_RISK_MAX_POSITION",
        "value": "0.02",
        "source": "env",
    }
    assert settings["CLAIRE_DATABASE_URL"]["value"] == "po…"
    assert settings["CLAIRE_BACKUP_RETENTION_DAYS"]["value"] == "14"
    assert settings["CLAIRE_NOTIFY_TELEGRAM_TOKEN"]["value"] is None
    assert SECRET not in output


def test_show_when_settings_invalid_then_one_error_and_exit_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIRE_REDIS_PORT", "many")
    monkeypatch.setenv("CLAIRE_REDIS_PASSWORD", SECRET)

    code, output = invoke("env", "show")

    assert code == 1
    assert "CLAIRE_REDIS_PORT = 'many'" in output
    assert "claire env check" in output
    assert "Traceback" not in output
    assert SECRET not in output


def test_template_when_printed_then_equals_committed_env_example() -> None:
    code, output = invoke("env", "template")

    assert code == 0
    assert output == (ROOT / ".env.example").read_text()


def test_template_when_out_given_then_writes_file(tmp_path: Path) -> None:
    code, output = invoke("env", "template", "--out", "example.env")

    assert code == 0, output
    assert (tmp_path / "example.env").read_text() == (ROOT / ".env.example").read_text()


def test_template_when_out_exists_then_refuses_unless_force(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CLAIRE_LOG_LEVEL=DEBUG\n")

    refused_code, refused = invoke("env", "template", "--out", ".env")
    kept = (tmp_path / ".env").read_text()
    forced_code, _ = invoke("env", "template", "--out", ".env", "--force")

    assert refused_code == 1
    assert ".env already exists" in refused
    assert "--force" in refused
    assert kept == "CLAIRE_LOG_LEVEL=DEBUG\n"
    assert forced_code == 0
    assert (tmp_path / ".env").read_text().startswith("# claire settings.")


def test_template_when_directory_missing_then_one_error_line() -> None:
    code, output = invoke("env", "template", "--out", "no/such/dir/.env.example")

    assert code == 1
    assert "cannot write no/such/dir/.env.example" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("command", ["check", "show", "template"])
def test_help_when_asked_then_shows_an_example(command: str) -> None:
    code, output = invoke("env", command, "--help")

    assert code == 0
    assert f"Example: claire env {command}" in output
