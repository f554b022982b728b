"""Fuzzing the stages over the real Redis: whatever lands on their streams, a stage either
handles it or dead-letters it with the reason, and keeps going; every dead letter reaches
PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import cast

import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bus.redis_streams import PAYLOAD_FIELD, ConsumerOptions, Entry, RedisStreamBus
from engine.errors import EventDecodeError
from engine.events import decode_event, encode_event
from engine.services.dead_letters import MOST_ATTEMPTS, DeadLetterRecorder, letter_from_fields
from engine.services.pipeline import STAGE_INPUTS, build_pipeline
from engine.services.redis_runner import StageRunner
from engine.settings import Settings
from engine.storage.event_writer import EventWriter
from engine.streams import Stream
from tests.factories import trade_tick
from tests.unit.test_events import events, json_values

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
OPTIONS = ConsumerOptions(batch_size=20, block_ms=10, claim_every_s=3600, max_deliveries=2)
STAGES = ("signal", "risk", "execution", "portfolio")
INPUTS = sorted({stream for name in STAGES for stream in STAGE_INPUTS[name]})
SYMBOL = "BTCUSDT"


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event's JSON with one field deleted or replaced by any JSON value."""
    body = json.loads(encode_event(draw(events)))
    field = draw(st.sampled_from(sorted(body)))
    if draw(st.booleans()):
        del body[field]
    else:
        body[field] = draw(json_values)
    return json.dumps(body, default=str).encode()


payloads = st.one_of(
    st.binary(max_size=80),
    json_values.map(lambda value: json.dumps(value, default=str).encode()),
    mutated_events(),
    events.map(encode_event),
)
#: (stream, the entry's fields): mostly the event field, sometimes another or none.
entries = st.tuples(
    st.sampled_from(INPUTS),
    st.one_of(
        payloads.map(lambda payload: {PAYLOAD_FIELD: payload}),
        st.dictionaries(st.sampled_from([b"payload", b"x", b"Event"]), payloads, min_size=1),
    ),
)


def decodes(fields: dict[bytes, bytes]) -> bool:
    payload = fields.get(PAYLOAD_FIELD)
    if payload is None:
        return False
    try:
        decode_event(payload)
    except EventDecodeError:
        return False
    return True


def settle(runners: Sequence[StageRunner]) -> None:
    """Poll every stage until none has anything left to do (what one publishes, others read)."""
    for _ in range(100):
        if all(runner.consumer.poll(block=False).idle for runner in runners):
            return
    raise AssertionError("the stages never settled")


def letters_by_entry(bus: RedisStreamBus) -> dict[tuple[str, str], set[str]]:
    """(stream, message id) -> the groups that dead-lettered it, each with a reason."""
    found: dict[tuple[str, str], set[str]] = {}
    # Read as bytes: a dead letter's payload is whatever was published, UTF-8 or not.
    entries = cast(list[Entry], bus.client.xrange(bus.key(Stream.DEAD_LETTERS)))
    for _, fields in entries:
        assert fields[b"error"].strip(), fields
        entry = (fields[b"stream"].decode(), fields[b"message_id"].decode())
        found.setdefault(entry, set()).add(fields[b"group"].decode())
    return found


@FUZZ
@given(published=st.lists(entries, min_size=1, max_size=8))
def test_fuzz_entries_then_handled_or_dead_lettered_and_every_stage_keeps_going(
    redis_client: redis.Redis,
    redis_namespace: str,
    database_conninfo: str,
    db: psycopg.Connection[tuple[object, ...]],
    published: list[tuple[Stream, dict[bytes, bytes]]],
) -> None:
    bus = RedisStreamBus(redis_client, f"{redis_namespace}:{uuid.uuid4().hex[:8]}")
    pipeline = build_pipeline(Settings(), bus, run_id="fuzz", symbols=[SYMBOL])
    runners = [StageRunner(stage, bus, options=OPTIONS) for stage in pipeline.stages]
    settle(runners)  # each stage joins its groups before anything is published

    ids: list[tuple[Stream, str, dict[bytes, bytes]]] = []
    for stream, fields in published:
        added = cast(bytes, redis_client.xadd(bus.key(stream), fields))  # type: ignore[arg-type]
        ids.append((stream, added.decode(), fields))
    settle(runners)
    sentinel = bus.publish(trade_tick(1, symbol=SYMBOL))  # after all of that: still read
    settle(runners)

    letters = letters_by_entry(bus)
    for stream, message_id, fields in ids:
        readers = {name for name in STAGES if stream in STAGE_INPUTS[name]}
        if not decodes(fields):
            assert letters.get((str(stream), message_id)) == readers, (stream, fields)
    assert (str(Stream.MARKET_DATA), sentinel) not in letters
    for runner in runners:
        for stream in runner.stage.inputs:
            key, group = bus.key(stream), runner.stage.name
            assert redis_client.xpending(key, group)["pending"] == 0, (stream, group)
        assert set(runner.consumer.lag().values()) <= {0}

    with psycopg.connect(database_conninfo) as conn:
        recorder = DeadLetterRecorder(bus, EventWriter(conn, database_conninfo))
        while recorder.poll(block_ms=None):
            pass
    stored = {
        (str(stream), str(message_id))
        for stream, message_id in db.execute("SELECT stream, message_id FROM dead_letters")
    }
    assert set(letters) <= stored


