"""What the promotions add to the admin: their figure on the home page (SHOP_ADMIN_HOME_FIGURES) and the
readable text of an order's discount references (SHOP_ADJUSTMENT_REFERENCES)."""

import datetime as dt

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketing.discounts import selectors, services
from marketing.discounts.models import Promotion
from shop.core.admin_home import Figure

SOURCES = {"discounts", "discounts-shipping"}  # the adjusters' sources (marketing/discounts/adjusters.py)
ENDING_SOON = dt.timedelta(days=7)


def figures(request) -> list[Figure]:
    if not request.user.has_perm("discounts.view_promotion"):
        return []
    now = timezone.now()
    running = selectors.running_q(now)
    row = Promotion.objects.aggregate(
        running=Count("id", filter=running),
        ending=Count("id", filter=running & Q(ends_at__lte=now + ENDING_SOON)),
    )
    return [
        Figure(
            label=_("Running promotions"),
            value=number_format(row["running"], force_grouping=True),
            url=reverse("admin:discounts_promotion_changelist") + "?when=running",
            note=ngettext("%(n)s ends within 7 days", "%(n)s end within 7 days", row["ending"])
            % {"n": number_format(row["ending"], force_grouping=True)},
        )
    ]


def references(adjustments) -> dict:
    """{adjustment id: "Code YALDA50 (promotion “Yalda night”)"} for the discount lines, one query in all.
    The reference is "<promotion id>|<code>" (services.reference): the code as typed, empty when automatic."""
    parsed = {}
    for a in adjustments:
        if a.source in SOURCES and a.reference:
            try:
                parsed[a.pk] = services.parse_reference(a.reference)
            except ValueError:
                continue  # not one of ours after all: shown as it is
    names = dict(Promotion.objects.filter(pk__in={pk for pk, _code in parsed.values()}).values_list("pk", "name"))
    out = {}
    for adjustment_id, (promotion_id, code) in parsed.items():
        url = reverse("admin:discounts_promotion_change", args=[promotion_id])
        name = names.get(promotion_id)
        if name is None:
            out[adjustment_id] = (
                _("Code %(code)s (a promotion since deleted)") % {"code": code}
                if code
                else _("A promotion since deleted")
            )
        elif code:
            text = _('Code {code} (promotion <a href="{url}">“{name}”</a>)')
            out[adjustment_id] = format_html(text, code=code, url=url, name=name)
        else:
            out[adjustment_id] = format_html(_('Automatic promotion <a href="{url}">“{name}”</a>'), url=url, name=name)
    return out
