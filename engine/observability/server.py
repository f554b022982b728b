"""Serve `/health` (JSON; 200 healthy, 503 failing) and Prometheus `/metrics` over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from engine.observability.health import HealthReport

#: Bound to every address: reached through loopback.
WILDCARDS = frozenset({"", "0.0.0.0"})  # noqa: S104 - a comparison, not a bind


class MonitorServer:
    """A small HTTP server in a daemon thread; port 0 picks a free port.

    `serve` switches what it answers with (an engine container serves its idle health until
    a run starts, then the run's metrics and health, on the same port).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Callable[[], HealthReport],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._host = host
        self.registry = registry
        self.health = health
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="monitor-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """`host:port` as a client on this machine reaches it (a wildcard via 127.0.0.1)."""
        host = "127.0.0.1" if self._host in WILDCARDS else self._host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def serve(self, registry: CollectorRegistry, health: Callable[[], HealthReport]) -> None:
        """Answer from now on with `registry` and `health`."""
        self.registry, self.health = registry, health

    def start(self) -> MonitorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler_for(server: MonitorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
            elif path == "/health":
                report = server.health()
                body = json.dumps(report.to_dict(), indent=2).encode()
                self._send(200 if report.ok else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found: try /health or /metrics\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Stay quiet: scrapes every few seconds would flood the log."""

    return Handler
