"""Money helpers: Decimal in, Decimal out, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.money import STORAGE_PLACES, parse_fraction, quantize, to_decimal


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1.5", Decimal("1.5")),
        (" 42 ", Decimal(42)),
        (7, Decimal(7)),
        (Decimal("0.000000012345678901"), Decimal("0.000000012345678901")),
        ("-3.25", Decimal("-3.25")),
    ],
)
def test_to_decimal_when_str_int_or_decimal_then_exact(given: object, expected: Decimal) -> None:
    result = to_decimal(given)
    assert result == expected
    assert isinstance(result, Decimal)


def test_to_decimal_keeps_every_digit() -> None:
    assert str(to_decimal("0.000000012345678901")) == "1.2345678901E-8"
    assert to_decimal("0.000000012345678901") == Decimal("0.000000012345678901")


@pytest.mark.parametrize("given", [0.1, 1.0, float("nan"), True, False])
def test_to_decimal_when_float_or_bool_then_refused(given: object) -> None:
    with pytest.raises(ValueError, match="string or Decimal"):
        to_decimal(given)


@pytest.mark.parametrize("given", ["NaN", "nan", "Infinity", "-inf", Decimal("NaN"), "sNaN"])
def test_to_decimal_when_not_finite_then_refused(given: object) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        to_decimal(given)


@pytest.mark.parametrize("given", ["", "abc", "1,5", None, [1], b"1"])
def test_to_decimal_when_not_a_number_then_refused(given: object) -> None:
    with pytest.raises(ValueError, match="not a number"):
        to_decimal(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("5%", Decimal("0.05")),
        (" 5 % ", Decimal("0.05")),
        ("0.05", Decimal("0.05")),
        (0.05, Decimal("0.05")),
        ("12.5%", Decimal("0.125")),
        (Decimal("0.1"), Decimal("0.1")),
        (0, Decimal(0)),
    ],
)
def test_parse_fraction_when_percent_or_fraction_then_fraction(
    given: object, expected: Decimal
) -> None:
    assert parse_fraction(given) == expected


def test_parse_fraction_when_float_then_value_as_typed_not_binary_noise() -> None:
    assert parse_fraction(0.1) == Decimal("0.1")
    assert parse_fraction(0.1) != Decimal.from_float(0.1)


@pytest.mark.parametrize("given", ["abc%", "%", "NaN%", float("inf")])
def test_parse_fraction_when_not_a_number_then_refused(given: object) -> None:
    with pytest.raises(ValueError, match="number"):
        parse_fraction(given)


@pytest.mark.parametrize(
    ("given", "places", "expected"),
    [
        ("0.125", 2, "0.12"),
        ("0.135", 2, "0.14"),
        ("2.5", 0, "2"),
        ("3.5", 0, "4"),
        ("-2.5", 0, "-2"),
        ("1.005", 2, "1.00"),
        ("1.0051", 2, "1.01"),
    ],
)
def test_quantize_rounds_half_even(given: str, places: int, expected: str) -> None:
    assert str(quantize(Decimal(given), places)) == expected


def test_quantize_defaults_to_storage_places() -> None:
    result = quantize(Decimal("0.0000000000000000015"))
    assert result == Decimal("0.000000000000000002")
    assert result.as_tuple().exponent == -STORAGE_PLACES


def test_quantize_keeps_values_already_at_storage_precision() -> None:
    value = Decimal("0.000000012345678901")
    assert quantize(value) == value


def test_quantize_when_many_integer_digits_then_exact() -> None:
    assert quantize(Decimal("12345678901234567890.123456789012345678901")) == Decimal(
        "12345678901234567890.123456789012345679"
    )
