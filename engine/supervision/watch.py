"""When to restart a dead component, and what each look at it means: pure, no I/O.

The supervisor looks at each component (Redis, PostgreSQL, a papertest's engine) every few
seconds and feeds what it saw to that component's `Watch`. The watch answers with what to do
and what to record: an outage begins at the first look that finds the component dead, a
restart is due at once and then after a backoff that doubles up to a cap, and the outage
ends at the first look that finds it alive again, with how many restarts it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    """Restart at once, then wait `first`, doubling each attempt, never longer than `cap`."""

    first: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int) -> timedelta:
        """The wait before the next attempt, after `attempts` that did not bring it back."""
        if attempts <= 0:
            return timedelta(0)
        doubled: timedelta = self.first * (2 ** (attempts - 1))
        return min(self.cap, doubled)


@dataclass(frozen=True)
class OutageBegan:
    component: str
    at: datetime
    detail: str


@dataclass(frozen=True)
class RestartDue:
    component: str
    attempt: int  # 1 for the first restart of this outage


@dataclass(frozen=True)
class OutageEnded:
    component: str
    began: datetime
    ended: datetime
    restarts: int

    @property
    def downtime(self) -> timedelta:
        return self.ended - self.began


Outcome = OutageBegan | RestartDue | OutageEnded


@dataclass
class Watch:
    """One component's outage, if it has one, and its restart attempts."""

    component: str
    backoff: Backoff = field(default_factory=Backoff)
    #: Dead looks in a row that make an outage (2: a process being started is not dead).
    confirm: int = 1
    down_since: datetime | None = None
    attempts: int = 0
    next_attempt: datetime | None = None
    first_dead: datetime | None = None
    dead_looks: int = 0

    def observe(self, alive: bool, now: datetime, detail: str = "") -> list[Outcome]:
        """Take one look's result at `now` (wall clock); return what follows from it."""
        if alive:
            self.first_dead, self.dead_looks = None, 0
            if self.down_since is None:
                return []
            ended = OutageEnded(self.component, self.down_since, now, self.attempts)
            self.down_since, self.attempts, self.next_attempt = None, 0, None
            return [ended]
        self.dead_looks += 1
        self.first_dead = self.first_dead or now
        if self.dead_looks < self.confirm:
            return []
        outcomes: list[Outcome] = []
        if self.down_since is None:
            self.down_since = self.first_dead
            self.next_attempt = now
            outcomes.append(OutageBegan(self.component, self.first_dead, detail))
        if self.next_attempt is not None and now >= self.next_attempt:
            self.attempts += 1
            self.next_attempt = now + self.backoff.delay(self.attempts)
            outcomes.append(RestartDue(self.component, self.attempts))
        return outcomes

    def give_up(self) -> None:
        """Stop restarting (what restarts it failed for good); the outage stays open."""
        self.next_attempt = None


@dataclass(frozen=True)
class StallBegan:
    since: datetime  # when the run last made progress


@dataclass(frozen=True)
class StallEnded:
    since: datetime
    ended: datetime


@dataclass
class StallWatch:
    """Tell when a run stops making progress (its newest snapshot stays the same) for
    `after`, and when it moves again."""

    after: timedelta
    marker: object = None
    since: datetime | None = None
    stalled: bool = False

    def observe(self, marker: object, now: datetime) -> StallBegan | StallEnded | None:
        if self.since is None or marker != self.marker:
            ended = StallEnded(self.since, now) if self.stalled and self.since is not None else None
            self.marker, self.since, self.stalled = marker, now, False
            return ended
        if not self.stalled and now - self.since >= self.after:
            self.stalled = True
            return StallBegan(self.since)
        return None
