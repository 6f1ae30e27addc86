"""Money: a Decimal amount with its currency.

Amounts are rounded to the currency's minor unit at named points (the end of a
line, the end of an adjustment) with ROUND_HALF_UP, and converted to Stripe's
minor units here and nowhere else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency
from django.conf import settings
from django.utils.translation import get_language, to_locale

# Currencies Stripe charges in whole units (no cents): amounts are sent as is.
ZERO_DECIMAL_CURRENCIES = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())


def decimal_places(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (0.005 -> 0.01)."""
    return amount.quantize(Decimal(1).scaleb(-decimal_places(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money takes a Decimal amount (never a float); use Money.of() for ints and strings.")

    @classmethod
    def zero(cls, currency: str | None = None) -> Money:
        return cls(Decimal(0), currency or settings.SHOP_CURRENCY)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str | None = None) -> Money:
        if isinstance(amount, float):
            raise TypeError("Money never comes from a float; pass a Decimal or a string.")
        return cls(Decimal(amount), currency or settings.SHOP_CURRENCY)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise ValueError(f"Cannot combine {self.currency} with {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float):
            raise TypeError("Multiply Money by an int or a Decimal, never a float.")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def rounded(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def at_least_zero(self) -> Money:
        return self if self.amount >= 0 else Money.zero(self.currency)

    def to_minor_units(self) -> int:
        """The integer Stripe expects: cents for USD, yen for JPY."""
        return int(quantize(self.amount, self.currency).scaleb(decimal_places(self.currency)))

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        return cls(Decimal(units).scaleb(-decimal_places(currency)), currency.upper())

    def format(self, locale: str | None = None) -> str:
        """Formatted for the active language: $1,234.50, 1 234,50 $US, ¥1,235."""
        locale = locale or to_locale(get_language() or settings.LANGUAGE_CODE)
        amount = quantize(self.amount, self.currency)
        if not isinstance(locale, str):  # a babel Locale: not worth caching
            return format_currency(amount, self.currency, locale=locale)
        return _format_currency(str(amount), self.currency, locale)

    def __str__(self) -> str:
        return self.format()


@functools.lru_cache(maxsize=4096)
def _format_currency(amount: str, currency: str, locale: str) -> str:
    """babel's format_currency, remembered: a page shows the same few prices in one language many times.

    Keyed by the amount's exact text (so 0.00 and -0.00 stay apart); the result
    depends on nothing else.
    """
    return format_currency(Decimal(amount), currency, locale=locale)
