"""A promotion's terms in words, wherever its saving is shown: "50% off, up to $60".

A saving shown without its cap or its conditions surprises the customer when the cart
takes off less than they expected, so the cart's lines, the code's message, the product
page and the admin's preview all say them the same way.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import get_decimal_symbol
from django.conf import settings
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext as _

from marketing.discounts.models import Promotion
from shop.core.money import Money


def _percent(value: Decimal) -> str:
    value = value.normalize()
    return f"{value:f}"


def _money(amount: Decimal, currency: str) -> str:
    """A whole amount without its cents in a sentence ("up to $60"), else as everywhere ("$7.50")."""
    amount = Decimal(amount)
    text = Money(amount, currency).format()
    if amount != amount.to_integral_value():
        return text
    separator = get_decimal_symbol(to_locale(get_language() or settings.LANGUAGE_CODE))
    return re.sub(re.escape(separator) + r"0+(?!\d)", "", text, count=1)


def offer(promotion: Promotion, currency: str | None = None) -> str:
    """What it takes off, with its cap: "50% off, up to $60", "$10 off", "buy 2, get 1 free"."""
    currency = currency or settings.SHOP_CURRENCY
    kind = promotion.kind
    if kind == Promotion.Kind.PERCENTAGE:
        text = _("%(percent)s%% off") % {"percent": _percent(promotion.value)}
    elif kind == Promotion.Kind.FIXED:
        text = _("%(amount)s off") % {"amount": _money(promotion.value, currency)}
    elif kind == Promotion.Kind.BUY_X_GET_Y:
        if promotion.value >= 100:
            text = _("buy %(x)d, get %(y)d free") % {"x": promotion.buy_quantity, "y": promotion.get_quantity}
        else:
            text = _("buy %(x)d, get %(y)d at %(percent)s%% off") % {
                "x": promotion.buy_quantity,
                "y": promotion.get_quantity,
                "percent": _percent(promotion.value),
            }
    else:
        text = _("free shipping")
    if promotion.max_discount is not None and kind != Promotion.Kind.FIXED:
        text = _("%(offer)s, up to %(cap)s") % {"offer": text, "cap": _money(promotion.max_discount, currency)}
    return text


def conditions(promotion: Promotion, currency: str | None = None) -> list[str]:
    """What must hold for it to apply, each in a few words."""
    currency = currency or settings.SHOP_CURRENCY
    found = []
    if promotion.min_subtotal is not None:
        found.append(_("on orders of %(amount)s or more") % {"amount": _money(promotion.min_subtotal, currency)})
    if promotion.min_quantity is not None and promotion.min_quantity > 1:
        found.append(
            ngettext("with %(n)d eligible item or more", "with %(n)d eligible items or more", promotion.min_quantity)
            % {"n": promotion.min_quantity}
        )
    if promotion.exclude_on_sale:
        found.append(_("not on items already on sale"))
    if promotion.first_order_only:
        found.append(_("first order only"))
    if promotion.usage_limit_per_customer == 1:
        found.append(_("once per customer"))
    if not promotion.stackable:
        found.append(_("does not combine with other offers"))
    return found


def describe(promotion: Promotion, currency: str | None = None) -> str:
    """The offer and its conditions in one phrase: "50% off, up to $60; on orders of $100 or more"."""
    return "; ".join([offer(promotion, currency), *conditions(promotion, currency)])
