"""Money summed in SQL, exact on every database.

SQLite has no decimal type: a DecimalField is stored as a double and `SUM`, `+`
and `*` run in floating point, so 125 orders of $0.80 sum to 99.9999999999998
and a member at exactly a tier's threshold stays below it. PostgreSQL is exact.
Sum whole minor units (cents) instead: each stored amount is the double nearest
its decimal value (at most 12 digits, far inside a double's 15), so rounding
amount x 100 to an integer recovers it exactly, and integers add exactly on
both databases (a product such as stock x price is exact too while it stays
under 2^53 cents, about 90 trillion). The result comes back as a Decimal in the
currency's minor unit.

Use it for every money aggregate (totals, revenue, discounts given, stock value);
amounts of one row read through the ORM are already exact (Django rounds each
column to its decimal places).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import BigIntegerField, F, Sum, Value
from django.db.models.functions import Cast, Round

from shop.core.money import decimal_places


def minor_units_sum(expression, *, currency: str, **extra) -> Sum:
    """SUM of a money expression (a field name, F() or arithmetic of them) in whole minor units: an integer.

    Turn the result into an amount with from_minor_units(). Extra keyword arguments
    (filter=...) go to Sum.
    """
    if isinstance(expression, str):
        expression = F(expression)
    factor = Value(10 ** decimal_places(currency))
    return Sum(Cast(Round(expression * factor), BigIntegerField()), **extra)


def from_minor_units(units, currency: str) -> Decimal:
    """The amount a minor_units_sum() came to (None, for no rows, is zero): 1795 -> Decimal("17.95")."""
    return Decimal(int(units or 0)).scaleb(-decimal_places(currency))
