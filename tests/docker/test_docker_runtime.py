"""The Docker runtime end to end, on a real Docker Engine.

`claire up` (two engine containers) -> all healthy -> two papertests at once, one in each
container -> a synthetic papertest -> `claire status` -> an injected
scenario -> a backup, verified -> the engine's process killed (Docker restarts it; the run
resumes from the database) and the engine container stopped with `docker kill` (it stays
down until `claire up`, which resumes the run again) -> the run completes with nothing lost
-> the backup restored -> `claire down`.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import urllib.request
from typing import Any

import psycopg
import psycopg.conninfo
import pytest
import redis as redis_client

from engine.runtime.docker_specs import LABEL_CONFIG
from engine.runtime.select import endpoints
from tests.docker.conftest import Project
from tests.support import assert_nothing_lost, eventually, unexported_metrics

# One Docker project for these tests: a file runs on one worker, in order (scripts/test).
pytestmark = [pytest.mark.docker, pytest.mark.slow]

ENGINE_ROLES = ("engine", "engine-2")
SERVERS = ("redis", "postgres", "prometheus")
#: A 6-hour synthetic run at 150x: about two and a half minutes of wall time.
DURATION, SPEED = "6h", "150"
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def components(project: Project, expect: int | None = 0) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in project.json("ps", expect=expect)}


def all_healthy(project: Project) -> bool:
    found = components(project, expect=None)
    return len(found) == len(ENGINE_ROLES) + len(SERVERS) and all(
        c["healthy"] for c in found.values()
    )


def query(project: Project, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(endpoints(project.settings()).database_conninfo) as conn:
        return conn.execute(sql, params).fetchall()


def run_row(project: Project, run_id: str) -> dict[str, Any]:
    ((status, reason, epoch),) = query(
        project,
        "SELECT status, end_reason, c.epoch FROM runs LEFT JOIN run_control c USING (run_id)"
        " WHERE run_id = %s",
        run_id,
    )
    return {"status": status, "end_reason": reason, "epoch": epoch or 0}


def config_labels(project: Project) -> dict[str, str]:
    return {
        info.name: info.labels[LABEL_CONFIG] + info.container_id
        for info in project.api.containers(f"claire.project={project.name}")
    }


def test_up_builds_creates_and_is_idempotent(project: Project) -> None:
    first = project.claire("up")
    assert "claire is up" in first.stdout
    assert all_healthy(project)
    created = config_labels(project)

    project.claire("up")

    assert config_labels(project) == created  # nothing recreated
    redis = project.api.container(project.container("redis"))
    assert redis is not None
    inspect = project.api.inspect(redis.container_id)
    assert inspect is not None
    assert project.settings().redis.password is not None
    secret = project.settings().redis.password.get_secret_value()
    assert secret not in json.dumps(inspect["Config"]["Cmd"])
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    assert inspect["HostConfig"]["CapDrop"] == ["ALL"]
    bindings = inspect["HostConfig"]["PortBindings"]["6379/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
    settings = project.settings()
    with (
        redis_client.Redis(port=settings.docker.redis_port) as anonymous,
        pytest.raises(redis_client.AuthenticationError),
    ):
        anonymous.ping()
    without_password = psycopg.conninfo.make_conninfo(
        endpoints(settings).database_conninfo, password=""
    )
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without_password, connect_timeout=5).close()


def test_engine_containers_get_servers_by_url_and_no_host_only_secret(project: Project) -> None:
    settings = project.settings()
    inspect = project.api.inspect(project.container("engine"))
    assert inspect is not None
    env = dict(item.split("=", 1) for item in inspect["Config"]["Env"])

    assert env["CLAIRE_REDIS_URL"].endswith(f"@{project.container('redis')}:6379/0")
    assert f"@{project.container('postgres')}:5432/" in env["CLAIRE_DATABASE_URL"]
    assert not any(name.startswith("CLAIRE_DOCKER_") for name in env)
    assert "CLAIRE_DATABASE_PASSWORD" not in env
    assert "CLAIRE_REDIS_PASSWORD" not in env
    assert inspect["Config"]["User"] == "10001:10001"  # the image's unprivileged account
    assert settings.redis.password is not None
    # The example strategies are in the image: `--strategy examples.strategies...` runs there.
    out = io.BytesIO()
    loaded = project.api.exec_to_file(
        project.container("engine"),
        ["python", "-c", "from engine.strategy import load_strategy; from engine.settings"
         " import Settings; print(load_strategy('examples.strategies.rsi_reversion:"
         "RsiReversion', Settings().strategy).name)"],
        out,
    )  # fmt: skip
    assert (loaded.exit_code, out.getvalue().decode().strip()) == (0, "rsi-reversion"), loaded


def test_a_changed_setting_recreates_only_what_it_configures(project: Project) -> None:
    before = config_labels(project)

    project.set(CLAIRE_LOG_LEVEL="DEBUG")
    project.claire("up")

    after = config_labels(project)
    changed = {
        name.removeprefix(f"{project.name}-") for name in before if before[name] != after[name]
    }
    assert changed == set(ENGINE_ROLES)  # the engine's settings; not the servers'
    assert all_healthy(project)


def test_prometheus_scrapes_every_engine_container(project: Project) -> None:
    port = project.settings().monitor.prometheus_port

    def targets_up() -> bool:
        url = f"http://127.0.0.1:{port}/api/v1/targets"
        with urllib.request.urlopen(url, timeout=5) as response:
            active = json.loads(response.read())["data"]["activeTargets"]
        instances = {t["labels"]["instance"]: t["health"] for t in active}
        expected = {f"{project.container(role)}:9464" for role in ENGINE_ROLES}
        return set(instances) == expected and all(h == "up" for h in instances.values())

    eventually(targets_up, timeout=60, interval=1, what="Prometheus to scrape the engine")


def test_a_dead_server_fails_the_healthchecks_until_up_brings_it_back(project: Project) -> None:
    project.api.kill(project.container("redis"))

    def engine_unhealthy() -> bool:
        info = project.api.container(project.container("engine"))
        return info is not None and info.health == "unhealthy"

    eventually(engine_unhealthy, timeout=90, interval=1, what="the engine's healthcheck to fail")
    engine = project.api.container(project.container("engine"))
    assert engine is not None
    assert "redis" in engine.health_output
    checkup = project.json("status", expect=None)
    assert checkup["exit_code"] != 0
    levels = {f["component"]: f["level"] for f in checkup["findings"]}
    assert levels[project.container("redis")] == "CRITICAL"

    project.claire("up")

    assert all_healthy(project)


def test_two_engine_containers_run_two_papertests_at_once(project: Project) -> None:
    runs = [
        project.json(
            "papertest", "start", "--duration", DURATION, "--source", "synthetic",
            "--speed", SPEED, "--symbols", "BTCUSDT", "--no-backup",
        )["run_id"]
        for _ in range(2)
    ]  # fmt: skip

    held = eventually(
        lambda: (
            len(holders := {r: holder(project, r) for r in runs}) == 2
            and None not in holders.values()
            and holders
        ),
        timeout=60,
        what="each run to be taken by an engine container",
    )
    assert set(held.values()) == {project.container(role) for role in ENGINE_ROLES}
    # Both run at once: each stores snapshots while the other does.
    stored = {r: _snapshots(project, r) for r in runs}
    eventually(
        lambda: all(_snapshots(project, r) > stored[r] + 3 for r in runs),
        timeout=60,
        what="both runs to go on at once",
    )
    stopped = project.claire("papertest", "stop", "--all").stdout
    assert all(f"stopped {r}" in stopped for r in runs), stopped
    assert {run_row(project, r)["status"] for r in runs} == {"stopped"}


def holder(project: Project, run_id: str) -> str | None:
    """The engine container that holds the run (its control state names its host)."""
    rows = query(project, "SELECT engine FROM run_control WHERE run_id = %s", run_id)
    engine = rows[0][0] if rows else None
    return None if engine is None else str(engine).split(" pid ")[0]


def test_papertest_survives_a_dead_engine_and_its_backup_restores(project: Project) -> None:
    started = project.json(
        "papertest", "start", "--duration", DURATION, "--source", "synthetic",
        "--speed", SPEED, "--symbols", ",".join(SYMBOLS),
    )  # fmt: skip
    run_id = started["run_id"]

    checkup = project.json("status", expect=None)
    assert checkup["papertest"]["run_id"] == run_id
    assert {f["component"]: f["level"] for f in checkup["findings"]}["engine"] == "OK"

    injected = project.json("inject", "status-variants")
    assert injected["passed"], injected

    epoch_at_backup = run_row(project, run_id)["epoch"]
    backup = project.json("backup", "--label", "mid-run")
    verified = project.json("backup", "verify", backup["backup_id"])
    assert verified["ok"], verified["problems"]

    # What the dashboards and alert rules query, every engine container exports.
    eventually(
        lambda: not unexported_metrics(prometheus_metadata(project)),
        timeout=90,
        interval=2,
        what=f"Prometheus to know {unexported_metrics(prometheus_metadata(project))}",
    )

    engine = holder(project, run_id)
    assert engine is not None
    _crash_the_engine(project, engine)
    eventually(
        lambda: run_row(project, run_id)["epoch"] > epoch_at_backup,
        timeout=60,
        what="the restarted engine to resume the run from the database",
    )
    said = project.claire("logs", engine.removeprefix(f"{project.name}-"), "--lines", "80").stdout
    assert f"papertest {run_id}: resuming" in said
    resumed, stored = run_row(project, run_id)["epoch"], _snapshots(project, run_id)
    # The resumed engine works a while (new snapshots are stored) before it is stopped too.
    eventually(
        lambda: _snapshots(project, run_id) > stored + 5,
        timeout=60,
        what="the resumed engine to store new snapshots",
    )
    _docker_kill_the_engine(project, engine)
    eventually(
        lambda: run_row(project, run_id)["epoch"] > resumed,
        timeout=60,
        what="`claire up` to bring the engine back and resume the run",
    )

    final = eventually(
        lambda: (row := run_row(project, run_id))["status"] != "running" and row,
        timeout=600,
        interval=1,
        what="the papertest to end",
    )
    assert (final["status"], final["end_reason"]) == ("completed", "planned end reached")
    assert final["epoch"] >= 3, "both engine deaths should have resumed the run"
    assert_nothing_lost(lambda sql, *p: query(project, sql, *p), run_id, SYMBOLS)
    report = project.claire("papertest", "report", run_id, "--format", "json")
    assert "verdict:" in report.stdout

    restored = project.claire("restore", backup["backup_id"], "--yes")
    assert f"restored {backup['backup_id']}" in restored.stdout
    assert run_row(project, run_id)["status"] == "running"  # as it was at the backup
    # ... and the engine containers take it up again from there.
    eventually(
        lambda: run_row(project, run_id)["epoch"] > epoch_at_backup,
        timeout=60,
        what="the engine to resume the restored run",
    )
    stopped = project.claire("papertest", "stop", run_id, "--reason", "seen enough")
    assert f"stopped {run_id}" in stopped.stdout
    assert (run_row(project, run_id)["status"], run_row(project, run_id)["end_reason"]) == (
        "stopped",
        "seen enough",
    )

    project.claire("down")
    assert components(project, expect=1)[project.container("redis")]["state"] == "stopped"
    volumes = project.api.volumes(f"claire.project={project.name}")
    assert f"{project.name}-postgres" in volumes  # data kept without --volumes


def prometheus_metadata(project: Project) -> set[str]:
    """The metric families Prometheus has seen in its targets' latest scrapes."""
    port = project.settings().monitor.prometheus_port
    url = f"http://127.0.0.1:{port}/api/v1/metadata"
    with urllib.request.urlopen(url, timeout=5) as response:
        return set(json.loads(response.read())["data"])


def _snapshots(project: Project, run_id: str) -> int:
    ((count,),) = query(
        project, "SELECT COUNT(*) FROM portfolio_snapshots WHERE run_id = %s", run_id
    )
    return int(count)


def _crash_the_engine(project: Project, name: str) -> None:
    """The engine's process dies (as in a crash or the OOM killer): Docker restarts it."""
    info = project.api.container(name)
    assert info is not None
    assert info.pid > 0
    os.kill(info.pid, signal.SIGKILL)
    eventually(
        lambda: (i := project.api.container(name)) is not None and i.restarts >= 1 and i.running,
        timeout=60,
        what=f"Docker to restart {name}",
    )


def _docker_kill_the_engine(project: Project, name: str) -> None:
    """An operator's `docker kill`: Docker leaves it down; `claire ps` says so, `claire up`
    brings it back."""
    project.api.kill(name)
    time.sleep(1)
    down = components(project, expect=1)[name]
    assert (down["state"], down["healthy"]) == ("down", False)
    project.claire("up")
    assert components(project)[name]["healthy"]
