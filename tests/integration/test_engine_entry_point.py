"""`python -m engine run STAGE`: a stage as its own process, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from engine.streams import Stream, stream_key
from tests.support import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_stage_process_joins_its_group_and_stops_on_sigterm(
    runtime_home: Path, database_name: str, redis_namespace: str, redis_client: redis.Redis
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLAIRE_HOME": str(runtime_home),
        "CLAIRE_DATABASE_NAME": database_name,
        "CLAIRE_REDIS_NAMESPACE": redis_namespace,
        "CLAIRE_MONITOR_PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", "portfolio", "--run-id", "run-p"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    key = stream_key(redis_namespace, Stream.MARKET_DATA)
    try:
        eventually(
            lambda: (
                redis_client.exists(key)
                and any(g["name"] == b"portfolio" for g in redis_client.xinfo_groups(key))
            ),
            timeout=30,
            what="the portfolio stage to create its consumer group",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)

    assert process.returncode == 0, stderr.decode()


def test_unknown_stage_then_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine", "run", "nonsense", "--run-id", "r"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == 2
    assert "invalid choice" in done.stderr
