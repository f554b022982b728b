"""The health verdict of an engine process: fresh input, bounded lag, dependencies up.

The first version of this system reported healthy for a week while its feed was dead, so
health here is about data actually flowing, not about the process being alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: A dependency probe: returns normally when the dependency answers, raises otherwise.
Probe = Callable[[], object]


@dataclass(frozen=True)
class Check:
    """One line of a health verdict."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    """Every check of one process; healthy only when all pass."""

    component: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "status": "ok" if self.ok else "failing",
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


@dataclass
class HealthMonitor:
    """Judge a process from its last input, its consumer lag and its dependency probes.

    `last_input` returns the monotonic time of the newest input (None before the first);
    input older than `stale_after_s` fails, as does no input `stale_after_s` after start.
    """

    component: str
    stale_after_s: float
    max_lag: int
    last_input: Callable[[], float | None]
    lag: Callable[[], Mapping[str, int | None]] = dict
    probes: Mapping[str, Probe] = field(default_factory=dict)
    monotonic: Callable[[], float] = time.monotonic
    started_at: float = field(default_factory=time.monotonic)

    def report(self) -> HealthReport:
        """Run every check now."""
        checks = [self._input_check(), *self._lag_checks(), *self._probe_checks()]
        return HealthReport(self.component, tuple(checks))

    def _input_check(self) -> Check:
        now = self.monotonic()
        last = self.last_input()
        if last is None:
            waited = now - self.started_at
            ok = waited <= self.stale_after_s
            return Check("input", ok, f"no input yet after {waited:.0f} s")
        age = now - last
        ok = age <= self.stale_after_s
        return Check("input", ok, f"last input {age:.1f} s ago (limit {self.stale_after_s:.0f} s)")

    def _lag_checks(self) -> list[Check]:
        checks = []
        for stream, lag in sorted(self.lag().items()):
            if lag is None:
                checks.append(Check(f"lag:{stream}", True, "lag unknown (stream trimmed)"))
            else:
                ok = lag <= self.max_lag
                checks.append(Check(f"lag:{stream}", ok, f"{lag} behind (limit {self.max_lag})"))
        return checks

    def _probe_checks(self) -> list[Check]:
        return probe_checks(self.probes)


def probe_checks(probes: Mapping[str, Probe]) -> list[Check]:
    """Run every dependency probe: one check each, failing with the probe's error."""
    checks = []
    for name, probe in sorted(probes.items()):
        try:
            probe()
        except Exception as exc:
            checks.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
        else:
            checks.append(Check(name, True, "answers"))
    return checks


def waiting_report(component: str, probes: Mapping[str, Probe], waiting_for: str) -> HealthReport:
    """The health of a process with no work yet: its dependencies answer, or it is failing."""
    return HealthReport(component, (Check("work", True, waiting_for), *probe_checks(probes)))
