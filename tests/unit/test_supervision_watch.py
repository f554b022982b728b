"""When the supervisor restarts a dead component, and what it records of the outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.supervision.watch import (
    Backoff,
    OutageBegan,
    OutageEnded,
    RestartDue,
    StallBegan,
    StallEnded,
    StallWatch,
    Watch,
)

T0 = datetime(2026, 12, 4, 12, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_backoff_restarts_at_once_then_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=timedelta(seconds=1), cap=timedelta(seconds=10))

    waits = [backoff.delay(n).total_seconds() for n in range(6)]

    assert waits == [0, 1, 2, 4, 8, 10]


def test_alive_component_then_nothing_to_do() -> None:
    assert Watch("redis").observe(alive=True, now=at(0)) == []


def test_dead_component_then_outage_begins_and_a_restart_is_due_at_once() -> None:
    watch = Watch("redis")

    outcomes = watch.observe(alive=False, now=at(0), detail="not running (stale pid file)")

    assert outcomes == [
        OutageBegan("redis", at(0), "not running (stale pid file)"),
        RestartDue("redis", 1),
    ]


def test_still_dead_then_restarts_follow_the_backoff_only() -> None:
    watch = Watch("postgres", Backoff(first=timedelta(seconds=1), cap=timedelta(seconds=4)))
    due = []
    for second in range(12):
        due += [o.attempt for o in watch.observe(False, at(second)) if isinstance(o, RestartDue)]

    # at 0, then 1 s after the first attempt, 2 s after the second, then every 4 s
    assert due == [1, 2, 3, 4, 5]


def test_back_alive_then_the_outage_ends_with_its_span_and_restarts() -> None:
    watch = Watch("redis")
    watch.observe(False, at(0))
    watch.observe(False, at(1.5))

    (ended,) = watch.observe(True, at(3))

    assert ended == OutageEnded("redis", at(0), at(3), restarts=2)
    assert ended.downtime == timedelta(seconds=3)
    assert watch.observe(True, at(4)) == []  # recorded once


def test_confirm_two_then_one_dead_look_is_no_outage() -> None:
    watch = Watch("engine", confirm=2)

    assert watch.observe(False, at(0)) == []  # an engine being started has no pid file yet
    assert watch.observe(True, at(1)) == []


def test_confirm_two_then_the_outage_began_at_the_first_dead_look() -> None:
    watch = Watch("engine", confirm=2)
    watch.observe(False, at(0))

    outcomes = watch.observe(False, at(2), "the engine of pt-1 is not running")

    assert outcomes == [
        OutageBegan("engine", at(0), "the engine of pt-1 is not running"),
        RestartDue("engine", 1),
    ]


def test_given_up_then_no_more_restarts_and_the_outage_ends_when_it_is_back() -> None:
    watch = Watch("engine")
    watch.observe(False, at(0))
    watch.give_up()

    assert watch.observe(False, at(100)) == []
    assert watch.observe(True, at(200)) == [OutageEnded("engine", at(0), at(200), restarts=1)]


def test_stall_when_progress_stops_for_the_limit_then_began_at_the_last_progress() -> None:
    watch = StallWatch(after=timedelta(seconds=60))

    looks = [watch.observe(marker, at(second)) for second, marker in [(0, 1), (10, 2), (69, 2)]]
    began = watch.observe(2, at(70))

    assert looks == [None, None, None]
    assert began == StallBegan(at(10))
    assert watch.observe(2, at(200)) is None  # raised once


def test_stall_when_progress_resumes_then_it_ends() -> None:
    watch = StallWatch(after=timedelta(seconds=60))
    watch.observe(1, at(0))
    watch.observe(1, at(60))

    assert watch.observe(2, at(90)) == StallEnded(at(0), at(90))
    assert watch.observe(3, at(100)) is None
