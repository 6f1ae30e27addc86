"""Formatting of dashboard figures: by locale, and saying what a change is in words for screen readers."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from shop.core.templatetags.shop_tags import money

register = template.Library()


@register.filter
def figure(value, kind="count"):
    """A card's figure: money in the store's currency, a count with its thousands separator."""
    if value is None:
        return "—"
    if kind == "money":
        return money(value)
    if kind == "percent":
        return percent(value)
    return number_format(Decimal(value).quantize(Decimal(1)), 0, force_grouping=True)


@register.filter
def percent(value, places=1):
    """0.1234 -> "12.3%" in the active language's format; "—" when there is nothing to show."""
    if value is None:
        return "—"
    return f"{number_format(Decimal(value) * 100, int(places), force_grouping=True)}%"


@register.filter
def signed_percent(value):
    """A change: "+12.3%", "−4.0%" (a real minus sign), "—" when there is nothing to compare."""
    if value is None:
        return "—"
    text = percent(abs(value))
    return f"+{text}" if value > 0 else (f"−{text}" if value < 0 else text)


@register.filter
def trend(value):
    """The change's direction as a class and for screen readers: up, down or flat."""
    if value is None or value == 0:
        return "flat"
    return "up" if value > 0 else "down"


@register.filter
def trend_words(value):
    if value is None:
        return _("nothing to compare")
    return _("up") if value > 0 else (_("down") if value < 0 else _("unchanged"))


@register.filter
def heat(value, top=1):
    """A cell's shade for a heat map, "heat-0" to "heat-5", by its value against the table's top one;
    the figure is always written in the cell too (the shade is never the only way to read it)."""
    if value in (None, "") or not top:  # "" is what a template gives for a missing cell
        return "heat-0"
    return f"heat-{max(0, min(5, int(Decimal(value) / Decimal(top) * 5 + Decimal('0.5'))))}"


@register.filter
def get(mapping, key):
    """mapping[key], or None: for tables keyed by two traits."""
    return mapping.get(key) if mapping else None


@register.filter
def trait(key):
    """A region, age band or gender as stored in the crossed figures, in the reader's language."""
    from shop.accounts.models import Gender

    if key == "unknown":
        return _("unknown")
    if key == "under 18":
        return _("under 18")
    if key in Gender.values:
        return Gender(key).label
    return key
