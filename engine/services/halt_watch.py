"""The halt watch: tells the engine's feed that risk halted the run, when risk runs in a
process of its own (the engine reads `pipeline.halted` when it runs in the same one)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.domain.risk.model import RiskAlertCode
from engine.events import AlertRaised, Event
from engine.streams import Stream


class HaltWatch:
    """Watch the alerts for the one risk raises when the drawdown passes the abort level."""

    name: str = "halt-watch"
    inputs: tuple[Stream, ...] = (Stream.ALERTS,)

    def __init__(self, *, halted: bool = False) -> None:
        self.halted = halted

    def handle(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, AlertRaised) and event.code == RiskAlertCode.ABORT_DRAWDOWN:
                self.halted = True

    def on_tick(self, now: datetime) -> None:
        """Nothing to do on a tick."""
