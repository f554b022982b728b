"""The persistence stage: candles always, raw ticks only when asked."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from engine.services.persistence import PersistenceStage
from engine.storage.event_writer import EventWriter
from tests.factories import candle, trade_tick

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def writer(database_conninfo: str) -> Iterator[EventWriter]:
    with psycopg.connect(database_conninfo) as conn:
        yield EventWriter(conn, database_conninfo)


def counts(db: Db) -> tuple[object, object]:
    row = db.execute("SELECT (SELECT COUNT(*) FROM candles), (SELECT COUNT(*) FROM trade_ticks)")
    found = row.fetchone()
    assert found is not None
    return found[0], found[1]


@pytest.mark.parametrize(("store_ticks", "expected"), [(False, (3, 0)), (True, (3, 5))])
def test_ticks_stored_only_when_asked(
    writer: EventWriter, db: Db, store_ticks: bool, expected: tuple[int, int]
) -> None:
    stage = PersistenceStage(writer, store_ticks=store_ticks)
    stage.handle([*(trade_tick(i) for i in range(5)), *(candle(i) for i in range(3))])
    assert counts(db) == expected
