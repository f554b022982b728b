"""Fuzzing the settings loader: any CLAIRE_* variables, any .env file.

`load_settings` returns `Settings` or raises `ConfigurationError`, whose every problem is
one line naming the variable (or the file's line) and what is allowed; never a pydantic
`ValidationError`, never a secret.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.durations import LONGEST_DURATION, DurationError, parse_duration
from engine.errors import ConfigurationError
from engine.settings import Settings
from engine.settings_check import SPECS, Finding, effective_settings, load_settings, printable

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NAMES = sorted(SPECS)
SECRETS = sorted(name for name, spec in SPECS.items() if spec.secret)
#: Every value given to a secret variable carries this, so a leak is found by searching.
SECRET_MARK = "Zq9#secret#"

edge_values = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "5%",
        "250%",
        "%",
        "0.05",
        "1e999999999",
        "-1e-999999999%",
        "NaN",
        "inf",
        "\uff11\uff12",  # fullwidth digits
        "٣",
        "1_000",
        "0x10",
        "99999999999999999999999",
        "true",
        "off",
        "yes",
        "docker",
        "local",
        "replay",
        "BTCUSDT,,ethusdt",
        ",",
        "25:61",
        "07:30",
        "7d",
        "99999999999d",
        "~nosuchuser/claire",
        "~",
        "/tmp/claire",
        "redis://:pw@127.0.0.1:1/0",
        "postgresql://u:pw@h/db",
        "${CLAIRE_HOME}",
        "a\nb",
        "a\x00b",
    ]
)
values = edge_values | st.text(max_size=30)


def near_miss(name: str) -> st.SearchStrategy[str]:
    """`name` misspelt: a character dropped, doubled or replaced."""
    return st.integers(0, len(name) - 1).flatmap(
        lambda at: st.sampled_from(
            [
                name[:at] + name[at + 1 :],
                name[:at] + name[at] + name[at:],
                name[:at] + "X" + name[at + 1 :],
            ]
        )
    )


names = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NAMES).map(str.lower),
    st.sampled_from(NAMES).flatmap(near_miss),
    st.text(max_size=12).map(lambda tail: "CLAIRE_" + tail),
    st.sampled_from(["PATH", "HOME", "DOCKER_HOST", "claire", "CLAIRE"]),
)


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    environ = draw(st.dictionaries(names, values, max_size=8))
    for name in draw(st.lists(st.sampled_from(SECRETS), max_size=3)):
        environ[name] = SECRET_MARK + draw(st.text(max_size=10))
    return environ


def assert_one_line_each(error: ConfigurationError) -> None:
    """Every problem is one line: the variable (or file line), the problem, what is allowed."""
    findings = findings_of(error)
    assert findings
    lines = error.message.splitlines()
    assert lines[0] == "invalid settings:"
    assert len(lines) == 1 + len(findings)
    for finding, line in zip(findings, lines[1:], strict=True):
        text = str(finding)
        assert len(text.splitlines()) == 1
        assert line == f"  {text}"
        head, _, allowed = text.rpartition("; allowed: ")
        assert head, text
        assert allowed.strip(), text
        if finding.variable is not None:
            assert text.startswith(printable(finding.variable))
            assert finding.variable.startswith("CLAIRE_")
    assert SECRET_MARK not in error.message


def findings_of(error: ConfigurationError) -> list[Finding]:
    findings = [finding for finding in error.findings if isinstance(finding, Finding)]
    assert len(findings) == len(error.findings)
    return findings


def load_or_refuse(env_file: Path | None, environ: Mapping[str, str]) -> Settings | None:
    try:
        loaded = load_settings(env_file, environ)
    except ConfigurationError as exc:
        error = exc
    else:
        assert isinstance(loaded, Settings)
        shown = effective_settings(environ, env_file)  # `claire env show` of the same
        assert SECRET_MARK not in repr(shown)
        return loaded
    assert_one_line_each(error)
    return None


@FUZZ
@given(environments())
def test_fuzz_environment_then_settings_or_one_line_per_problem(environ: dict[str, str]) -> None:
    load_or_refuse(None, environ)


@FUZZ
@given(st.sampled_from(NAMES), values)
def test_fuzz_one_variable_then_settings_or_a_line_naming_it(name: str, value: str) -> None:
    try:
        load_settings(None, {name: value})
    except ConfigurationError as exc:
        error = exc
    else:
        return
    assert_one_line_each(error)
    assert any(name in str(finding) for finding in findings_of(error))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="claire-fuzz-env-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def assignment(name: str, value: str, style: str) -> str:
    quoted = {"plain": value, "double": f'"{value}"', "single": f"'{value}'"}[style]
    return f"{name}={quoted}"


env_lines = st.one_of(
    st.builds(assignment, names, values, st.sampled_from(["plain", "double", "single"])),
    st.builds(
        lambda line: "export " + line, st.builds(assignment, names, values, st.just("plain"))
    ),
    st.sampled_from(["", "# a comment", "   ", "=", "CLAIRE_", "KEY", '"', "'", "\\", "${", "=x"]),
    st.text(max_size=30),
)
env_texts = st.lists(env_lines, max_size=10).map("\n".join)


@FUZZ
@given(env_texts | st.text(max_size=200), st.dictionaries(names, values, max_size=3))
def test_fuzz_env_file_text_then_settings_or_one_line_per_problem(
    scratch: Path, text: str, environ: dict[str, str]
) -> None:
    env_file = scratch / "claire.env"
    env_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_refuse(env_file, environ)


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_env_file_bytes_then_settings_or_one_line_per_problem(
    scratch: Path, content: bytes
) -> None:
    env_file = scratch / "raw.env"
    env_file.write_bytes(content)
    load_or_refuse(env_file, {})


# -- what the fuzzers found, kept as examples ---------------------------------------------


@pytest.mark.parametrize("home", ["~nosuchuser-claire/state", "~nosuchuser-claire"])
def test_home_of_an_unknown_user_then_one_line_not_runtime_error(home: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(None, {"CLAIRE_HOME": home})

    (finding,) = findings_of(caught.value)
    assert str(finding).startswith(f"CLAIRE_HOME = {home!r}: is invalid; allowed: a path")


@pytest.mark.skipif(os.name != "posix", reason="devices and FIFOs are POSIX files")
def test_env_file_a_device_fifo_or_directory_then_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "claire.env"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo, tmp_path):  # /dev/zero never ends, a FIFO blocks
        with pytest.raises(ConfigurationError) as caught:
            load_settings(path, {})

        assert str(findings_of(caught.value)[0]) == (
            f"{path} is not a regular file; allowed: a file of KEY=value lines"
        )


def test_env_file_name_too_long_then_one_line_not_os_error(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 5000)

    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, {})

    (finding,) = findings_of(caught.value)
    assert str(finding).endswith(
        "cannot be used: File name too long; allowed: a path to an existing file"
    )


@pytest.mark.parametrize("section", ["CLAIRE_DATABASE", "CLAIRE_RISK", "CLAIRE_REDIS"])
def test_a_whole_section_in_the_environment_then_unknown_variable_not_validation_error(
    monkeypatch: pytest.MonkeyPatch, section: str
) -> None:
    monkeypatch.setenv(section, "")  # pydantic-settings would parse it as the section's JSON

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    (finding,) = findings_of(caught.value)
    assert str(finding).startswith(f"{section} = '****': unknown variable in the environment")


def test_given_environment_is_all_that_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIRE_RISK_MAX_POSITION", "7%")

    assert load_settings(None, {}).risk.max_position == Decimal("0.05")
    assert load_settings(None, {"CLAIRE_RISK_MAX_POSITION": "2%"}).risk.max_position == Decimal(
        "0.02"
    )
    assert load_settings().risk.max_position == Decimal("0.07")


@pytest.mark.parametrize("duration", ["99999999999d", "3651d", "0s", "9" * 5000 + "d"])
def test_papertest_duration_that_no_date_can_end_then_refused(duration: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(None, {"CLAIRE_PAPERTEST_DURATION": duration})

    (finding,) = findings_of(caught.value)
    assert finding.variable == "CLAIRE_PAPERTEST_DURATION"
    assert finding.allowed.startswith("a number followed by s, m, h or d, at most 3650d")


# -- durations: what `parse_duration` takes, and that the settings take the same ----------

durations = st.one_of(
    edge_values,
    st.from_regex(r"[0-9]{1,14}[smhd]([0-9]{1,4}[smhd])?", fullmatch=True),
    st.integers(1, 5000).map(lambda width: "9" * width + "d"),
    st.text(max_size=20),
)


@FUZZ
@given(durations)
def test_fuzz_duration_then_a_span_a_date_can_end_or_one_line(text: str) -> None:
    try:
        span = parse_duration(text)
    except DurationError as exc:
        error = exc
    else:
        assert timedelta() < span <= LONGEST_DURATION
        assert datetime(2026, 1, 1, tzinfo=UTC) + span < datetime.max.replace(tzinfo=UTC)
        return
    assert error.message.startswith(f"duration {text!r} ")
    assert len(error.message.splitlines()) == 1


@pytest.mark.parametrize(
    "duration", ["3650d", "3651d", "87600h", "87601h", "315360000s", "315360001s", "0d"]
)
def test_papertest_duration_then_the_settings_and_parse_duration_agree(duration: str) -> None:
    try:
        parse_duration(duration)
    except DurationError:
        parsed = False
    else:
        parsed = True

    try:
        load_settings(None, {"CLAIRE_PAPERTEST_DURATION": duration})
    except ConfigurationError:
        loaded = False
    else:
        loaded = True

    assert parsed == loaded


@pytest.mark.parametrize("duration", ["99999999999d", "3651d", "9" * 5000 + "d", "87601h"])
def test_duration_longer_than_the_longest_then_duration_error_naming_the_limit(
    duration: str,
) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(duration)

    assert caught.value.message == (
        f"duration {duration!r} is longer than 3650d 00h, the longest claire takes"
    )


def test_duration_with_leading_zeros_past_int_s_digit_limit_then_read() -> None:
    assert parse_duration("0" * 5000 + "1d") == timedelta(days=1)
