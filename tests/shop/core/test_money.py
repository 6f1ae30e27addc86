from decimal import Decimal

import pytest
from django.utils import translation

from shop.core.money import Money, decimal_places, quantize


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("1.125", "1.13"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("10", "10.00"),
    ],
)
def test_it_rounds_half_up_to_cents(amount, expected):
    assert quantize(Decimal(amount), "USD") == Decimal(expected)
    assert str(usd(amount).rounded().amount) == expected


def test_it_rounds_yen_half_up_to_whole_units():
    assert Money(Decimal("100.5"), "JPY").rounded().amount == Decimal("101")
    assert Money(Decimal("100.49"), "JPY").rounded().amount == Decimal("100")


def test_it_knows_zero_decimal_currencies():
    assert decimal_places("USD") == 2
    assert decimal_places("EUR") == 2
    assert decimal_places("JPY") == 0
    assert decimal_places("jpy") == 0


def test_it_converts_to_minor_units():
    assert usd("19.99").to_minor_units() == 1999
    assert usd("0.005").to_minor_units() == 1
    assert usd("1234.5").to_minor_units() == 123450
    assert Money(Decimal("1500"), "JPY").to_minor_units() == 1500
    assert Money(Decimal("1499.5"), "JPY").to_minor_units() == 1500
    assert isinstance(usd("19.99").to_minor_units(), int)


def test_it_builds_money_from_minor_units():
    assert Money.from_minor_units(1999, "USD") == usd("19.99")
    assert Money.from_minor_units(1999, "usd").currency == "USD"
    assert Money.from_minor_units(1500, "JPY") == Money(Decimal("1500"), "JPY")
    assert Money.from_minor_units(0, "USD").amount == Decimal("0")


def test_it_round_trips_minor_units():
    for units in (0, 1, 99, 100, 123456):
        assert Money.from_minor_units(units, "USD").to_minor_units() == units
        assert Money.from_minor_units(units, "JPY").to_minor_units() == units


def test_it_refuses_floats():
    with pytest.raises(TypeError):
        Money.of(0.1, "USD")
    with pytest.raises(TypeError):
        usd("1.00") * 1.5


def test_it_accepts_strings_ints_and_decimals():
    assert Money.of("0.10", "USD").amount == Decimal("0.10")
    assert Money.of(3, "USD").amount == Decimal(3)
    assert Money.of(Decimal("2.50"), "USD").amount == Decimal("2.50")


def test_it_uses_the_shop_currency_by_default(settings):
    settings.SHOP_CURRENCY = "EUR"
    assert Money.of("1").currency == "EUR"
    assert Money.zero().currency == "EUR"


def test_it_refuses_to_mix_currencies():
    eur = Money(Decimal("1"), "EUR")
    with pytest.raises(ValueError):
        usd("1") + eur
    with pytest.raises(ValueError):
        usd("1") - eur
    with pytest.raises(ValueError):
        assert usd("1") < eur


def test_it_refuses_to_combine_with_plain_numbers():
    with pytest.raises(TypeError):
        usd("1") + Decimal("1")


def test_it_does_arithmetic_in_decimals():
    assert usd("0.10") + usd("0.20") == usd("0.30")
    assert usd("5") - usd("7.5") == usd("-2.5")
    assert usd("2.50") * 3 == usd("7.50")
    assert 3 * usd("2.50") == usd("7.50")
    assert usd("2.50") * Decimal("1.5") == usd("3.750")
    assert -usd("1") == usd("-1")


def test_it_never_goes_below_zero_when_asked():
    assert usd("-3").at_least_zero() == Money.zero("USD")
    assert usd("3").at_least_zero() == usd("3")


def test_it_formats_in_english():
    assert usd("1234.5").format("en_US") == "$1,234.50"


def test_it_formats_in_french():
    formatted = usd("1234.5").format("fr_FR")
    # French groups with a narrow no-break space and puts the symbol after the amount.
    assert formatted.replace("\u202f", " ").replace("\xa0", " ") == "1 234,50 $US"


def test_it_formats_yen_without_decimals_in_japanese():
    formatted = Money(Decimal("1234.5"), "JPY").format("ja_JP")
    assert formatted.endswith("1,235")
    assert "." not in formatted
    assert formatted[0] in "¥￥"


def test_it_formats_for_the_active_language():
    with translation.override("fr"):
        assert "234,50" in str(usd("1234.5"))
    with translation.override("en"):
        assert str(usd("1234.5")) == "$1,234.50"
