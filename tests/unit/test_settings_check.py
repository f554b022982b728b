"""`check_settings`: every kind of problem, all at once, and never a secret in a finding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import ConfigurationError
from engine.settings_check import (
    SPECS,
    Finding,
    build_settings,
    check_settings,
    effective_settings,
    env_template,
    is_valid,
    load_settings,
    load_sources,
    mask,
)

SECRET = "hunter2-correct-horse-battery"


def write_env(directory: Path, text: str, mode: int = 0o600, name: str = ".env") -> Path:
    path = directory / name
    path.write_text(text)
    path.chmod(mode)
    return path


def by_variable(findings: list[Finding]) -> dict[str | None, Finding]:
    return {finding.variable: finding for finding in findings}


def everything_said(findings: list[Finding]) -> str:
    return "\n".join(str(finding) + repr(finding.as_dict()) for finding in findings)


def test_check_when_nothing_set_then_no_findings() -> None:
    assert check_settings({}, None) == []


def test_check_when_all_set_correctly_then_no_findings(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path, f"CLAIRE_DATABASE_PORT=5433\nCLAIRE_DATABASE_PASSWORD={SECRET}\n"
    )

    findings = check_settings({"CLAIRE_RISK_MAX_EXPOSURE": "20%"}, env_file)

    assert findings == []


def test_check_when_port_not_a_number_then_wrong_type_with_allowed_range() -> None:
    findings = check_settings({"CLAIRE_REDIS_PORT": "abc", "CLAIRE_REDIS_PASSWORD": SECRET}, None)

    assert findings == [
        Finding(
            "error",
            "CLAIRE_REDIS_PORT",
            "abc",
            "is not a whole number",
            "a whole number from 1 to 65535",
        )
    ]


def test_check_when_fraction_out_of_range_then_says_how_to_write_a_fraction() -> None:
    (finding,) = check_settings({"CLAIRE_RISK_MAX_EXPOSURE": "250%"}, None)

    assert finding.variable == "CLAIRE_RISK_MAX_EXPOSURE"
    assert finding.value == "250%"
    assert finding.problem == "is out of range"
    assert finding.allowed == "a fraction from 0 to 1, written 0.05 or 5%"


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("CLAIRE_MARKET_SOURCE", "binance", "one of 'mexc', 'replay' or 'synthetic'"),
        ("CLAIRE_RUNTIME", "k8s", "one of 'local' or 'docker'"),
        ("CLAIRE_DATABASE_NAME", "Bad-Name", "text matching ^[a-z_][a-z0-9_]{0,62}$"),
        ("CLAIRE_REDIS_STREAM_MAXLEN", "10", "a whole number at least 1000"),
        ("CLAIRE_PAPERTEST_CAPITAL", "0", "a number above 0"),
        ("CLAIRE_PAPERTEST_DURATION", "a week", "a number followed by s, m, h or d"),
        ("CLAIRE_EXECUTION_PARTIAL_FILL_FRACTION", "0%", "a fraction above 0 and at most 1"),
        ("CLAIRE_MARKET_RECORD_TICKS", "maybe", "true or false"),
    ],
)
def test_check_when_value_invalid_then_allowed_says_what_is_accepted(
    variable: str, value: str, allowed: str
) -> None:
    (finding,) = check_settings({variable: value}, None)

    assert (finding.severity, finding.variable, finding.value) == ("error", variable, value)
    assert finding.allowed.startswith(allowed)


def test_check_when_env_has_typo_then_suggests_variable() -> None:
    (finding,) = check_settings({"CLAIRE_RISK_MAX_EXPOSRE": "20%"}, None)

    assert finding.severity == "error"
    assert finding.variable == "CLAIRE_RISK_MAX_EXPOSRE"
    assert "unknown variable in the environment" in finding.problem
    assert finding.allowed == "did you mean CLAIRE_RISK_MAX_EXPOSURE?"


def test_check_when_file_has_typo_then_suggests_variable(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "CLAIRE_PAPERTEST_SYMBLS=BTCUSDT\n")

    (finding,) = check_settings({}, env_file)

    assert "unknown variable in the settings file" in finding.problem
    assert finding.allowed == "did you mean CLAIRE_PAPERTEST_SYMBOLS?"


def test_check_when_variable_lowercase_then_recognised() -> None:
    assert check_settings({"claire_risk_max_position": "2%"}, None) == []


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (
            {"CLAIRE_RUNTIME": "docker"},
            {"CLAIRE_DATABASE_PASSWORD", "CLAIRE_REDIS_PASSWORD", "CLAIRE_DOCKER_GRAFANA_PASSWORD"},
        ),
        ({"CLAIRE_DATABASE_PORT": "5433"}, {"CLAIRE_DATABASE_PASSWORD"}),
        ({"CLAIRE_REDIS_PORT": "6380"}, {"CLAIRE_REDIS_PASSWORD"}),
        ({"CLAIRE_NOTIFY_TELEGRAM_TOKEN": SECRET}, {"CLAIRE_NOTIFY_TELEGRAM_CHAT_ID"}),
        ({"CLAIRE_NOTIFY_SMTP_HOST": "smtp.example.org"}, {"CLAIRE_NOTIFY_EMAIL_TO"}),
        ({"CLAIRE_MARKET_SOURCE": "replay"}, {"CLAIRE_MARKET_REPLAY_PATH"}),
    ],
)
def test_check_when_required_variable_missing_then_error_names_it_and_why(
    given: dict[str, str], missing: set[str]
) -> None:
    findings = check_settings(given, None)

    assert {f.variable for f in findings} == missing
    assert all(f.severity == "error" and f.value is None for f in findings)
    assert all("is missing: required because" in f.problem for f in findings)
    assert all(next(iter(given)) in f.problem for f in findings)


def test_check_when_docker_and_port_both_require_password_then_one_finding() -> None:
    findings = check_settings(
        {
            "CLAIRE_RUNTIME": "docker",
            "CLAIRE_REDIS_PORT": "6380",
            "CLAIRE_REDIS_PASSWORD": "x",
            "CLAIRE_DOCKER_GRAFANA": "false",
        },
        None,
    )

    assert [f.variable for f in findings] == ["CLAIRE_DATABASE_PASSWORD"]


@pytest.mark.parametrize("enabled", ["true", "YES", "1"])
def test_check_when_docker_grafana_enabled_then_its_password_required(enabled: str) -> None:
    given = {
        "CLAIRE_RUNTIME": "docker",
        "CLAIRE_DATABASE_PASSWORD": "a",
        "CLAIRE_REDIS_PASSWORD": "b",
        "CLAIRE_DOCKER_GRAFANA": enabled,
    }

    (finding,) = check_settings(given, None)

    assert finding.variable == "CLAIRE_DOCKER_GRAFANA_PASSWORD"
    assert "CLAIRE_RUNTIME is docker and CLAIRE_DOCKER_GRAFANA is true" in finding.problem


def test_check_when_position_above_exposure_then_error() -> None:
    (finding,) = check_settings(
        {"CLAIRE_RISK_MAX_POSITION": "20%", "CLAIRE_RISK_MAX_EXPOSURE": "0.1"}, None
    )

    assert finding.severity == "error"
    assert finding.variable == "CLAIRE_RISK_MAX_POSITION"
    assert finding.value == "20%"
    assert "CLAIRE_RISK_MAX_EXPOSURE (10%)" in finding.problem
    assert finding.allowed == "at most CLAIRE_RISK_MAX_EXPOSURE (10%)"


@pytest.mark.parametrize("alert", ["8%", "9%"])
def test_check_when_alert_not_below_abort_then_error(alert: str) -> None:
    (finding,) = check_settings({"CLAIRE_RISK_ALERT_DRAWDOWN": alert}, None)

    assert finding.severity == "error"
    assert finding.variable == "CLAIRE_RISK_ALERT_DRAWDOWN"
    assert finding.allowed == "less than CLAIRE_RISK_ABORT_DRAWDOWN (8%)"


def test_check_when_daily_drawdown_above_abort_then_warning_and_still_valid() -> None:
    findings = check_settings({"CLAIRE_RISK_MAX_DAILY_DRAWDOWN": "10%"}, None)

    (finding,) = findings
    assert finding.severity == "warning"
    assert finding.variable == "CLAIRE_RISK_MAX_DAILY_DRAWDOWN"
    assert "has no effect" in finding.problem
    assert is_valid(findings)


def test_check_when_limit_has_wrong_type_then_only_the_type_error() -> None:
    findings = check_settings({"CLAIRE_RISK_MAX_POSITION": "lots"}, None)

    assert [(f.variable, f.problem) for f in findings] == [
        ("CLAIRE_RISK_MAX_POSITION", "'lots' is not a number")
    ]


def test_check_when_env_file_with_secret_world_readable_then_warning(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, f"CLAIRE_DATABASE_PASSWORD={SECRET}\n", mode=0o644)

    findings = check_settings({}, env_file)

    (finding,) = findings
    assert finding.severity == "warning"
    assert str(env_file) in finding.problem
    assert "CLAIRE_DATABASE_PASSWORD" in finding.problem
    assert "0644" in finding.problem
    assert finding.allowed.endswith(f"chmod 600 {env_file}")
    assert is_valid(findings)


@pytest.mark.parametrize(
    ("text", "mode"),
    [(f"CLAIRE_DATABASE_PASSWORD={SECRET}\n", 0o600), ("CLAIRE_RISK_MAX_POSITION=2%\n", 0o644)],
)
def test_check_when_env_file_private_or_without_secrets_then_no_warning(
    tmp_path: Path, text: str, mode: int
) -> None:
    assert check_settings({}, write_env(tmp_path, text, mode=mode)) == []


def test_check_when_env_file_missing_then_error(tmp_path: Path) -> None:
    findings = check_settings({}, tmp_path / "prod.env")

    assert [(f.severity, f.problem) for f in findings] == [
        ("error", f"{tmp_path / 'prod.env'} does not exist")
    ]


def test_check_when_line_unparseable_then_error_with_line_number_not_content(
    tmp_path: Path,
) -> None:
    env_file = write_env(
        tmp_path, f'CLAIRE_RISK_MAX_POSITION=2%\n\n# comment\n\nCLAIRE_X"{SECRET}\nY="{SECRET}\n'
    )

    findings = check_settings({}, env_file)

    assert [f.problem for f in findings] == [
        f"{env_file}, line 5: not a KEY=value line",
        f"{env_file}, line 6: not a KEY=value line",
    ]
    assert SECRET not in everything_said(findings)


def test_check_when_env_file_is_the_template_then_no_findings(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, env_template(), mode=0o644)

    assert check_settings({}, env_file) == []


def test_check_when_env_file_has_five_problems_then_five_findings(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path,
        "CLAIRE_RISK_MAX_EXPOSURE=250%\n"  # out of range
        "CLAIRE_DATABASE_PORT=abc\n"  # wrong type, and then no password
        "CLAIRE_RISK_MAX_POSTION=2%\n"  # unknown
        "CLAIRE_RISK_ALERT_DRAWDOWN=9%\n",  # not below the abort drawdown
    )

    findings = check_settings({}, env_file)

    assert sorted(str(f.variable) for f in findings) == [
        "CLAIRE_DATABASE_PASSWORD",
        "CLAIRE_DATABASE_PORT",
        "CLAIRE_RISK_ALERT_DRAWDOWN",
        "CLAIRE_RISK_MAX_EXPOSURE",
        "CLAIRE_RISK_MAX_POSTION",
    ]
    assert not is_valid(findings)


def test_check_when_errors_and_warnings_then_errors_listed_first() -> None:
    findings = check_settings(
        {"CLAIRE_RISK_MAX_DAILY_DRAWDOWN": "10%", "CLAIRE_LOG_LEVEL": "loud"}, None
    )

    assert [f.severity for f in findings] == ["error", "warning"]


def test_check_when_secrets_involved_then_never_in_any_finding(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path,
        f"CLAIRE_DATABASE_PASWORD={SECRET}\nCLAIRE_NOTIFY_TELEGRAM_TOKEN={SECRET}\n",
        mode=0o644,
    )

    findings = check_settings({"CLAIRE_REDIS_PASSWRD": SECRET}, env_file)

    assert len(findings) == 4  # two typos, a missing chat id, a readable file
    assert SECRET not in everything_said(findings)


def test_mask_when_short_then_stars_when_long_then_two_chars() -> None:
    assert mask("hunter2") == "****"
    assert mask(SECRET) == "hu…"
    assert SECRET not in mask(SECRET)


def test_load_sources_when_env_and_file_then_env_wins_and_defaults_fill_in(
    tmp_path: Path,
) -> None:
    env_file = write_env(tmp_path, "CLAIRE_RISK_MAX_POSITION=2%\nCLAIRE_RISK_MAX_EXPOSURE=20%\n")

    sources = load_sources({"CLAIRE_RISK_MAX_POSITION": "3%"}, env_file)

    assert sources["CLAIRE_RISK_MAX_POSITION"] == ("3%", "env")
    assert sources["CLAIRE_RISK_MAX_EXPOSURE"] == ("20%", "file")
    assert sources["CLAIRE_RISK_ABORT_DRAWDOWN"] == ("0.08", "default")
    assert set(sources) == set(SPECS)


def test_build_settings_when_valid_then_same_as_load_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = write_env(
        tmp_path, "CLAIRE_PAPERTEST_SYMBOLS=solusdt\nCLAIRE_RISK_MAX_POSITION=2%\n"
    )
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "3%")
    monkeypatch.delenv("CLAIRE_SUPERVISOR_ENABLED")  # the suite's own, not in the dict below

    built = build_settings({"CLAIRE_RISK_MAX_POSITION": "3%"}, env_file)

    assert built == load_settings(env_file)
    assert built.risk.max_position == Decimal("0.03")


def test_build_settings_when_invalid_then_configuration_error_lists_every_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_settings({"CLAIRE_REDIS_PORT": "x", "CLAIRE_RISK_MAX_POSTION": "1%"}, None)

    assert "CLAIRE_REDIS_PORT" in caught.value.message
    assert "CLAIRE_RISK_MAX_POSTION" in caught.value.message


def test_effective_settings_when_secret_set_then_masked_with_source() -> None:
    settings = {
        s.variable: s
        for s in effective_settings(
            {"CLAIRE_DATABASE_PORT": "5433", "CLAIRE_DATABASE_PASSWORD": SECRET}, None
        )
    }

    assert settings["CLAIRE_DATABASE_PASSWORD"].value == "hu…"
    assert settings["CLAIRE_DATABASE_PASSWORD"].source == "env"
    assert settings["CLAIRE_REDIS_PASSWORD"].value is None
    assert settings["CLAIRE_RISK_MAX_EXPOSURE"].value == "0.10"
    assert settings["CLAIRE_RISK_MAX_EXPOSURE"].source == "default"
    assert SECRET not in repr(list(settings.values()))


def test_template_when_rendered_then_every_variable_commented_out_and_secrets_empty() -> None:
    lines = env_template().splitlines()

    assignments = [line.removeprefix("# ") for line in lines if line.startswith("# CLAIRE_")]
    assert [a.split("=", 1)[0] for a in assignments] == list(SPECS)
    assert "CLAIRE_DATABASE_PASSWORD=" in assignments
    assert "CLAIRE_RISK_MAX_DAILY_DRAWDOWN=0.05" in assignments
    assert "CLAIRE_PAPERTEST_SYMBOLS=BTCUSDT,ETHUSDT" in assignments
    assert (
        "# === risk: Risk limits; every decision against them is recorded with a reason code."
        in lines
    )
    assert all(not line or line.startswith("#") for line in lines)


@pytest.mark.parametrize("url", ["0", "http://127.0.0.1:6379", "localhost:6379"])
def test_check_when_redis_url_has_no_redis_scheme_then_what_is_allowed_without_the_url(
    url: str,
) -> None:
    (finding,) = check_settings({"CLAIRE_REDIS_URL": url}, None)

    assert finding.variable == "CLAIRE_REDIS_URL"
    assert finding.allowed == "a redis://, rediss:// or unix:// URL"
    assert url not in everything_said([finding])


@pytest.mark.parametrize("url", ["redis://:pw@127.0.0.1:6379/0", "UNIX:///tmp/r.sock", ""])
def test_check_when_redis_url_is_redis_or_unix_or_empty_then_no_finding(url: str) -> None:
    assert check_settings({"CLAIRE_REDIS_URL": url}, None) == []


def test_check_when_a_secret_is_quoted_by_its_rule_then_the_rule_is_not_shown() -> None:
    """A secret's rule is shown only when its message cannot hold the secret: "r" is in the
    rule's words, so only the generic wording is said."""
    (finding,) = check_settings({"CLAIRE_REDIS_URL": "r"}, None)

    assert (finding.problem, finding.allowed) == ("is invalid", "text")