# -- the dead-letter stream itself: whatever an entry holds, it is recorded ---------------

attempt_texts = st.one_of(
    st.sampled_from(["²", "٣", "-1", "", " 3", "1e3", "0", "007", "9" * 5000]),
    st.sampled_from([MOST_ATTEMPTS, MOST_ATTEMPTS + 1, 2**63]).map(str),
    st.integers(0, 2**70).map(str),
    st.text(max_size=8),
)
times = st.sampled_from(
    [
        "2026-01-01T00:00:00+00:00",
        "2026-01-01",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59",
        "2026-01-01T00:00:00+23:59:59.999999",
        "2026-W01-1",
        "x",
    ]
)
texts = st.text(max_size=20).map(lambda text: text.encode(errors="surrogatepass")) | st.binary(
    max_size=40
)
letter_fields = st.fixed_dictionaries(
    {},
    optional={
        b"stream": texts,
        b"message_id": texts,
        b"group": texts,
        b"consumer": texts,
        b"error": texts,
        b"attempts": attempt_texts.map(str.encode) | st.binary(max_size=8),
        b"payload": st.binary(max_size=80),
        b"ts": times.map(str.encode) | st.binary(max_size=30),
    },
).filter(bool)  # Redis keeps no entry without a field


def record_all(bus: RedisStreamBus, conninfo: str) -> DeadLetterRecorder:
    with psycopg.connect(conninfo) as conn:
        recorder = DeadLetterRecorder(bus, EventWriter(conn, conninfo))
        while recorder.poll(block_ms=None):
            pass
    return recorder


@FUZZ
@given(letters=st.lists(letter_fields, min_size=1, max_size=6))
def test_fuzz_dead_letter_entries_then_every_one_listed_and_recorded(
    redis_client: redis.Redis,
    redis_namespace: str,
    database_conninfo: str,
    db: psycopg.Connection[tuple[object, ...]],
    letters: list[dict[bytes, bytes]],
) -> None:
    bus = RedisStreamBus(redis_client, f"{redis_namespace}:{uuid.uuid4().hex[:8]}")
    for fields in letters:
        redis_client.xadd(bus.key(Stream.DEAD_LETTERS), fields)  # type: ignore[arg-type]

    listed = bus.dead_letters()
    recorder = record_all(bus, database_conninfo)

    assert len(listed) == len(letters)
    assert recorder.recorded == len(letters)
    stored = set(db.execute("SELECT stream, message_id FROM dead_letters").fetchall())
    assert {(letter.stream, letter.message_id) for letter in map(letter_from_fields, letters)} <= (
        stored
    )


def test_dead_letters_whose_attempts_no_column_holds_then_recorded_and_so_are_the_next(
    redis_client: redis.Redis,
    redis_namespace: str,
    database_conninfo: str,
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    bus = RedisStreamBus(redis_client, redis_namespace)
    attempts = ["²", "9" * 5000, str(2**40), "3"]
    for number, count in enumerate(attempts):
        fields = {"stream": "market_data", "message_id": f"1-{number}", "attempts": count}
        redis_client.xadd(bus.key(Stream.DEAD_LETTERS), fields)  # type: ignore[arg-type]

    record_all(bus, database_conninfo)

    rows = db.execute("SELECT attempts FROM dead_letters ORDER BY message_id").fetchall()
    assert rows == [(0,), (MOST_ATTEMPTS,), (MOST_ATTEMPTS,), (3,)]


def test_dead_letter_payload_not_utf8_then_listed_with_replacement_characters(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    bus = RedisStreamBus(redis_client, redis_namespace)
    fields = {b"stream": b"market_data", b"payload": b"\xff{\xfe"}
    redis_client.xadd(bus.key(Stream.DEAD_LETTERS), fields)  # type: ignore[arg-type]

    (letter,) = bus.dead_letters()

    assert letter["payload"] == "\ufffd{\ufffd"
