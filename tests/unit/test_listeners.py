"""Listeners on an address other hosts can reach: allowed, and said in one line."""

from __future__ import annotations

import pytest

from engine.exposure import exposed_listeners, is_loopback
from engine.runtime_kind import RuntimeKind
from engine.settings import DockerSettings, MonitorSettings, Settings
from engine.settings_check import check_settings, is_valid


def local_with_monitor_host(host: str) -> Settings:
    return Settings(monitor=MonitorSettings(host=host))  # type: ignore[call-arg]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_when_this_host_only_then_true(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.168.1.20", "claire.example"])
def test_loopback_when_reachable_or_unknown_then_false(host: str) -> None:
    assert not is_loopback(host)


def test_exposed_when_defaults_then_nothing_to_warn() -> None:
    assert exposed_listeners(Settings()) == []
    assert exposed_listeners(Settings(runtime=RuntimeKind.DOCKER)) == []


def test_exposed_when_monitor_on_every_address_then_one_line_naming_the_variable() -> None:
    [listener] = exposed_listeners(local_with_monitor_host("0.0.0.0"))

    line = str(listener)
    assert "\n" not in line
    assert line.startswith("CLAIRE_MONITOR_HOST=0.0.0.0: ")
    assert "/health and /metrics" in line
    assert "other hosts" in line
    assert "127.0.0.1" in line


def test_exposed_when_docker_publishes_on_every_address_then_its_bind_address_named() -> None:
    docker = DockerSettings(bind_address="0.0.0.0")  # type: ignore[call-arg]
    settings = Settings(runtime=RuntimeKind.DOCKER, docker=docker)

    [listener] = exposed_listeners(settings)

    assert listener.variable == "CLAIRE_DOCKER_BIND_ADDRESS"
    assert "Grafana" in str(listener)


def test_exposed_when_docker_then_the_monitor_host_is_not_the_hosts_listener() -> None:
    # The engine containers listen inside their network, whatever CLAIRE_MONITOR_HOST says.
    monitor = MonitorSettings(host="0.0.0.0")  # type: ignore[call-arg]

    assert exposed_listeners(Settings(runtime=RuntimeKind.DOCKER, monitor=monitor)) == []


def test_env_check_when_monitor_host_not_loopback_then_a_warning_and_still_valid() -> None:
    findings = check_settings({"CLAIRE_MONITOR_HOST": "0.0.0.0"}, None)

    [finding] = findings
    assert finding.severity == "warning"
    assert finding.variable == "CLAIRE_MONITOR_HOST"
    assert finding.value == "0.0.0.0"
    assert "reached from other hosts" in str(finding)
    assert "\n" not in str(finding)
    assert is_valid(findings)


def test_env_check_when_monitor_host_loopback_then_no_finding() -> None:
    assert check_settings({"CLAIRE_MONITOR_HOST": "localhost"}, None) == []
