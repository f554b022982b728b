"""The health verdict: stale input, never any input, lag beyond its bound, a dead dependency."""

from __future__ import annotations

from collections.abc import Callable

from engine.observability.health import HealthMonitor


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def monitor(
    clock: FakeMonotonic,
    last: Callable[[], float | None],
    lag: dict[str, int | None] | None = None,
    probes: dict[str, Callable[[], object]] | None = None,
) -> HealthMonitor:
    return HealthMonitor(
        "signal",
        stale_after_s=60,
        max_lag=100,
        last_input=last,
        lag=lambda: lag or {},
        probes=probes or {},
        monotonic=clock,
        started_at=clock.now,
    )


def test_health_when_input_is_fresh_then_ok() -> None:
    clock = FakeMonotonic()
    report = monitor(clock, lambda: clock.now - 5).report()
    assert report.ok
    assert report.to_dict()["status"] == "ok"


def test_health_when_input_older_than_limit_then_failing() -> None:
    clock = FakeMonotonic()
    report = monitor(clock, lambda: clock.now - 61).report()
    assert not report.ok
    [check] = report.checks
    assert check.name == "input"
    assert "61.0 s ago" in check.detail


def test_health_when_no_input_ever_then_grace_period_then_failing() -> None:
    clock = FakeMonotonic()
    health = monitor(clock, lambda: None)
    assert health.report().ok
    clock.now += 61
    assert not health.report().ok
    assert "no input yet" in health.report().checks[0].detail


def test_health_when_lag_beyond_bound_then_failing() -> None:
    clock = FakeMonotonic()
    fresh = lambda: clock.now  # noqa: E731
    assert monitor(clock, fresh, {"signal:market_data": 100}).report().ok
    report = monitor(clock, fresh, {"signal:market_data": 101, "risk:signals": None}).report()
    assert not report.ok
    failing = [c.name for c in report.checks if not c.ok]
    assert failing == ["lag:signal:market_data"]


def test_health_when_dependency_raises_then_failing_with_reason() -> None:
    clock = FakeMonotonic()

    def dead() -> object:
        raise ConnectionError("connection refused")

    report = monitor(clock, lambda: clock.now, probes={"redis": lambda: True, "postgres": dead})
    verdict = report.report()
    assert not verdict.ok
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["redis"].ok
    assert by_name["postgres"].detail == "ConnectionError: connection refused"
