"""The notifier stage: alerts to the user's channels, and a daily summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time

from engine.events import AlertRaised, Event
from engine.observability.notify import Notifier
from engine.streams import Stream

#: Returns the (title, body) of the daily summary.
Summary = Callable[[], tuple[str, str]]


class NotifierStage:
    """Send every alert at or above the configured level; once a day, the summary."""

    name: str = "notifier"
    inputs: tuple[Stream, ...] = (Stream.ALERTS,)

    def __init__(self, notifier: Notifier, summary: Summary | None, summary_at: str) -> None:
        self.notifier = notifier
        self._summary = summary
        hours, minutes = (int(part) for part in summary_at.split(":"))
        self._at = time(hours, minutes)
        self._sent_on: date | None = None

    def handle(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, AlertRaised):
                self.notifier.alert(event)

    def on_tick(self, now: datetime) -> None:
        """Send the daily summary once the configured UTC time has passed today."""
        if self._summary is None or not self.notifier.enabled:
            return
        if now.time() < self._at or self._sent_on == now.date():
            return
        self._sent_on = now.date()
        title, body = self._summary()
        self.notifier.send(title, body)
