"""Money: integer minor units, explicit rounding, locale-aware formatting."""

from decimal import Decimal

import pytest

from app.core.money import Money, allocate, format_money, to_minor


def test_money_refuses_floats_and_unknown_currencies():
    with pytest.raises(TypeError):
        Money(10.5, "EUR")
    with pytest.raises(ValueError, match="Unsupported currency"):
        Money(100, "XYZ")


def test_money_refuses_mixing_currencies():
    with pytest.raises(ValueError, match="Cannot combine"):
        Money(100, "EUR") + Money(100, "RUB")
    assert Money(150, "EUR") - Money(50, "EUR") == Money(100, "EUR")


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (123456, "EUR", "en", "€1,234.56"),
        (123456, "EUR", "et", "1\xa0234,56\xa0€"),
        (60000000, "RUB", "ru", "600\xa0000,00\xa0₽"),
        (-5, "EUR", "en", "-€0.05"),
    ],
)
def test_format_money_follows_the_locale(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


def test_to_minor_is_exact_and_refuses_fractions_of_a_cent():
    assert to_minor(Decimal("1234.56"), "EUR") == 123456
    assert to_minor("0.1", "EUR") == 10
    with pytest.raises(ValueError, match="at most 2 decimals"):
        to_minor("0.001", "EUR")


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (1000, [50, 30, 20], [500, 300, 200]),
        (7, [1, 1], [4, 3]),
        (0, [3, 4], [0, 0]),
        (101, [333, 333, 334], [34, 33, 34]),
    ],
)
def test_allocate_splits_by_largest_remainder_and_adds_up(total, weights, expected):
    shares = allocate(total, weights)
    assert shares == expected
    assert sum(shares) == total


def test_allocate_adds_up_for_awkward_inputs():
    weights = [7, 13, 1, 999, 2, 5, 17]
    for total in range(0, 2000, 37):
        assert sum(allocate(total, weights)) == total


def test_allocate_refuses_nonsense():
    with pytest.raises(ValueError):
        allocate(-1, [1])
    with pytest.raises(ValueError):
        allocate(10, [0, 0])
