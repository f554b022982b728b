"""The one class that talks to the Docker Engine (through docker-py, never the `docker` CLI).

It translates docker-py's errors into claire's (`DockerUnavailableError` when the engine
does not answer, `DockerError` when it refuses) and its answers into plain dataclasses.
"""

from __future__ import annotations

import io
import os
import socket
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import docker
import requests
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import Healthcheck, LogConfig
from docker.types import Mount as DockerMount
from docker.utils.socket import frames_iter

from engine.errors import DockerError, DockerUnavailableError
from engine.runtime.docker_specs import ContainerSpec

#: Container logs rotate, so a week-long run cannot fill the disk with them.
_LOGS = LogConfig(type="json-file", config={"max-size": "20m", "max-file": "5"})
_CHUNK = 1 << 20
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_STDOUT = 1  # the stream number of stdout in Docker's multiplexed output


@dataclass(frozen=True)
class ContainerInfo:
    """What `docker inspect` says of one container."""

    name: str
    role: str
    status: str  # created, running, restarting, exited, paused, dead
    health: str | None  # starting, healthy, unhealthy; None without a healthcheck
    health_output: str
    restarts: int
    started_at: datetime | None
    exit_code: int
    labels: dict[str, str]
    image_id: str
    pid: int  # of its main process on the host (0 when not running)
    container_id: str

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class ExecResult:
    """How a command run inside a container ended."""

    exit_code: int
    output: str  # its stderr (and stdout when that was not redirected), trimmed


