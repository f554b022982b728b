"""One Redis and one PostgreSQL per test session, started by claire's own local runtime.

Each test that asks for them gets a fresh database cloned from a migrated template and its
own Redis namespace. Nothing here mocks Redis or PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from engine.runs import launcher
from engine.runtime.feed_process import stop_feed
from engine.runtime.local import LocalRuntime
from engine.settings import DatabaseSettings, RedisSettings, Settings
from engine.storage.migrations import apply_migrations
from tests.support import scratch_database

TEMPLATE_DB = "claire_template"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's CLAIRE_ variables and ./.env out of every test.

    No supervisor either: tests that kill a server or an engine look at what claire does
    without one; the supervisor's own tests turn it on in a state directory of their own."""
    for name in list(os.environ):
        if name.upper().startswith("CLAIRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLAIRE_SUPERVISOR_ENABLED", "false")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def runtime_home() -> Iterator[Path]:
    # Under /tmp, not pytest's 0700 tmp tree: as root, PostgreSQL runs as `postgres` and
    # must be able to pass through the path to its data directory.
    home = Path(tempfile.mkdtemp(prefix="claire-test-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def session_runtime(runtime_home: Path) -> Iterator[LocalRuntime]:
    """Start the suite's Redis and PostgreSQL once; stop them at the end."""
    runtime = LocalRuntime(Settings(home=runtime_home))
    runtime.up()
    try:
        _create_template(runtime)
        yield runtime
    finally:
        runtime.down()


def _create_template(runtime: LocalRuntime) -> None:
    with psycopg.connect(runtime.postgres.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    apply_migrations(runtime.postgres.conninfo(TEMPLATE_DB))


@pytest.fixture
def database_name(session_runtime: LocalRuntime) -> Iterator[str]:
    """A fresh, migrated database for one test, cloned from the template."""
    with scratch_database(session_runtime, "t", TEMPLATE_DB) as name:
        yield name


@pytest.fixture
def empty_database_name(session_runtime: LocalRuntime) -> Iterator[str]:
    """A new, empty (unmigrated) database for one test."""
    with scratch_database(session_runtime, "t_empty") as name:
        yield name


@pytest.fixture
def redis_namespace(session_runtime: LocalRuntime) -> Iterator[str]:
    """A Redis key prefix of one test; its keys are deleted afterwards."""
    namespace = f"t{uuid.uuid4().hex[:12]}"
    yield namespace
    with redis.Redis.from_url(session_runtime.redis.url) as client:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def settings(runtime_home: Path, database_name: str, redis_namespace: str) -> Settings:
    """Settings pointing at the session's servers, this test's database and namespace."""
    return Settings(
        home=runtime_home,
        database=DatabaseSettings(name=database_name),  # type: ignore[call-arg]
        redis=RedisSettings(namespace=redis_namespace),  # type: ignore[call-arg]
    )


@pytest.fixture
def database_conninfo(session_runtime: LocalRuntime, database_name: str) -> str:
    return session_runtime.postgres.conninfo(database_name)


@pytest.fixture
def redis_url(session_runtime: LocalRuntime) -> str:
    return session_runtime.redis.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def db(database_conninfo: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to this test's database."""
    with psycopg.connect(database_conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture
def claire_env(
    monkeypatch: pytest.MonkeyPatch,
    session_runtime: LocalRuntime,
    runtime_home: Path,
    database_name: str,
    redis_namespace: str,
    tmp_path: Path,
) -> Iterator[None]:
    """Point every `claire` invocation (and any engine it starts) at this test's database,
    Redis namespace and backup directory; monitor endpoints on free ports. A shared live
    feed a test's live runs started is stopped after it (the next test has another
    database), and so is an engine a failed test left running."""
    monkeypatch.setenv("CLAIRE_HOME", str(runtime_home))
    monkeypatch.setenv("CLAIRE_DATABASE_NAME", database_name)
    monkeypatch.setenv("CLAIRE_REDIS_NAMESPACE", redis_namespace)
    monkeypatch.setenv("CLAIRE_MONITOR_PORT", "0")
    monkeypatch.setenv("CLAIRE_BACKUP_DIR", str(tmp_path / "backups"))
    yield
    stop_feed(runtime_home)
    _kill_engines_left(runtime_home, session_runtime.postgres.conninfo(database_name))


def _kill_engines_left(home: Path, conninfo: str) -> None:
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            running = conn.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()
    except psycopg.Error:  # a test that took its database or its server away
        return
    for (run_id,) in running:
        pid = launcher.engine_pid(home, run_id)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
