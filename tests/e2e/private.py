"""Servers of a test's own (a private state directory), and how to ask them about a run."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.runs.launcher import ENGINE_MARK
from engine.runtime.local import LocalRuntime
from engine.runtime.processes import pid_alive, read_pid
from engine.settings import Settings
from tests.support import claire, eventually

__all__ = ["claire", "ended", "private", "query_of"]


@pytest.fixture
def private(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRuntime]:
    """claire's own Redis and PostgreSQL in a state directory of this test."""
    home = Path(tempfile.mkdtemp(prefix="claire-fault-"))
    monkeypatch.setenv("CLAIRE_HOME", str(home))
    monkeypatch.setenv("CLAIRE_MONITOR_PORT", "0")
    runtime = LocalRuntime(Settings(home=home))
    runtime.up()
    try:
        yield runtime
    finally:
        for path in (home / "run").glob("papertest-*.pid"):
            pid = read_pid(path)
            if pid is not None and pid_alive(pid, ENGINE_MARK):
                os.kill(pid, signal.SIGKILL)
        runtime.down()
        shutil.rmtree(home, ignore_errors=True)


def query_of(runtime: LocalRuntime) -> Any:
    def query(sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(runtime.postgres.conninfo()) as conn:
            return conn.execute(sql, params).fetchall()

    return query


def ended(runtime: LocalRuntime, run_id: str, timeout: float) -> tuple[str, str]:
    """Wait for `run_id` to end; return its status and end reason."""
    query = query_of(runtime)

    def done() -> tuple[str, str] | None:
        ((status, reason),) = query("SELECT status, end_reason FROM runs WHERE run_id = %s", run_id)
        return None if status == "running" else (status, reason)

    result = eventually(done, timeout=timeout, interval=1, what=f"{run_id} to end")
    assert result is not None
    return result
