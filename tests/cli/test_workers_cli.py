"""Workers, not hosts: with CLAIRE_PAPERTEST_ENGINES=workers a start only registers its
runs, and `claire worker` processes take them from the database, one run each at a time,
never two the same; a worker killed mid-run leaves its run to the other, which resumes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.runs.logs import run_log_dir
from engine.runtime.processes import engine_import_path
from tests.support import claire, eventually

pytestmark = [
    pytest.mark.cli,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("claire_env"),
]

Db = psycopg.Connection[tuple[object, ...]]

MATRIX = "".join(
    f'[[run]]\nstrategy = "momentum"\nname = "m{n}"\nparams = {{ lookback_minutes = {n * 10} }}\n'
    for n in range(1, 6)
)


@pytest.fixture
def workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two `python -m engine serve --worker` processes (what `claire worker` runs)."""
    monkeypatch.setenv("CLAIRE_PAPERTEST_ENGINES", "workers")
    env = {**os.environ, "PYTHONPATH": engine_import_path()}
    with ExitStack() as logs:
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--worker"],
                env=env,
                stdout=logs.enter_context((tmp_path / f"worker-{n}.log").open("wb")),
                stderr=subprocess.STDOUT,
            )
            for n in (1, 2)
        ]
        yield started
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


def runs_of(db: Db, group: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT r.run_id, r.status, c.engine FROM runs r LEFT JOIN run_control c USING (run_id)"
        " WHERE r.group_id = %s ORDER BY r.group_index",
        (group,),
    ).fetchall()


def test_two_workers_share_the_five_runs_of_a_group_each_to_its_report(
    workers: list[subprocess.Popen[bytes]], db: Db, tmp_path: Path, runtime_home: Path
) -> None:
    matrix = tmp_path / "runs.toml"
    matrix.write_text(MATRIX)
    started = json.loads(
        claire(
            "papertest", "start", "--source", "synthetic", "--speed", "max", "--duration", "1d",
            "--matrix", str(matrix), "--no-backup", "--json",
        ).stdout
    )  # fmt: skip
    group = started["group_id"]
    assert {r["engine"] for r in started["runs"]} == {"waiting for a worker: claire worker"}

    rows = eventually(
        lambda: (r := runs_of(db, group)) and all(s != "running" for _, s, _ in r) and r,
        timeout=240,
        what="every run of the group done by the workers",
    )
    assert {status for _, status, _ in rows} == {"completed"}
    pids = {str(process.pid) for process in workers}
    held = {engine.rsplit(" pid ", 1)[1] for _, _, engine in rows}
    assert held == pids  # both workers took runs, and nothing else ran them
    for run_id, _, _ in rows:
        eventually((runtime_home / "reports" / run_id / "report.json").exists, timeout=60)
        assert any(run_log_dir(runtime_home, run_id).iterdir())  # `claire logs --run RUN`
    assert all(process.poll() is None for process in workers)  # they wait for more


def test_a_worker_killed_mid_run_leaves_its_run_to_the_other_which_finishes_it(
    workers: list[subprocess.Popen[bytes]], db: Db
) -> None:
    started = json.loads(
        claire(
            "papertest", "start", "--source", "synthetic", "--speed", "600", "--duration", "4h",
            "--no-backup", "--json",
        ).stdout
    )  # fmt: skip
    run_id = started["run_id"]
    holder = eventually(
        lambda: (row := db.execute(
            "SELECT engine FROM run_control WHERE run_id = %s", (run_id,)
        ).fetchone()) and row[0],
        timeout=60,
        what="a worker to take the run",
    )  # fmt: skip
    [taken] = [p for p in workers if holder.endswith(f" pid {p.pid}")]
    eventually(
        lambda: db.execute(
            "SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s", (run_id,)
        ).fetchone()[0] > 10,  # type: ignore[index]
        timeout=60,
    )  # fmt: skip
    assert json.loads(claire("papertest", "status", run_id, "--json").stdout)["engine"] == (
        "running"
    )
    taken.send_signal(signal.SIGKILL)
    taken.wait(timeout=10)

    [other] = [p for p in workers if p is not taken]
    done = eventually(
        lambda: (row := db.execute(
            "SELECT r.status, r.end_reason, c.engine FROM runs r JOIN run_control c"
            " USING (run_id) WHERE run_id = %s", (run_id,),
        ).fetchone()) and row[0] != "running" and row,
        timeout=240,
        what="the other worker to resume and finish the run",
    )  # fmt: skip
    assert done == ("completed", "planned end reached", holder.replace(
        f" pid {taken.pid}", f" pid {other.pid}"
    ))  # fmt: skip
