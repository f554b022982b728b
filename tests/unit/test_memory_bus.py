"""The in-memory bus: FIFO dispatch by stream, dead letters instead of crashes, retries."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.bus.memory import InMemoryBus, drain_all
from engine.errors import StorageUnavailableError
from engine.events import Event
from engine.streams import Stream
from tests.factories import fill, order, trade_tick


def test_drain_then_each_subscriber_gets_only_its_streams_in_order() -> None:
    bus = InMemoryBus()
    market: list[str] = []
    everything: list[str] = []
    bus.subscribe("market", [Stream.MARKET_DATA], lambda es: market.extend(e.event_id for e in es))
    bus.subscribe("all", list(Stream), lambda es: everything.extend(e.event_id for e in es))

    bus.publish_many([trade_tick(1), order("o1"), trade_tick(2)])
    handled = bus.drain()

    assert handled == 3
    assert market == [trade_tick(1).event_id, trade_tick(2).event_id]
    assert everything == [trade_tick(1).event_id, order("o1").event_id, trade_tick(2).event_id]


def test_handler_publishes_then_follow_up_handled_in_the_same_drain() -> None:
    bus = InMemoryBus()
    results: list[str] = []

    def execution(events: Sequence[Event]) -> None:
        for event in events:
            bus.publish(fill(event.order_id))

    bus.subscribe("execution", [Stream.ORDERS], execution)
    bus.subscribe(
        "persistence", [Stream.ORDER_RESULTS], lambda es: results.extend(e.event_id for e in es)
    )

    drain_all(bus, [order("o1"), order("o2")])

    assert results == [fill("o1").event_id, fill("o2").event_id]
    assert bus.pending == 0


def test_handler_fails_then_event_dead_lettered_and_others_continue() -> None:
    bus = InMemoryBus()
    stored: list[str] = []

    def handler(events: Sequence[Event]) -> None:
        if events[0].event_id == trade_tick(2).event_id:
            raise ValueError("bad tick")
        stored.extend(e.event_id for e in events)

    bus.subscribe("persistence", [Stream.MARKET_DATA], handler)

    drain_all(bus, [trade_tick(1), trade_tick(2), trade_tick(3)])

    assert stored == [trade_tick(1).event_id, trade_tick(3).event_id]
    (letter,) = bus.dead_letters
    assert letter.error == "ValueError: bad tick"
    assert letter.group == "persistence"


def test_handler_transiently_down_then_retried_until_it_works() -> None:
    bus = InMemoryBus()
    calls = 0

    def handler(events: Sequence[Event]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise StorageUnavailableError

    bus.subscribe("persistence", [Stream.MARKET_DATA], handler)
    drain_all(bus, [trade_tick(1)])

    assert calls == 3
    assert bus.dead_letters == []


def test_handler_down_longer_than_retry_window_then_error_raised() -> None:
    bus = InMemoryBus(retry_for_s=0.0)

    def handler(events: Sequence[Event]) -> None:
        raise StorageUnavailableError

    bus.subscribe("persistence", [Stream.MARKET_DATA], handler)

    with pytest.raises(StorageUnavailableError):
        drain_all(bus, [trade_tick(1)])
