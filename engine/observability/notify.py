"""Send alerts and the daily summary to the channels a user configured (through Apprise).

Delivery runs in a background thread and its failures are logged, never raised: a broken
Telegram token must not stop a papertest.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from urllib.parse import quote, urlparse

import apprise

from engine.events import AlertLevel, AlertRaised
from engine.settings import NotifySettings

log = logging.getLogger(__name__)

_ORDER = {"info": 0, "warning": 1, "critical": 2}


def notify_urls(settings: NotifySettings) -> list[str]:
    """Return the Apprise URLs the settings describe (explicit URLs first)."""
    urls = []
    if settings.urls is not None:
        urls += [u.strip() for u in settings.urls.get_secret_value().split(",") if u.strip()]
    if settings.telegram_token is not None and settings.telegram_chat_id:
        urls.append(
            f"tgram://{settings.telegram_token.get_secret_value()}/{settings.telegram_chat_id}"
        )
    if settings.discord_webhook is not None:
        parts = urlparse(settings.discord_webhook.get_secret_value()).path.rstrip("/").split("/")
        if len(parts) >= 2:
            urls.append(f"discord://{parts[-2]}/{parts[-1]}")
    if settings.smtp_host and settings.email_to:
        auth = ""
        if settings.smtp_user:
            secret = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            auth = f"{quote(settings.smtp_user, safe='')}:{quote(secret, safe='')}@"
        urls.append(
            f"mailtos://{auth}{settings.smtp_host}:{settings.smtp_port}?to={quote(settings.email_to)}"
        )
    return urls


class Notifier:
    """Deliver messages to every configured channel, off the caller's thread."""

    def __init__(self, settings: NotifySettings, urls: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.urls = list(urls) if urls is not None else notify_urls(settings)
        self._threads: list[threading.Thread] = []
        self.delivered = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def wants(self, alert: AlertRaised) -> bool:
        """Tell whether an alert is at or above the configured level."""
        return _ORDER[str(alert.level)] >= _ORDER[self.settings.level]

    def alert(self, alert: AlertRaised) -> None:
        """Send `alert` if it is important enough (a cleared one says so)."""
        if not self.enabled or not self.wants(alert):
            return
        state = "cleared" if alert.cleared else str(alert.level).upper()
        where = f" ({alert.symbol})" if alert.symbol else ""
        title = f"claire {state}: {alert.code}{where}"
        kind = (
            apprise.NotifyType.FAILURE
            if alert.level is AlertLevel.CRITICAL
            else apprise.NotifyType.WARNING
        )
        self.send(
            title,
            f"{alert.message}\nrun {alert.run_id} at {alert.ts_event:%Y-%m-%d %H:%M:%S} UTC",
            kind,
        )

    def send(self, title: str, body: str, kind: str = "info") -> None:
        """Deliver in the background; failures are logged and counted."""
        if not self.enabled:
            return
        thread = threading.Thread(target=self._deliver, args=(title, body, kind), daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for deliveries in flight (at the end of a run)."""
        for thread in self._threads:
            thread.join(timeout)

    def _deliver(self, title: str, body: str, kind: str) -> None:
        ok = False
        try:
            with warnings.catch_warnings():  # Apprise's plugins import deprecated modules
                warnings.simplefilter("ignore", DeprecationWarning)
                sender = apprise.Apprise()
                for url in self.urls:
                    if not sender.add(url):
                        log.warning("notification URL not understood: %s", _redacted(url))
                ok = bool(sender.notify(title=title, body=body, notify_type=kind))
        except Exception:  # a channel's failure must never reach the engine
            log.exception("notification failed")
        if ok:
            self.delivered += 1
        else:
            self.failed += 1
            log.warning("notification %r was not delivered to every channel", title)


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…" if rest else url
