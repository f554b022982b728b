"""Fuzzing every command's arguments: one clear message and an exit code, never a traceback.

The commands are enumerated from the app (a new command is fuzzed without a change here),
each given arbitrary and near-valid text for its options and arguments. Nothing expensive
runs: the servers claire would use do not answer (ports nothing listens on), Docker is a
socket that does not exist, and MEXC is a local stand-in refusing every request at once.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from claire_cli.app import COMMANDS, app, load_command
from engine.marketdata.files import Layout, write_market_file
from engine.settings_check import SPECS
from tests.factories import candle
from tests.support import free_port

pytestmark = pytest.mark.cli

FUZZ = settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: Options never given: they change this machine (a crontab, systemd units, the shell's
#: completion) or show tracebacks on purpose.
NEVER = frozenset({"--install", "--install-completion", "--show-completion", "--debug"})
PASSWORDS = ("fuzz-redis-pw-1234", "fuzz-pg-pw-5678")

#: Near-valid values by parameter name, to get past parsing into each command's own checks.
NEAR: dict[str, list[str]] = {
    "duration": ["7d", "90m", "1d12h", "0s", "-1d", "7 d", "7x", "999999999d", "99999999999d"],
    "capital": ["100000", "0", "-5", "NaN", "Infinity", "1e999999", "1,000", "abc"],
    "symbols": ["BTCUSDT", "btcusdt,ethusdt", ",", "BTC USDT", "!!!", "B"],
    "source": ["mexc", "synthetic", "replay:", "replay:nowhere.csv", "REPLAY:x", "ftp:x"],
    "speed": ["max", "realtime", "60", "60x", "0", "-1", "nan", "inf", "1e999"],
    "strategy": ["momentum", "nope", "a:b", ".x", ":", "tests.no_such_module:Strategy"],
    "seed": ["42", "-1", "x", "9" * 30],
    "keep": ["14d", "0s", "3650d", "3651d", "999999999d", "99999999999d", "x"],
    "at": ["01:00", "23:59", "25:99", "1:2:3", "a:b", "", "7"],
    "kind": ["cron", "systemd", "windows", "CRON", ""],
    "rate": ["100", "5/s", "100/min", "6000/h", "nan", "inf", "1e309", "0", "-1", "5/d"],
    "count": ["10", "1", "0", "-1", "x", "9" * 30],
    "lines": ["50", "1", "0", "-3", "x"],
    "interval": ["1m", "1h", "4h", "2m", ""],
    "days": ["7", "0", "0.0001", "nan", "inf", "-inf", "1e12", "3650", "x"],
    "formats": ["html,md,json", "md", "pdf", ",", ""],
    "fmt": ["csv", "parquet", "xlsx", ""],
    "run_id": ["pt-20261124-0312", "pt-", "%", "'; DROP TABLE runs;--"],
    "backup_id": ["20261124T010000123456Z", "..", "../..", "*", "%"],
    "batch": ["abc123", "%", "_", "'"],
    "symbol": ["BTCUSDT", "btcusdt", "", "!!!"],
    "stage": ["risk", "engine", "nope"],
    "runtime": ["local", "docker", "LOCAL", "k8s", ""],
}
PATHS = [
    "missing.csv",
    "empty.csv",
    "garbage.parquet",
    "damaged.parquet",
    "latin1.csv",
    "data",
    "claire.env",
    "broken.env",
]


def nodes() -> dict[str, Any]:
    """Every command that runs, by its words: the leaves, and groups that run themselves."""
    found: dict[str, Any] = {}

    def walk(command: Any, words: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", {})
        if not subcommands or any(p.opts[0] not in NEVER for p in command.params):
            found[" ".join(words)] = command
        for name, sub in subcommands.items():
            walk(sub, (*words, name))

    for name in COMMANDS:
        walk(load_command(name), (name,))
    return found


NODES = nodes()
arbitrary = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
path_names = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00/\\"), min_size=1, max_size=12
).filter(lambda name: name not in (".", ".."))


def is_path(param: Any) -> bool:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    return "Path" in str(annotation) or param.name in ("out", "env_file", "path")


def values_for(param: Any) -> st.SearchStrategy[str]:
    if is_path(param):
        return st.sampled_from(PATHS) | path_names
    near = NEAR.get(param.name or "", [])
    return (st.sampled_from(near) | arbitrary) if near else arbitrary


@st.composite
def argument_lists(draw: st.DrawFn, words: str) -> list[str]:
    """Words of the command, then its options (any order, some left out) and arguments."""
    command = NODES[words]
    given: list[str] = []
    if draw(st.booleans()):
        given += ["--env-file", draw(st.sampled_from(PATHS) | path_names)]
    if draw(st.integers(0, 3)) == 0:
        given += ["--runtime", draw(st.sampled_from(NEAR["runtime"]) | arbitrary)]
    given += words.split()
    options: list[list[str]] = []
    positional: list[str] = []
    for param in command.params:
        flag = param.opts[0]
        if flag in NEVER:
            continue
        if type(param).__name__.endswith("Argument"):
            wanted = param.required or draw(st.booleans())
            count = draw(st.integers(1, 3)) if param.nargs == -1 else 1
            positional += [draw(values_for(param)) for _ in range(count)] if wanted else []
        elif getattr(param, "is_flag", False):
            if draw(st.booleans()):
                options.append([flag])
        elif draw(st.booleans()):
            value = draw(values_for(param))
            options.append([f"{flag}={value}"] if draw(st.booleans()) else [flag, value])
    for option in draw(st.permutations(options)):
        given += option
    if draw(st.integers(0, 9)) == 0:  # junk: an unknown option, a stray word, help
        given.append(draw(st.sampled_from(["--nope", "stray", "-h", "--", "-"]) | arbitrary))
    return given + positional


class RefusingMexc(BaseHTTPRequestHandler):
    """Answers every request as MEXC answers an unknown symbol: at once, never retried."""

    def do_GET(self) -> None:
        body = json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def mexc_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingMexc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def environment(mexc_url: str) -> Iterator[dict[str, str]]:
    """claire's settings for the fuzzed commands: an empty home, servers that do not answer."""
    home = Path(tempfile.mkdtemp(prefix="claire-fuzz-cli-"))
    redis_port, postgres_port = free_port(), free_port()  # nothing listens there
    yield {
        "CLAIRE_HOME": str(home),
        "CLAIRE_REDIS_URL": f"redis://:{PASSWORDS[0]}@127.0.0.1:{redis_port}/0",
        "CLAIRE_DATABASE_URL": f"postgresql://claire:{PASSWORDS[1]}@127.0.0.1:{postgres_port}/c",
        "CLAIRE_MEXC_REST_URL": mexc_url,
        "CLAIRE_MEXC_WS_URL": "ws://127.0.0.1:9/ws",
        "DOCKER_HOST": f"unix://{home}/no-docker.sock",
        "COLUMNS": "120",
    }
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The working directory (tests/conftest.py changes into tmp_path) with odd files in it."""
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "garbage.parquet").write_bytes(b"PAR1 not really PAR1")
    damaged = tmp_path / "damaged.parquet"  # a candle file, three bytes of its first page flipped
    write_market_file(damaged, [candle(1)], Layout.CANDLES)
    content = bytearray(damaged.read_bytes())
    content[4:7] = bytes(byte ^ 0xFF for byte in content[4:7])
    damaged.write_bytes(bytes(content))
    (tmp_path / "latin1.csv").write_bytes(b"symbol,time,price,quantity,side\nBTC\xe9,1,1,1,buy\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "trades.csv").write_text("symbol,time,price,quantity,side\nBTC,x,1,1,up\n")
    (tmp_path / "claire.env").write_text("CLAIRE_RISK_MAX_POSITION=5%\n")
    (tmp_path / "broken.env").write_text('CLAIRE_X"oops\nCLAIRE_RISK_MAX_EXPOSRE=20%\n')
    return tmp_path


def assert_clear(result: Result, args: list[str]) -> None:
    """An exit code, and when it is not 0 a message; never a traceback or a password."""
    shown = f"claire {args!r} exited {result.exit_code}:\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    assert "Traceback" not in result.output, shown
    if result.exit_code != 0:
        assert result.output.strip(), shown
    for password in PASSWORDS:
        assert password not in result.output, shown


@pytest.mark.usefixtures("workdir")
@pytest.mark.parametrize("words", sorted(NODES))
@FUZZ
@given(data=st.data())
def test_fuzz_arguments_then_exit_code_and_message_never_traceback(
    words: str, environment: dict[str, str], data: st.DataObject
) -> None:
    args = data.draw(argument_lists(words), label="args")
    result = CliRunner().invoke(app, args, env=environment)
    assert_clear(result, args)


variables = st.dictionaries(
    st.sampled_from(sorted(SPECS)) | arbitrary.map(lambda tail: "CLAIRE_" + tail.replace("=", "")),
    st.sampled_from(["", "5%", "250%", "x", "docker", "~nosuchuser", "[bold]x[/]"]) | arbitrary,
    max_size=4,
)


@pytest.mark.usefixtures("workdir")
@pytest.mark.parametrize("words", ["env check", "env show --json", "ps", "status --json"])
@FUZZ
@given(variables=variables)
@example(variables={"CLAIRE_REDIS_URL": "0"})  # found by this test: `ps` raised redis' own error
def test_fuzz_settings_variables_then_exit_code_and_message_never_traceback(
    words: str, environment: dict[str, str], variables: dict[str, str]
) -> None:
    args = words.split()
    result = CliRunner().invoke(app, args, env={**environment, **variables})
    assert_clear(result, args)


def test_every_command_is_fuzzed() -> None:
    fuzzed = {words.split()[0] for words in NODES}
    assert fuzzed == set(COMMANDS)
    assert {"papertest start", "backup", "backup prune", "inject load", "env check"} <= set(NODES)


# -- what the fuzzers found, kept as examples ---------------------------------------------


def claire(environment: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(app, list(args), env=environment)
    assert_clear(result, list(args))
    return result


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["backup", "prune", "--keep", "99999999999d"], "is longer than 3650d 00h"),
        (["backup", "prune", "--keep", "999999999d"], "is longer than 3650d 00h"),
        (["backup", "prune", "--keep", "0s"], "must be longer than zero"),
        (["backup", "schedule", "--at", "7"], "'7' must be a time of day HH:MM"),
        (["backup", "schedule", "--at", "1:2:3"], "must be a time of day HH:MM"),
        (["backup", "schedule", "--at", "25:99", "--kind", "systemd"], "time of day HH:MM"),
        (["backup", "schedule", "--kind", "launchd"], "choose cron, systemd or windows"),
        (["data", "fetch", "BTCUSDT", "--days", "inf"], "--days"),
        (["data", "fetch", "BTCUSDT", "--days", "1e12"], "--days"),
        (["data", "fetch", " "], "must name at least one symbol"),
        (["data", "fetch", "BTC USDT"], "'BTC USDT' is not a symbol like BTCUSDT"),
        (["inject", "load", "--rate", "nan"], "rate 'nan': write e.g. 5, 5/s or 100/min"),
        (["inject", "load", "--rate", "inf", "--duration", "1m"], "rate 'inf'"),
        (["inject", "load", "--rate", "1e309"], "rate '1e309'"),
        (["inject", "load", "--duration", "8d"], "is longer than 7d 00h"),
        (["inject", "load", "--duration", "99999999999d"], "is longer than"),
        (["logs", "--lines", "-3"], "--lines"),
    ],
)
def test_bad_option_value_then_usage_error_naming_it_before_any_server(
    environment: dict[str, str], args: list[str], says: str
) -> None:
    result = claire(environment, *args)

    assert result.exit_code in (1, 2)
    assert says in " ".join(result.output.split()), result.output
    assert "PostgreSQL" not in result.output  # refused before anything was started


@pytest.mark.usefixtures("workdir")
@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("damaged.parquet", "damaged.parquet, row 2: damaged, cannot be read"),
        ("latin1.csv", "latin1.csv, line 2: not UTF-8 text"),
    ],
)
def test_data_inspect_of_a_damaged_file_then_one_line_naming_it(
    environment: dict[str, str], path: str, says: str
) -> None:
    result = claire(environment, "data", "inspect", path)

    assert result.exit_code == 1
    assert says in result.output, result.output


def test_schedule_with_a_valid_time_then_the_cron_line(environment: dict[str, str]) -> None:
    result = claire(environment, "backup", "schedule", "--at", "02:30")

    assert result.exit_code == 0
    assert result.output.startswith("30 2 * * * ")


def test_fetch_of_a_well_formed_symbol_then_mexc_s_refusal_in_one_line(
    environment: dict[str, str],
) -> None:
    result = claire(environment, "data", "fetch", "NOSUCHCOIN", "--days", "1")

    assert result.exit_code == 1
    assert "Invalid symbol." in result.output


def test_variable_name_with_a_line_break_then_one_escaped_line(
    environment: dict[str, str],
) -> None:
    result = claire({**environment, "CLAIRE_RISK\nMAX": "5%"}, "env", "check")

    assert result.exit_code == 1
    assert "'CLAIRE_RISK\\nMAX' = '****': unknown variable in the environment" in result.output
