"""Fuzzing `claire logs`: whatever a run's log file holds, its lines are shown, never a crash.

An engine's log is JSON lines, but anything that writes to it (a library printing a number,
a line cut by a crash) ends up there too.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from claire_cli.app import app
from engine.runs.logs import LOG_NAME, read_log_lines, run_log_dir
from engine.runs.registry import Run, RunParameters, RunRepository, utc_now
from tests.unit.test_events import json_values

pytestmark = [pytest.mark.cli, pytest.mark.integration, pytest.mark.usefixtures("claire_env")]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
RUN_ID = "pt-fuzz-logs"
markup = st.sampled_from(["[/]", "[bold red]", "[/x]", "[link=x]y", "\x1b[2J", "\r", "]["])
fields = st.dictionaries(
    st.sampled_from(["ts", "level", "logger", "thread", "message", "error"]) | st.text(max_size=6),
    json_values | markup | st.text(max_size=20),
    max_size=6,
)
lines = st.one_of(
    fields.map(json.dumps),
    json_values.map(json.dumps),
    markup,
    st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=40),
    st.just('{"ts": "2026-01-01T00:00:00", "level": "INFO", "message": "cut off'),
    # JSON nested deeper than Python's parser goes, a number longer than int() reads
    st.sampled_from(["[" * 100_000, '{"message": ' * 5_000, "1" * 5_000, '{"n": ' + "9" * 5_000]),
)


@pytest.fixture
def log_file(runtime_home: Path, db: psycopg.Connection[tuple[object, ...]]) -> Iterator[Path]:
    """The log file of day 1 of an ended run registered in this test's database."""
    now = utc_now()
    parameters = RunParameters("1d", Decimal(100_000), ("BTCUSDT",), "synthetic", "max", "momentum")
    RunRepository(db).create(
        Run(
            RUN_ID,
            None,
            "stopped",
            parameters,
            None,
            None,
            "synthetic-42",
            now - timedelta(hours=1),
            None,
            now,
            "fuzz",
            Decimal(100_000),
        )
    )
    directory = run_log_dir(runtime_home, RUN_ID)
    (directory / "day_1").mkdir(parents=True, exist_ok=True)
    yield directory / "day_1" / LOG_NAME
    shutil.rmtree(directory, ignore_errors=True)


@FUZZ
@given(st.lists(lines, min_size=1, max_size=8), st.sampled_from([[], ["risk"], ["raw"]]))
def test_fuzz_log_lines_then_shown_never_traceback(
    log_file: Path, content: list[str], stage: list[str]
) -> None:
    log_file.write_text("\n".join(content) + "\n", encoding="utf-8")

    result = CliRunner().invoke(app, ["logs", "--run", RUN_ID, "--lines", "100", *stage])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("123", "raw: 123"),
        ("[1, 2]", "raw: [1, 2]"),
        ('"text"', 'raw: "text"'),
        ('{"logger": 5, "message": null}', "5: null"),
        ('{"level": "[/x]", "ts": "[/]", "message": "m"}', "[/] [/x]"),
    ],
)
def test_log_line_that_is_not_a_record_then_shown_as_is(
    log_file: Path, line: str, shown: str
) -> None:
    log_file.write_text(line + "\n", encoding="utf-8")

    result = CliRunner().invoke(app, ["logs", "--run", RUN_ID])

    assert result.exit_code == 0, result.output
    assert shown in result.output


@FUZZ
@given(st.lists(lines | st.just(""), min_size=1, max_size=8))
def test_fuzz_log_lines_then_one_text_record_per_line_that_is_not_blank(
    log_file: Path, content: list[str]
) -> None:
    log_file.write_text("\n".join(content) + "\n", encoding="utf-8")

    records = list(read_log_lines(log_file))

    assert len(records) == sum(1 for line in content if line.strip())
    for record in records:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in record.items())


def test_log_line_nested_too_deeply_then_a_raw_record_of_its_text(log_file: Path) -> None:
    log_file.write_text("[" * 100_000 + "\n" + '{"message": 1}\n', encoding="utf-8")

    records = list(read_log_lines(log_file))

    assert records == [
        {"ts": "", "level": "INFO", "logger": "raw", "message": "[" * 100_000},
        {"message": "1"},
    ]
