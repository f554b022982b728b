"""`claire status` exits with its worst finding: CRITICAL, then UNKNOWN, then WARNING."""

from __future__ import annotations

import pytest

from engine.reports.checkup import Checkup, Level


@pytest.mark.parametrize(
    ("levels", "worst"),
    [
        ((), Level.OK),
        ((Level.OK, Level.WARNING), Level.WARNING),
        ((Level.WARNING, Level.UNKNOWN), Level.UNKNOWN),
        ((Level.UNKNOWN, Level.CRITICAL), Level.CRITICAL),  # broken outranks unchecked
        ((Level.CRITICAL, Level.UNKNOWN, Level.OK), Level.CRITICAL),
    ],
)
def test_checkup_level_then_the_worst_finding(levels: tuple[Level, ...], worst: Level) -> None:
    checkup = Checkup()
    for n, level in enumerate(levels):
        checkup.add(f"check-{n}", level, "detail")
    assert checkup.level is worst
    assert checkup.to_dict()["exit_code"] == int(worst)
