"""A real Docker Engine and a claire project of the test's own on it.

The images are the stand-ins `scripts/docker-standins` builds from a Debian rootfs (no
registry is reachable here); the engine image is built by claire itself. Without a Docker
Engine the tests skip and say why; with REQUIRE_DOCKER_TESTS=1 (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claire_cli.app import app
from engine.errors import ClaireError
from engine.runtime.docker_api import DockerApi
from engine.settings import Settings
from engine.settings_check import load_settings
from tests.support import free_port

STANDINS = "claire-ci"
IMAGES = {
    "CLAIRE_DOCKER_REDIS_IMAGE": f"{STANDINS}/redis:latest",
    "CLAIRE_DOCKER_POSTGRES_IMAGE": f"{STANDINS}/postgres:latest",
    "CLAIRE_DOCKER_PROMETHEUS_IMAGE": f"{STANDINS}/prometheus:latest",
    "CLAIRE_DOCKER_PYTHON_IMAGE": f"{STANDINS}/python:latest",
}
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_DOCKER_TESTS") == "1":
        pytest.fail(f"the Docker tests must run here, but {reason}")
    pytest.skip(f"no Docker: {reason} (scripts/docker-standins sets Docker up)")


@pytest.fixture(scope="session")
def docker_api() -> Iterator[DockerApi]:
    try:
        api = DockerApi()
        api.ping()
    except ClaireError as exc:
        _unavailable(exc.message)
    missing = [ref for ref in IMAGES.values() if api.image(ref) is None]
    if missing:
        _unavailable(f"the stand-in images {', '.join(missing)} are not built")
    yield api
    api.close()


@dataclass
class Project:
    """One claire project on Docker: its settings file, and `claire` run against it."""

    env_file: Path
    name: str
    api: DockerApi

    def settings(self) -> Settings:
        return load_settings(self.env_file, environ={})

    def claire(self, *args: str, expect: int | None = 0) -> Any:
        result = CliRunner().invoke(app, ["--env-file", str(self.env_file), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    def json(self, *args: str, expect: int | None = 0) -> Any:
        return json.loads(self.claire(*args, "--json", expect=expect).stdout)

    def container(self, role: str) -> str:
        return f"{self.name}-{role}"

    def set(self, **values: str) -> None:
        """Change settings in the project's file."""
        lines = [
            line
            for line in self.env_file.read_text().splitlines()
            if line.split("=", 1)[0] not in values
        ]
        lines += [f"{key}={value}" for key, value in values.items()]
        self.env_file.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def project(docker_api: DockerApi) -> Iterator[Project]:
    """A project with its own name, ports and state directory; removed with its volumes.

    One per session (of a worker): the Docker tests run on one worker, in order, but other
    tests may run between them there, which would end a module's fixture early."""
    home = Path(tempfile.mkdtemp(prefix="claire-docker-"))
    name = f"cdt{uuid.uuid4().hex[:6]}"
    values = {
        "CLAIRE_RUNTIME": "docker",
        "CLAIRE_HOME": str(home),
        "CLAIRE_DATABASE_PASSWORD": secrets.token_urlsafe(16),
        "CLAIRE_REDIS_PASSWORD": secrets.token_urlsafe(16),
        "CLAIRE_DOCKER_PROJECT": name,
        "CLAIRE_DOCKER_REDIS_PORT": str(free_port()),
        "CLAIRE_DOCKER_POSTGRES_PORT": str(free_port()),
        "CLAIRE_MONITOR_PROMETHEUS_PORT": str(free_port()),
        # Grafana has no stand-in (not packaged for Debian): its dashboards and provisioning
        # are checked as files instead.
        "CLAIRE_DOCKER_GRAFANA": "false",
        # Two engine containers: two papertests at once, each in its own.
        "CLAIRE_DOCKER_ENGINES": "2",
        **IMAGES,
    }
    if CA_BUNDLE.is_file():  # pip in the image build goes through this machine's HTTPS proxy
        values["CLAIRE_DOCKER_BUILD_CA_BUNDLE"] = str(CA_BUNDLE)
    env_file = home / "claire.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    env_file.chmod(0o600)
    made = Project(env_file, name, docker_api)
    try:
        yield made
    finally:
        made.claire("down", "--volumes", "--yes", expect=None)
        shutil.rmtree(home, ignore_errors=True)
