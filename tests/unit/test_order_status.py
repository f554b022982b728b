"""The order vocabulary: one spelling of each status, side and type, whatever the input."""

from __future__ import annotations

import pytest

from engine.errors import EventDecodeError
from engine.events.orders import (
    FILL_STATUSES,
    TERMINAL_STATUSES,
    OrderSide,
    OrderStatus,
    OrderType,
    UnknownStatusError,
    UnknownVocabularyError,
    normalize_order_type,
    normalize_side,
    normalize_status,
)
from engine.storage import schema


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("REJECTED", OrderStatus.REJECTED),
        ("rejected", OrderStatus.REJECTED),
        ("Rejected", OrderStatus.REJECTED),
        (" Filled ", OrderStatus.FILLED),
        ("filled", OrderStatus.FILLED),
        ("fill", OrderStatus.FILLED),
        ("partial", OrderStatus.PARTIALLY_FILLED),
        ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED),
        ("partially filled", OrderStatus.PARTIALLY_FILLED),
        ("Partially-Filled", OrderStatus.PARTIALLY_FILLED),
        ("partial_fill", OrderStatus.PARTIALLY_FILLED),
        ("canceled", OrderStatus.CANCELLED),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("PARTIALLY_CANCELED", OrderStatus.CANCELLED),
        ("new", OrderStatus.ACCEPTED),
        ("OPEN", OrderStatus.ACCEPTED),
        ("accepted", OrderStatus.ACCEPTED),
        ("Expired", OrderStatus.EXPIRED),
        ("\tREJECTED\n", OrderStatus.REJECTED),
    ],
)
def test_normalize_status_when_spelled_differently_then_one_status(
    given: str, expected: OrderStatus
) -> None:
    assert normalize_status(given) is expected


@pytest.mark.parametrize("status", list(OrderStatus))
def test_normalize_status_when_canonical_then_itself(status: OrderStatus) -> None:
    assert normalize_status(status.value) is status
    assert normalize_status(status) is status


@pytest.mark.parametrize("given", ["", "   ", "done", "fileld", "submitted", "rejected!"])
def test_normalize_status_when_unknown_then_error_names_value(given: str) -> None:
    with pytest.raises(UnknownStatusError) as caught:
        normalize_status(given)
    assert repr(given) in str(caught.value)
    assert caught.value.value == given
    assert "accepted" in caught.value.problems[0]


def test_unknown_status_error_is_a_decode_error_and_a_value_error() -> None:
    with pytest.raises(EventDecodeError):
        normalize_status("bogus")
    with pytest.raises(ValueError, match="bogus"):
        normalize_status("bogus")


def test_normalize_status_when_not_a_string_then_unknown_status() -> None:
    with pytest.raises(UnknownStatusError):
        normalize_status(3)  # type: ignore[arg-type]


def test_unknown_status_error_when_value_huge_then_message_stays_short() -> None:
    with pytest.raises(UnknownStatusError) as caught:
        normalize_status("x" * 10_000)
    assert len(str(caught.value)) < 300


def test_is_fill_only_for_filled_and_partially_filled() -> None:
    fills = {status for status in OrderStatus if status.is_fill}
    assert fills == {OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED} == FILL_STATUSES


def test_is_terminal_for_every_status_that_ends_an_order() -> None:
    terminal = {status for status in OrderStatus if status.is_terminal}
    assert terminal == {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
    assert terminal == TERMINAL_STATUSES
    assert not OrderStatus.PARTIALLY_FILLED.is_terminal


def test_vocabulary_matches_the_database_check_constraints() -> None:
    assert tuple(OrderStatus) == schema.RESULT_STATUSES
    assert {str(status) for status in FILL_STATUSES} == set(schema.FILL_STATUSES)
    assert tuple(OrderSide) == schema.SIDES
    assert tuple(OrderType) == schema.ORDER_TYPES


@pytest.mark.parametrize(
    ("given", "expected"),
    [("BUY", OrderSide.BUY), (" buy ", OrderSide.BUY), ("Sell", OrderSide.SELL)],
)
def test_normalize_side_when_any_case_then_side(given: str, expected: OrderSide) -> None:
    assert normalize_side(given) is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("MARKET", OrderType.MARKET), ("Limit", OrderType.LIMIT), (" limit", OrderType.LIMIT)],
)
def test_normalize_order_type_when_any_case_then_type(given: str, expected: OrderType) -> None:
    assert normalize_order_type(given) is expected


def test_normalize_side_when_unknown_then_error_names_value() -> None:
    with pytest.raises(UnknownVocabularyError, match="'long'"):
        normalize_side("long")


def test_normalize_order_type_when_unknown_then_error_names_value() -> None:
    with pytest.raises(UnknownVocabularyError, match="'stop'"):
        normalize_order_type("stop")


def test_side_opposite() -> None:
    assert OrderSide.BUY.opposite is OrderSide.SELL
    assert OrderSide.SELL.opposite is OrderSide.BUY


def test_status_is_a_plain_string_for_storage_and_json() -> None:
    assert str(OrderStatus.PARTIALLY_FILLED) == "partially_filled"
    assert f"{OrderStatus.CANCELLED}" == "cancelled"
