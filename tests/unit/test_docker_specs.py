"""What the Docker runtime would create, checked as data (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from engine.observability.dashboards import DATASOURCE, dashboards, provisioning
from engine.runtime.docker_image import build_context, content_hash, context_files, requirements
from engine.runtime.docker_specs import (
    LABEL_PROJECT,
    LABEL_ROLE,
    HostPaths,
    ProjectPlan,
    project_plan,
)
from engine.settings import DatabaseSettings, DockerSettings, RedisSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
PATHS = HostPaths("/h/prometheus", "/h/grafana/provisioning", "/h/grafana/dashboards", "/h/data")
REDIS_SECRET = "redis-password-1234567890"
DB_SECRET = "postgres-password-1234567890"


def docker_settings(**docker: object) -> Settings:
    return Settings(
        home=Path("/h"),
        runtime="docker",
        database=DatabaseSettings(password=SecretStr(DB_SECRET)),  # type: ignore[call-arg]
        redis=RedisSettings(password=SecretStr(REDIS_SECRET)),  # type: ignore[call-arg]
        docker=DockerSettings(grafana_password=SecretStr("grafana-pw"), **docker),  # type: ignore[arg-type]
    )


def plan(settings: Settings | None = None) -> ProjectPlan:
    return project_plan(settings or docker_settings(), "claire-engine:abc", {"X": "1"}, PATHS)


def test_plan_then_servers_one_engine_container_running_everything_and_monitoring() -> None:
    names = [spec.name for spec in plan().containers]

    assert names == [
        "claire-redis",
        "claire-postgres",
        "claire-engine",
        "claire-prometheus",
        "claire-grafana",
    ]
    assert [(s.name, s.command) for s in plan().engine] == [
        ("claire-engine", ("python", "-m", "engine", "serve", "--name", "claire-engine"))
    ]


def test_engines_setting_plans_that_many_engine_containers_sharing_the_state() -> None:
    three = plan(docker_settings(engines=3))

    assert [s.name for s in three.engine] == ["claire-engine", "claire-engine-2", "claire-engine-3"]
    assert [s.role for s in three.engine] == ["engine", "engine-2", "engine-3"]
    assert len({s.mounts for s in three.engine}) == 1  # one state volume, one data directory
    # each named as its container: a restarted one takes its own run back, the others wait
    assert [s.command[-2:] for s in three.engine] == [("--name", s.name) for s in three.engine]


def test_every_container_is_hardened_labelled_checked_and_restarted() -> None:
    for spec in plan().containers:
        assert spec.read_only, spec.name
        assert spec.cap_drop == ["ALL"], spec.name
        assert spec.cap_add == (), spec.name
        assert spec.security_opt == ["no-new-privileges:true"], spec.name
        assert "/tmp" in spec.tmpfs, spec.name
        assert spec.healthcheck is not None, spec.name
        assert spec.healthcheck.retries >= 1, spec.name
        assert spec.restart == "always", spec.name
        assert spec.labels[LABEL_PROJECT] == "claire", spec.name
        assert spec.labels[LABEL_ROLE] == spec.role, spec.name


def test_servers_run_as_their_own_accounts_engine_as_the_image_user() -> None:
    users = {spec.role: spec.user for spec in plan().containers}

    assert users["redis"] == "redis"
    assert users["postgres"] == "postgres"
    assert users["prometheus"] == "nobody"
    assert users["engine"] is None  # the image's uid 10001


def test_published_ports_bind_to_the_configured_address_only() -> None:
    published = {
        spec.role: spec.ports for spec in plan(docker_settings(bind_address="127.0.0.2")).containers
    }

    assert published["redis"] == {6379: ("127.0.0.2", 16379)}
    assert published["postgres"] == {5432: ("127.0.0.2", 15432)}
    assert published["prometheus"] == {9090: ("127.0.0.2", 9090)}
    assert published["grafana"] == {3000: ("127.0.0.2", 3000)}
    assert published["engine"] == {}


def test_redis_persists_never_evicts_and_keeps_its_password_off_the_command_line() -> None:
    redis = plan().servers[0]
    command = " ".join(redis.command or ())

    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert REDIS_SECRET not in command
    assert redis.environment["REDIS_PASSWORD"] == REDIS_SECRET
    assert (redis.mounts[0].source, redis.mounts[0].target) == ("claire-redis", "/data")


def test_postgres_checks_readiness_over_tcp_with_a_password_set() -> None:
    postgres = plan().servers[1]

    assert postgres.healthcheck is not None
    assert postgres.healthcheck.test[:2] == ("CMD", "pg_isready")
    assert "127.0.0.1" in postgres.healthcheck.test
    assert postgres.environment["POSTGRES_PASSWORD"] == DB_SECRET
    assert "--auth-host=scram-sha-256" in postgres.environment["POSTGRES_INITDB_ARGS"]


def test_plan_when_monitoring_off_then_no_monitoring_containers_or_volumes() -> None:
    quiet = plan(docker_settings(prometheus=False, grafana=False))

    assert quiet.monitoring == ()
    assert quiet.volumes == ("claire-redis", "claire-postgres", "claire-state")


def test_config_hash_when_nothing_changed_then_equal_else_differs() -> None:
    first = {s.name: s.config_hash("sha256:1") for s in plan().containers}
    again = {s.name: s.config_hash("sha256:1") for s in plan().containers}
    other_port = {
        s.name: s.config_hash("sha256:1")
        for s in plan(docker_settings(redis_port=16380)).containers
    }
    new_image = {s.name: s.config_hash("sha256:2") for s in plan().containers}

    assert first == again
    assert {n for n in first if first[n] != other_port[n]} == {"claire-redis"}
    assert all(first[n] != new_image[n] for n in first)


def test_config_hash_when_monitoring_files_change_then_their_containers_only() -> None:
    changed = HostPaths(**{**PATHS.__dict__, "config_digest": "other"})
    before = {s.name: s.config_hash("i") for s in plan().containers}
    replanned = project_plan(docker_settings(), "claire-engine:abc", {"X": "1"}, changed)
    after = {s.name: s.config_hash("i") for s in replanned.containers}

    assert {n for n in before if before[n] != after[n]} == {"claire-prometheus", "claire-grafana"}


def test_grafana_provisioning_names_the_datasource_the_dashboards_use() -> None:
    files = provisioning("http://claire-prometheus:9090", "/var/lib/claire-dashboards")
    (source,) = files["datasources/claire.yml"]["datasources"]
    (provider,) = files["dashboards/claire.yml"]["providers"]

    assert source["uid"] == DATASOURCE["uid"]
    assert source["url"] == "http://claire-prometheus:9090"
    assert provider["options"]["path"] == "/var/lib/claire-dashboards"
    used = {
        target["datasource"]["uid"]
        for board in dashboards().values()
        for panel in board["panels"]
        for target in panel["targets"]
    }
    assert used == {source["uid"]}
    json.dumps(files)  # written as JSON, which is YAML


def test_image_context_is_reproducible_and_follows_the_sources(tmp_path: Path) -> None:
    files = context_files(ROOT)
    names = [name for name, _ in files]

    assert {
        "Dockerfile",
        "pyproject.toml",
        "engine/__init__.py",
        "sql/0001_initial.sql",
        "examples/strategies/ema_cross.py",  # the examples run in the engine image too
    } <= set(names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert build_context(files, None) == build_context(files, None)
    assert content_hash(files, "base-1") == content_hash(files, "base-1")
    assert content_hash(files, "base-1") != content_hash(files, "base-2")
    edited = tmp_path / "settings.py"
    edited.write_text("# changed\n")
    swapped = [(n, edited if n == "engine/settings.py" else p) for n, p in files]
    assert content_hash(swapped, "base-1") != content_hash(files, "base-1")


def test_requirements_are_the_project_dependencies() -> None:
    lines = requirements(ROOT / "pyproject.toml").splitlines()

    assert "docker>=7.1" in lines
    assert any(line.startswith("psycopg[binary]") for line in lines)


@pytest.mark.parametrize("bundle", [True, False])
def test_build_context_carries_the_ca_bundle_only_when_given(tmp_path: Path, bundle: bool) -> None:
    import io
    import tarfile

    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    data = build_context(context_files(ROOT), ca if bundle else None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()

    assert {"build-ca", "requirements.txt"} <= set(names)
    assert ("build-ca/ca.crt" in names) is bundle
