"""The writer's own COPY text against psycopg's COPY formatter, value by value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from psycopg import _copy_base
from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb

from engine.storage.event_writer import as_is, copy_text


def psycopg_text(row: tuple[Any, ...]) -> bytes:
    out = bytearray()
    _copy_base.format_row_text(row, Transformer(), out)
    return bytes(out)


@pytest.mark.parametrize(
    "value",
    [
        "pt-20261206-1154-3392",
        "tab\there",
        "new\nline and \r return",
        "back\\slash",
        "unicode é ü 漢字",
        "line\u2028separator",
        "",
        Decimal("10012.123456789012345678"),
        Decimal("-0.000001"),
        7,
        None,
        True,
        False,
        Jsonb([{"symbol": "BTCUSDT", "note": 'say "hi"\\n'}]),
    ],
)
def test_a_value_is_written_as_psycopg_writes_it(value: object) -> None:
    assert copy_text([(value,)]) == psycopg_text((value,))


def test_json_text_given_as_is_is_escaped_like_the_object() -> None:
    text = '[{"note": "a\\\\b\\tc"}]'
    assert copy_text([(Jsonb(text, dumps=as_is),)]) == copy_text([(Jsonb([{"note": "a\\b\tc"}]),)])


def test_equal_times_in_other_zones_keep_their_own_offset() -> None:
    at = datetime(2025, 1, 7, 18, 20, tzinfo=UTC)
    there = at.astimezone(timezone(timedelta(hours=1)))
    text = copy_text([(at,), (there,), (at,)])
    assert (
        text == b"2025-01-07T18:20:00+00:00\n2025-01-07T19:20:00+01:00\n2025-01-07T18:20:00+00:00\n"
    )
