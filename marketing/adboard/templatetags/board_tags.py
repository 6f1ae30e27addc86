"""Small pieces the board's pages share: a member's shown name, stars, an ad's details as text."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from marketing.adboard.models import AdField
from shop.core.moderation import ReportReason

register = template.Library()


@register.filter
def member_name(user) -> str:
    """First name and the last name's initial ("Anna K."): never the email."""
    if user is None:
        return _("A member")
    first = (user.first_name or "").strip()
    last = (user.last_name or "").strip()
    if not first:
        return _("A member")
    return f"{first} {last[0]}." if last else first


@register.filter
def stars(score) -> str:
    """A score out of 5 as five stars, rounded to the nearest whole star: ★★★★☆."""
    if score in (None, ""):
        return ""
    full = int(Decimal(str(score)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    full = max(0, min(5, full))
    return "★" * full + "☆" * (5 - full)


@register.filter
def score(value) -> str:
    """A rating as shown: one decimal (4.3)."""
    if value in (None, ""):
        return ""
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@register.filter
def thumb_height(photo, width: int = 400) -> int:
    """The thumbnail's height at `width`, from the photo's proportions (for width/height attributes)."""
    if not photo or not photo.width or not photo.height:
        return int(width) * 3 // 4
    return round(int(width) * photo.height / photo.width)


@register.simple_tag
def ad_details(ad, fields):
    """The ad's details in the category's order, as (label, text) pairs with their units."""
    values = ad.details or {}
    shown = []
    for field in fields:
        if field.key not in values:
            continue
        value = values[field.key]
        if field.kind == AdField.Kind.YES_NO:
            text = _("Yes") if value else _("No")
        elif field.kind == AdField.Kind.NUMBER and field.unit:
            text = f"{number_format(value, force_grouping=True)} {field.unit}"
        else:
            text = str(value)
        shown.append((field.label, text))
    return shown


@register.simple_tag
def report_reasons():
    """What a member can report (shared with the store's other reports)."""
    return ReportReason.choices
