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
from engine.services.dead_letters import DeadLetterRecorder
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
