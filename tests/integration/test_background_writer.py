"""The writer thread against a real PostgreSQL: batches committed in order and whole, a
dropped connection waited out, a refused event dead-lettered, a dead database reported on
the engine's thread."""

from __future__ import annotations

import psycopg
import pytest

from engine.errors import StorageUnavailableError
from engine.storage.background import BackgroundWriter
from engine.storage.event_writer import COPY_THRESHOLD, EventWriter
from tests.factories import candle, fill, order, position, snapshot

pytestmark = pytest.mark.integration

Db = psycopg.Connection[tuple[object, ...]]


def count(db: Db, table: str) -> int:
    row = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    assert row is not None
    return int(str(row[0]))


def test_batches_then_all_committed_in_order_by_close(database_conninfo: str, db: Db) -> None:
    with psycopg.connect(database_conninfo) as conn:
        writer = BackgroundWriter(EventWriter(conn, database_conninfo), depth=1)
        for start in range(0, 1000, 200):  # COPY-sized groups: the writer's own COPY text
            writer.write([candle(i) for i in range(start, start + 200)])
        writer.write([order("o1")])
        writer.write([fill("o1")])  # its order's status is refreshed after the order is in
        writer.write([snapshot(1, positions=(position(),))])
        writer.close()
    assert count(db, "candles") == 1000
    assert count(db, "trades") == 1
    assert db.execute("SELECT status FROM orders").fetchone() == ("filled",)
    assert count(db, "positions") == 1
    closes = db.execute("SELECT close FROM candles ORDER BY open_time LIMIT 1").fetchone()
    assert closes is not None
    assert str(closes[0]) == "95000.000000000000000000"


def test_connection_dropped_then_waited_out_and_nothing_lost(
    database_conninfo: str, db: Db
) -> None:
    with psycopg.connect(database_conninfo) as conn:
        writer = BackgroundWriter(EventWriter(conn, database_conninfo))
        writer.write([candle(i) for i in range(COPY_THRESHOLD)])
        writer.flush()
        db.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        writer.write([candle(i) for i in range(COPY_THRESHOLD, 3 * COPY_THRESHOLD)])
        writer.close()
    assert count(db, "candles") == 3 * COPY_THRESHOLD


def test_database_gone_for_longer_than_the_wait_then_raised_on_the_next_write(
    database_conninfo: str, db: Db
) -> None:
    with psycopg.connect(database_conninfo) as conn:
        gone = "host=/nonexistent-socket-dir dbname=x connect_timeout=1"
        writer = BackgroundWriter(EventWriter(conn, gone), retry_for_s=0.3)
        db.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        writer.write([candle(1)])
        with pytest.raises(StorageUnavailableError):
            writer.flush()
        with pytest.raises(StorageUnavailableError):
            writer.write([candle(2)])
        writer.abandon()
    assert count(db, "candles") == 0


def test_event_refused_by_the_database_then_dead_lettered_and_the_rest_stored(
    database_conninfo: str, db: Db
) -> None:
    db.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.event_id = 'candle-synthetic-BTCUSDT-7' THEN RAISE EXCEPTION 'refused 7'; "
        "END IF; RETURN NEW; END $$"
    )
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON candles FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    with psycopg.connect(database_conninfo) as conn:
        writer = BackgroundWriter(EventWriter(conn, database_conninfo))
        writer.write([candle(i) for i in range(10)])
        writer.write([candle(10)])
        writer.close()
    assert count(db, "candles") == 10
    letters = db.execute("SELECT message_id, group_name, error FROM dead_letters").fetchall()
    assert len(letters) == 1
    assert letters[0][:2] == ("candle-synthetic-BTCUSDT-7", "persistence")
    assert "refused 7" in str(letters[0][2])
