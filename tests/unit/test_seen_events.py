"""The duplicate guard of the stages: once per id, bounded memory."""

from __future__ import annotations

from engine.services.base import SeenEvents


def test_seen_events_when_id_repeats_then_false() -> None:
    seen = SeenEvents()
    assert seen.first_time("a")
    assert not seen.first_time("a")


def test_seen_events_when_full_then_oldest_forgotten_and_size_bounded() -> None:
    seen = SeenEvents(capacity=3)
    for event_id in ("a", "b", "c", "d"):
        assert seen.first_time(event_id)
    assert not seen.first_time("d")
    assert seen.first_time("a")  # evicted: the oldest id was forgotten
    assert len(seen._ids) == 3
