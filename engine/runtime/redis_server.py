"""claire's own redis-server: a daemon on a unix socket in the state directory."""

from __future__ import annotations

import contextlib
import os
import time

import redis

from engine.errors import RuntimeStartError
from engine.runtime.paths import StatePaths
from engine.runtime.processes import (
    describe_pidfile,
    read_pid,
    require_binary,
    run_checked,
    server_pid,
    tail,
    terminate,
)
from engine.runtime.status import ComponentState, ComponentStatus
from engine.settings import RedisSettings

NAME = "redis"
START_TIMEOUT_S = 10.0


def redis_problem(url: str) -> str | None:
    """Return None when the Redis at `url` answers and never evicts, else what is wrong."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with client:
            client.ping()
            policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except (redis.RedisError, OSError) as exc:
        return f"does not answer: {exc}"
    if policy != "noeviction":
        return f"maxmemory-policy is {policy}; claire needs noeviction (it would lose events)"
    return None


class RedisServer:
    """Start, stop and check the local runtime's Redis."""

    def __init__(self, paths: StatePaths, settings: RedisSettings) -> None:
        self._paths = paths
        self._settings = settings

    @property
    def url(self) -> str:
        password = self._settings.password
        auth = f":{password.get_secret_value()}@" if password else ""
        return f"unix://{auth}{self._paths.redis_socket}"

    def config(self) -> str:
        """Return the redis.conf claire runs with: persistent, never evicting, socket only."""
        paths = self._paths
        lines = [
            "daemonize yes",
            f"pidfile {paths.redis_pidfile}",
            f"logfile {paths.redis_log}",
            f"dir {paths.redis_dir}",
            f"unixsocket {paths.redis_socket}",
            "unixsocketperm 700",
            "appendonly yes",
            "appendfsync everysec",
            "maxmemory-policy noeviction",
            "protected-mode yes",
        ]
        if self._settings.port:
            lines += ["bind 127.0.0.1", f"port {self._settings.port}"]
        else:
            lines.append("port 0")
        if self._settings.password:
            lines.append(f"requirepass {self._settings.password.get_secret_value()}")
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """Start Redis unless it already runs; wait until it answers PING.

        A redis-server already running on this state directory is never started twice,
        whatever its pid file says.
        """
        if self.live_pid() is not None:
            self._wait_until_answering()
            return
        binary = require_binary(self._settings.binary, "redis-server")
        self._clear_leftovers()
        conf = self._paths.redis_conf
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.config())
        run_checked([binary, conf], timeout=START_TIMEOUT_S)
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._ping() is None:
                return
            time.sleep(0.02)
        raise RuntimeStartError(
            f"redis-server did not answer within {START_TIMEOUT_S:.0f} s: "
            f"{tail(self._paths.redis_log) or 'no log'}"
        )

    def live_pid(self) -> int | None:
        """The pid of the redis-server running on this state directory, or None."""
        return server_pid(self._paths.redis_pidfile, self._paths.redis_dir, "redis-server")

    def repair_pidfile(self) -> str | None:
        """Rewrite a pid file that does not name the running server; say so in one line."""
        pid = self.live_pid()
        pidfile = self._paths.redis_pidfile
        if pid is None or read_pid(pidfile) == pid:
            return None
        held = describe_pidfile(pidfile) if pidfile.exists() else "nothing (missing)"
        pidfile.write_text(f"{pid}\n")
        return f"redis: its pid file held {held}; repaired to the running server's pid {pid}"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Redis (it writes its append-only file first); no-op when not running."""
        pid = self.live_pid()
        if pid is None:
            self._clear_leftovers()
            return
        terminate(pid, lambda: self.live_pid() == pid, timeout)
        self._clear_leftovers()

    def status(self) -> ComponentStatus:
        pid = self.live_pid()
        endpoint = str(self._paths.redis_socket)
        if pid is None:
            left = self._paths.redis_pidfile.exists() or self._paths.redis_socket.exists()
            state = ComponentState.DOWN if left else ComponentState.STOPPED
            detail = "not running (stale pid file)" if left else "not started"
            return ComponentStatus(NAME, state, False, detail, None, endpoint)
        problem = self._ping()
        detail = problem or "answers PING, noeviction"
        if read_pid(self._paths.redis_pidfile) != pid:
            detail += "; its pid file is wrong (claire up repairs it)"
        return ComponentStatus(NAME, ComponentState.RUNNING, problem is None, detail, pid, endpoint)

    def _ping(self) -> str | None:
        return redis_problem(self.url)

    def _clear_leftovers(self) -> None:
        for path in (self._paths.redis_pidfile, self._paths.redis_socket):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