def _probe_unix_socket(url: str, where: str) -> None:
    """Fail early, and cleanly, when a unix socket has no Docker Engine behind it (docker-py
    would leave the socket of its failed connection open)."""
    if not url.startswith("unix://"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(url.removeprefix("unix://"))
        except OSError as exc:
            raise _unavailable(exc, where) from None


def _unavailable(exc: Exception, where: str) -> DockerUnavailableError:
    return DockerUnavailableError(
        f"cannot reach the Docker Engine at {where}: {exc}",
        hint="start Docker (Docker Desktop, or `systemctl start docker`); "
        "CLAIRE_DOCKER_HOST names another engine",
    )


def _refused(exc: Exception) -> DockerError:
    explanation = getattr(exc, "explanation", None) or str(exc)
    return DockerError(f"Docker refused: {explanation}")


class DockerApi:
    """A Docker Engine, at `host` (None: DOCKER_HOST, else the platform's default socket)."""

    def __init__(self, host: str | None = None, *, timeout: int = 120) -> None:
        self._where = host or "the default socket (DOCKER_HOST)"
        default = _DEFAULT_SOCKET if os.name == "posix" else ""  # Windows: a named pipe
        _probe_unix_socket(host or os.environ.get("DOCKER_HOST") or default, self._where)
        try:
            self._client = (
                docker.DockerClient(base_url=host, timeout=timeout)
                if host
                else docker.from_env(timeout=timeout)
            )
        except DockerException as exc:
            raise _unavailable(exc, self._where) from None
        self._api = self._client.api
        # Commands make one per invocation: its connections close with it.
        self._closer = weakref.finalize(self, self._client.close)

    def close(self) -> None:
        self._closer()

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except NotFound:
            raise
        except requests.RequestException as exc:
            raise _unavailable(exc, self._where) from None
        except DockerException as exc:
            if "connection" in str(exc).lower() and "refused" in str(exc).lower():
                raise _unavailable(exc, self._where) from None
            raise _refused(exc) from None

    def ping(self) -> str:
        """Return the engine's version; raise DockerUnavailableError when it does not answer."""
        try:
            return str(self._api.version()["Version"])
        except (requests.RequestException, DockerException) as exc:
            raise _unavailable(exc, self._where) from None

    # -- images ------------------------------------------------------------------------

    def image(self, ref: str) -> tuple[str, dict[str, str]] | None:
        """Return (id, labels) of a local image, or None when it is not here."""
        try:
            attrs = self._call(self._api.inspect_image, ref)
        except (NotFound, ImageNotFound):
            return None
        return str(attrs["Id"]), dict((attrs.get("Config") or {}).get("Labels") or {})

    def pull(self, ref: str, on_line: Callable[[str], None]) -> None:
        tagged = ":" in ref.rsplit("/", maxsplit=1)[-1]
        repository, _, tag = ref.rpartition(":") if tagged else (ref, "", "")
        for event in self._call(
            self._api.pull, repository, tag or "latest", stream=True, decode=True
        ):
            if "error" in event:
                raise DockerError(f"pulling {ref} failed: {event['error']}")
            on_line(f"{event.get('status', '')} {event.get('progress', '')}".strip())

    def build(
        self,
        context: bytes,
        tag: str,
        *,
        buildargs: dict[str, str],
        labels: dict[str, str],
        on_line: Callable[[str], None],
    ) -> str:
        """Build an image from a tar build context; return its id."""
        image_id = ""
        stream = self._call(
            self._api.build,
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            buildargs=buildargs,
            labels=labels,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        try:
            for event in stream:
                if "error" in event:
                    raise DockerError(f"building {tag} failed: {event['error'].strip()}")
                if "stream" in event and event["stream"].strip():
                    on_line(event["stream"].rstrip())
                if "aux" in event and "ID" in event["aux"]:
                    image_id = event["aux"]["ID"]
        except requests.RequestException as exc:
            raise _unavailable(exc, self._where) from None
        found = self.image(tag)
        if found is None:
            raise DockerError(f"building {tag} produced no image")
        return image_id or found[0]

    # -- networks and volumes --------------------------------------------------------------

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        if not self._call(self._api.networks, names=[name]):
            self._call(self._api.create_network, name, driver="bridge", labels=labels)

    def remove_network(self, name: str) -> None:
        for network in self._call(self._api.networks, names=[name]):
            if network.get("Name") == name:
                self._call(self._api.remove_network, network["Id"])

    def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        try:
            self._call(self._api.inspect_volume, name)
        except NotFound:
            self._call(self._api.create_volume, name, labels=labels)

    def volumes(self, label: str) -> list[str]:
        found = self._call(self._api.volumes, filters={"label": label}) or {}
        return sorted(v["Name"] for v in found.get("Volumes") or [])

    def remove_volume(self, name: str) -> None:
        try:
            self._call(self._api.remove_volume, name, force=True)
        except NotFound:
            return

    # -- containers ------------------------------------------------------------------------

    def container(self, name: str) -> ContainerInfo | None:
        attrs = self.inspect(name)
        return None if attrs is None else _info(attrs)

    def inspect(self, name: str) -> dict[str, Any] | None:
        """Everything Docker says of a container (None when there is none)."""
        try:
            return dict(self._call(self._api.inspect_container, name))
        except NotFound:
            return None

    def containers(self, label: str) -> list[ContainerInfo]:
        listed = self._call(self._api.containers, all=True, filters={"label": label})
        found = [self.container(entry["Id"]) for entry in listed]
        return [info for info in found if info is not None]

    def create_and_start(self, spec: ContainerSpec, network: str, labels: dict[str, str]) -> None:
        """Create the container `spec` describes, on `network`, and start it."""
        api = self._api
        host_config = api.create_host_config(
            port_bindings={f"{port}/tcp": host for port, host in spec.ports.items()},
            mounts=[
                DockerMount(
                    m.target, m.source, type="bind" if m.bind else "volume", read_only=m.read_only
                )
                for m in spec.mounts
            ],
            tmpfs=dict(spec.tmpfs),
            read_only=spec.read_only,
            cap_drop=spec.cap_drop,
            cap_add=list(spec.cap_add) or None,
            security_opt=spec.security_opt,
            restart_policy={"Name": spec.restart, "MaximumRetryCount": 0},
            network_mode=network,
            log_config=_LOGS,
        )
        networking = api.create_networking_config(
            {network: api.create_endpoint_config(aliases=[spec.role])}
        )
        health = Healthcheck(**spec.healthcheck.to_docker()) if spec.healthcheck else None
        created = self._call(
            api.create_container,
            spec.image,
            command=list(spec.command) if spec.command is not None else None,
            name=spec.name,
            hostname=spec.name,
            environment=dict(spec.environment),
            user=spec.user,
            labels=labels,
            ports=list(spec.ports),
            healthcheck=health,
            host_config=host_config,
            networking_config=networking,
            stop_timeout=spec.stop_timeout_s,
            detach=True,
        )
        self._call(api.start, created["Id"])

    def start(self, name: str) -> None:
        self._call(self._api.start, name)

    def remove(self, name: str, *, timeout: int = 30) -> None:
        """Stop (SIGTERM, then SIGKILL after `timeout`) and remove a container; keep volumes."""
        try:
            self._call(self._api.stop, name, timeout=timeout)
            self._call(self._api.remove_container, name, force=True)
        except NotFound:
            return

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._call(self._api.kill, name, signal=signal)

    def logs(self, name: str, *, tail: int, follow: bool) -> Iterator[str]:
        """Yield the container's output lines (stdout and stderr), following when asked."""
        try:
            output = self._call(
                self._api.logs, name, stream=True, follow=follow, tail=tail, timestamps=False
            )
        except NotFound:
            raise DockerError(f"there is no container {name}") from None
        buffer = b""
        for chunk in output:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode(errors="replace")
        if buffer:
            yield buffer.decode(errors="replace")

    def exec_to_file(self, name: str, argv: list[str], target: IO[bytes]) -> ExecResult:
        """Run `argv` in the container; write its stdout into `target` as it streams."""
        exec_id = self._call(self._api.exec_create, name, argv, stdout=True, stderr=True)["Id"]
        wrapped = self._call(self._api.exec_start, exec_id, socket=True)
        errors = bytearray()
        try:
            for stream, frame in frames_iter(wrapped, tty=False):
                if stream == _STDOUT:
                    target.write(frame)
                else:
                    errors += frame
        finally:
            _close_hijacked(wrapped)
        return self._exec_result(exec_id, bytes(errors))

    def exec_from_file(self, name: str, argv: list[str], source: IO[bytes]) -> ExecResult:
        """Run `argv` in the container with `source` streamed to its stdin."""
        exec_id = self._call(
            self._api.exec_create, name, argv, stdin=True, stdout=True, stderr=True
        )["Id"]
        wrapped = self._call(self._api.exec_start, exec_id, socket=True)
        raw: socket.socket = wrapped._sock
        try:
            while chunk := source.read(_CHUNK):
                raw.sendall(chunk)
            raw.shutdown(socket.SHUT_WR)
            said = b"".join(frame for _, frame in frames_iter(wrapped, tty=False))
        finally:
            _close_hijacked(wrapped)
        return self._exec_result(exec_id, said)

    def _exec_result(self, exec_id: str, said: bytes) -> ExecResult:
        exit_code = self._call(self._api.exec_inspect, exec_id).get("ExitCode")
        text = said.decode(errors="replace").strip()
        return ExecResult(int(exit_code if exit_code is not None else -1), text[-4000:])


def _close_hijacked(wrapped: Any) -> None:
    """Close the connection docker-py hands over for an exec's streams: the HTTP response it
    keeps (`_response`), then the socket itself."""
    raw = wrapped._sock
    response = getattr(wrapped, "_response", None)
    if response is not None:
        response.close()
    wrapped.close()
    raw.close()


def _info(attrs: dict[str, Any]) -> ContainerInfo:
    state = attrs.get("State") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    labels = dict((attrs.get("Config") or {}).get("Labels") or {})
    return ContainerInfo(
        name=str(attrs.get("Name", "")).lstrip("/"),
        role=labels.get("claire.role", ""),
        status=str(state.get("Status", "unknown")),
        health=health.get("Status"),
        health_output=str(log[-1].get("Output", "")).strip() if log else "",
        restarts=int(attrs.get("RestartCount") or 0),
        started_at=_timestamp(state.get("StartedAt")),
        exit_code=int(state.get("ExitCode") or 0),
        labels=labels,
        image_id=str(attrs.get("Image", "")),
        pid=int(state.get("Pid") or 0),
        container_id=str(attrs.get("Id", "")),
    )


def _timestamp(text: object) -> datetime | None:
    if not isinstance(text, str) or text.startswith("0001-"):
        return None
    head = text.partition(".")[0].removesuffix("Z")
    try:
        parsed = datetime.fromisoformat(head)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
