"""What loyalty adds to the admin: its figure on the home page (SHOP_ADMIN_HOME_FIGURES), and readable text
for its references ("points:2848", "referral:12", "birthday:2026") on orders (SHOP_ADJUSTMENT_REFERENCES)
and in the ledger."""

from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty import selectors
from shop.core.admin_home import Figure


def points_text(n: int) -> str:
    """2848 -> "2,848 points"."""
    return ngettext("%(n)s point", "%(n)s points", abs(n)) % {"n": number_format(n, force_grouping=True)}


def figures(request) -> list[Figure]:
    if not request.user.has_perm("loyalty.view_account"):
        return []
    owed = selectors.liability()  # one query
    return [
        Figure(
            label=_("Points owed"),
            value=owed["value"].format(),
            url=reverse("admin:loyalty_account_overview"),
            note=ngettext("%(points)s held by %(n)s member", "%(points)s held by %(n)s members", owed["members"])
            % {"points": points_text(owed["points"]), "n": number_format(owed["members"], force_grouping=True)},
        )
    ]


def _number(reference: str, prefix: str) -> int | None:
    value = reference.removeprefix(prefix)
    return int(value) if reference.startswith(prefix) and value.isdigit() else None


def _referral_link(referral_id: int):
    url = reverse("admin:loyalty_referral_change", args=[referral_id])
    return format_html('<a href="{}">{}</a>', url, _("referral #%(id)s") % {"id": referral_id})


def references(adjustments) -> dict:
    """{adjustment id: text} for the points spent on an order ("points:2848") and a referred friend's
    welcome discount ("referral:12"); no query."""
    out = {}
    for a in adjustments:
        if a.source == "loyalty-points" and (n := _number(a.reference, "points:")) is not None:
            out[a.pk] = _("%(points)s spent") % {"points": points_text(n)}
        elif a.source == "loyalty-referral" and (n := _number(a.reference, "referral:")) is not None:
            text = _("Welcome discount of a referred friend ({referral})")
            out[a.pk] = format_html(text, referral=_referral_link(n))
    return out


def ledger_reference(entry) -> str:
    """What a ledger entry's reference means: "signup", "birthday:2026", "review:<product id>", "referral:<id>"."""
    ref = entry.reference
    if not ref:
        return "—"
    if ref == "signup":
        return _("Sign-up bonus")
    if (year := _number(ref, "birthday:")) is not None:
        return _("Birthday bonus for %(year)s") % {"year": year}
    if (product_id := _number(ref, "review:")) is not None:
        product = entry.data.get("product") if isinstance(entry.data, dict) else None
        url = reverse("admin:catalog_product_change", args=[product_id])
        name = product or _("product #%(id)s") % {"id": product_id}
        return format_html(_('Review of <a href="{url}">{product}</a>'), url=url, product=name)
    if (referral_id := _number(ref, "referral:")) is not None:
        return format_html(_("Reward for {referral}"), referral=_referral_link(referral_id))
    return ref
