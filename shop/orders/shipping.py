"""Shipping: flat rates per method from settings, standard free above a threshold.

A pricing-pipeline adjuster (docs/architecture.md, "Pricing adjusters"); it runs after the discounts,
so the free-shipping threshold applies to what the customer actually pays for
the merchandise.
"""

from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.utils.translation import gettext as _

from shop.cart.pricing import Adjustment, AdjustmentKind, PricedCart, PricingContext
from shop.core.money import Money

# Where each known carrier shows a parcel's progress ({number}: the tracking number, URL-quoted).
# Matched on the carrier's name as staff type it ("UPS", "FedEx Ground", "DHL Express").
TRACKING_PAGES = {
    "ups": "https://www.ups.com/track?tracknum={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={number}",
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    "canada post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
    "la poste": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "gls": "https://gls-group.com/track/{number}",
}


def tracking_url(carrier: str, number: str) -> str | None:
    """The carrier's tracking page for this parcel, or None when the carrier is not one we know."""
    name = " ".join((carrier or "").lower().replace("-", " ").split())
    number = (number or "").strip()
    if not name or not number:
        return None
    for known, page in TRACKING_PAGES.items():
        if name == known or name.startswith(known + " "):
            return page.format(number=quote(number, safe=""))
    return None


def methods() -> dict[str, dict]:
    return settings.SHOP_SHIPPING_METHODS


def shipping_price(method: str, merchandise: Money) -> Money:
    rule = methods()[method]
    free_over = rule.get("free_over")
    if free_over is not None and merchandise.amount >= Decimal(free_over):
        return Money.zero(merchandise.currency)
    return Money(Decimal(rule["price"]), merchandise.currency)


def method_choices(merchandise: Money) -> list[tuple[str, str, Money]]:
    """(code, label, price) for each method, priced for this cart."""
    return [(code, str(rule["label"]), shipping_price(code, merchandise)) for code, rule in methods().items()]


class ShippingAdjuster:
    source = "shipping"

    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]:
        if not context.shipping_method or priced.is_empty:
            return []
        merchandise = priced.subtotal
        for adjustment in priced.adjustments:
            if adjustment.kind == AdjustmentKind.DISCOUNT:
                merchandise = merchandise + adjustment.amount
        price = shipping_price(context.shipping_method, merchandise.at_least_zero())
        label = str(methods()[context.shipping_method]["label"])
        if price.amount == 0:
            label = _("%(method)s: free") % {"method": label}
        return [
            Adjustment(
                label=label,
                amount=price,
                source=self.source,
                kind=AdjustmentKind.SHIPPING,
                reference=context.shipping_method,
            )
        ]

    def commit(self, order, adjustments, context) -> None:
        """Nothing to claim: shipping is a price, not a resource."""
