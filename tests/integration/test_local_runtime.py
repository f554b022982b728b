"""The local runtime starts, checks and stops real redis-server and PostgreSQL processes."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.errors import MissingBinaryError
from engine.runtime.local import LocalRuntime
from engine.runtime.paths import running_as_root
from engine.runtime.processes import pids_working_in
from engine.runtime.redis_server import redis_problem
from engine.runtime.status import ComponentState
from engine.settings import RedisSettings, Settings
from tests.support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def private_home() -> Iterator[Path]:
    """A state directory of this test alone (its servers may be killed)."""
    home = Path(tempfile.mkdtemp(prefix="claire-rt-"))
    runtime = LocalRuntime(Settings(home=home))
    yield home
    runtime.down()
    shutil.rmtree(home, ignore_errors=True)


def states(runtime: LocalRuntime) -> dict[str, tuple[ComponentState, bool]]:
    return {s.name: (s.state, s.healthy) for s in runtime.status()}


def test_up_twice_then_both_servers_running_and_healthy(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))

    first = runtime.up()
    pids = {s.name: s.pid for s in first}
    second = runtime.up()

    assert states(runtime) == {
        "redis": (ComponentState.RUNNING, True),
        "postgres": (ComponentState.RUNNING, True),
    }
    assert {s.name: s.pid for s in second} == pids  # the second `up` started nothing new


def test_status_before_up_then_stopped_and_unhealthy(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))

    assert states(runtime) == {
        "redis": (ComponentState.STOPPED, False),
        "postgres": (ComponentState.STOPPED, False),
    }


def test_redis_killed_then_reported_down_and_up_restarts_it_with_its_data(
    private_home: Path,
) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()
    with redis.Redis.from_url(runtime.redis.url) as client:
        client.xadd("kept", {"a": "1"})
        client.execute_command("BGREWRITEAOF")
        eventually(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0)
    pid = runtime.redis.status().pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    eventually(lambda: runtime.redis.status().state is ComponentState.DOWN, what="redis down")
    status = runtime.redis.status()
    assert not status.healthy
    assert "stale pid file" in status.detail

    runtime.up()

    assert states(runtime)["redis"] == (ComponentState.RUNNING, True)
    with redis.Redis.from_url(runtime.redis.url) as client:
        assert client.xlen("kept") == 1  # append-only file survived the crash


def test_postgres_killed_then_reported_down_and_up_restarts_it(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()
    pid = runtime.postgres.status().pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    eventually(lambda: runtime.postgres.status().state is ComponentState.DOWN, timeout=15)
    runtime.up()

    assert states(runtime)["postgres"] == (ComponentState.RUNNING, True)


def servers_on(runtime: LocalRuntime) -> dict[str, list[int]]:
    """Every redis-server and postmaster working in this state directory, found in /proc."""
    return {
        "redis": pids_working_in(runtime.paths.redis_dir, "redis-server"),
        "postgres": pids_working_in(runtime.paths.postgres_data, "postgres"),
    }


def test_garbage_redis_pid_file_then_up_repairs_it_and_starts_no_second_server(
    private_home: Path,
) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()
    before = servers_on(runtime)
    runtime.paths.redis_pidfile.write_text("garbage\n")

    assert runtime.redis.status().state is ComponentState.RUNNING  # the socket answers
    runtime.up()

    assert servers_on(runtime) == before
    assert runtime.notices == [
        f"redis: its pid file held 'garbage'; repaired to the running server's pid "
        f"{before['redis'][0]}"
    ]
    assert runtime.paths.redis_pidfile.read_text() == f"{before['redis'][0]}\n"
    runtime.up()
    assert runtime.notices == []  # repaired once, then nothing to say


def test_garbage_postgres_pid_file_then_up_rebuilds_it_as_postgres_wrote_it(
    private_home: Path,
) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()
    before = servers_on(runtime)
    pidfile = runtime.paths.postgres_data / "postmaster.pid"
    written = pidfile.read_text()
    pidfile.write_text("xyz\n")

    statuses = runtime.up()

    assert servers_on(runtime) == before
    assert all(s.healthy for s in statuses)
    assert runtime.notices == [
        f"postgres: its pid file held 'xyz'; rebuilt for the running postmaster "
        f"{before['postgres'][0]}"
    ]
    # PostgreSQL rechecks this file every minute and shuts down unless it names it.
    assert pidfile.read_text() == written


def test_garbage_pid_files_then_down_still_stops_both_servers(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()
    runtime.paths.redis_pidfile.write_text("garbage\n")
    (runtime.paths.postgres_data / "postmaster.pid").write_text("xyz\n")

    runtime.down()

    assert servers_on(runtime) == {"redis": [], "postgres": []}
    assert states(runtime) == {
        "redis": (ComponentState.STOPPED, False),
        "postgres": (ComponentState.STOPPED, False),
    }


def test_garbage_pid_files_with_no_server_then_up_starts_both(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()
    runtime.down()
    runtime.paths.redis_pidfile.write_text("garbage\n")
    (runtime.paths.postgres_data / "postmaster.pid").write_text("xyz\n")

    runtime.up()

    assert states(runtime) == {
        "redis": (ComponentState.RUNNING, True),
        "postgres": (ComponentState.RUNNING, True),
    }
    assert [len(pids) for pids in servers_on(runtime).values()] == [1, 1]


def test_down_then_both_stopped_and_no_leftovers(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()

    runtime.down()

    assert states(runtime) == {
        "redis": (ComponentState.STOPPED, False),
        "postgres": (ComponentState.STOPPED, False),
    }
    assert not runtime.paths.redis_socket.exists()
    assert not runtime.paths.redis_pidfile.exists()


def test_state_directory_is_private(private_home: Path) -> None:
    runtime = LocalRuntime(Settings(home=private_home))
    runtime.up()

    home_mode = private_home.stat().st_mode & 0o777
    # root shares only "pass through" with the postgres account's group, nothing else.
    assert home_mode == (0o710 if running_as_root() else 0o700)
    for sub in (runtime.paths.run_dir, runtime.paths.redis_dir, runtime.paths.postgres_dir):
        assert sub.stat().st_mode & 0o077 == 0, sub
    assert runtime.paths.redis_conf.stat().st_mode & 0o777 == 0o600


def test_up_when_redis_binary_missing_then_error_names_package(private_home: Path) -> None:
    settings = Settings(
        home=private_home,
        redis=RedisSettings(binary="redis-server-not-installed"),  # type: ignore[call-arg]
    )

    with pytest.raises(MissingBinaryError) as caught:
        LocalRuntime(settings).up()

    assert "redis-server-not-installed" in caught.value.message
    assert caught.value.hint is not None
    assert "apt-get install redis-server" in caught.value.hint


def test_redis_problem_when_eviction_allowed_then_reported(session_runtime: LocalRuntime) -> None:
    url = session_runtime.redis.url
    with redis.Redis.from_url(url) as client:
        client.config_set("maxmemory-policy", "allkeys-lru")
        try:
            problem = redis_problem(url)
        finally:
            client.config_set("maxmemory-policy", "noeviction")

    assert problem is not None
    assert "allkeys-lru" in problem
    assert redis_problem(url) is None


def test_external_servers_given_by_url_are_checked_not_managed(
    session_runtime: LocalRuntime, private_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = session_runtime.endpoints()
    monkeypatch.setenv("CLAIRE_REDIS_URL", endpoints.redis_url)
    monkeypatch.setenv("CLAIRE_DATABASE_URL", session_runtime.postgres.conninfo("postgres"))
    runtime = LocalRuntime(Settings(home=private_home))

    assert not runtime.manages_redis
    assert not runtime.manages_postgres
    assert states(runtime) == {
        "redis": (ComponentState.EXTERNAL, True),
        "postgres": (ComponentState.EXTERNAL, True),
    }
    runtime.down()  # leaves the external servers alone
    assert session_runtime.redis.status().healthy
    assert session_runtime.postgres.status().healthy
