"""Notifications through Apprise to a local webhook; failures never reach the engine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from engine.events import AlertRaised
from engine.observability.notify import Notifier, notify_urls
from engine.services.notifier import NotifierStage
from engine.settings import NotifySettings
from tests.support import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)


class Hook:
    """A local HTTP endpoint that keeps what is posted to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None: ...

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def alert(level: str, code: str = "abort_drawdown", cleared: bool = False) -> AlertRaised:
    return AlertRaised(
        event_id=f"a-{level}-{code}-{cleared}",
        ts_event=T0,
        ts_init=T0,
        source="engine.risk",
        run_id="pt-1",
        level=level,
        code=code,
        message="drawdown 8.2 % is beyond the abort level 8 %",
        cleared=cleared,
    )


def test_critical_alert_then_delivered_warning_below_level_not(hook: Hook) -> None:
    notifier = Notifier(NotifySettings(urls=SecretStr(hook.url)))  # type: ignore[call-arg]
    stage = NotifierStage(notifier, None, "20:00")
    stage.handle([alert("warning", "drawdown"), alert("critical")])
    notifier.wait()
    eventually(lambda: len(hook.received) == 1, what="one delivery")
    [message] = hook.received
    assert message["title"] == "claire CRITICAL: abort_drawdown"
    assert "beyond the abort level" in message["message"]


def test_unreachable_channel_then_logged_and_counted_never_raised() -> None:
    notifier = Notifier(NotifySettings(urls=SecretStr("json://127.0.0.1:9/nothing")))  # type: ignore[call-arg]
    NotifierStage(notifier, None, "20:00").handle([alert("critical")])
    notifier.wait()
    assert notifier.failed == 1
    assert notifier.delivered == 0


def test_daily_summary_once_a_day_after_its_time(hook: Hook) -> None:
    notifier = Notifier(NotifySettings(urls=SecretStr(hook.url)))  # type: ignore[call-arg]
    stage = NotifierStage(notifier, lambda: ("claire daily summary", "equity 100,712.00"), "20:00")
    stage.on_tick(T0)  # 19:00: not yet
    stage.on_tick(T0.replace(hour=20, minute=1))
    stage.on_tick(T0.replace(hour=21))  # already sent today
    notifier.wait()
    eventually(lambda: len(hook.received) == 1, what="the summary")
    assert hook.received[0]["title"] == "claire daily summary"


def test_settings_fields_then_apprise_urls() -> None:
    settings = NotifySettings(  # type: ignore[call-arg]
        telegram_token=SecretStr("123:abc"),
        telegram_chat_id="42",
        discord_webhook=SecretStr("https://discord.com/api/webhooks/111/tok"),
        smtp_host="smtp.example.org",
        smtp_user="ops",
        smtp_password=SecretStr("p@ss"),
        email_to="ops@example.org",
    )
    assert notify_urls(settings) == [
        "tgram://123:abc/42",
        "discord://111/tok",
        "mailtos://ops:p%40ss@smtp.example.org:587?to=ops%40example.org",
    ]
