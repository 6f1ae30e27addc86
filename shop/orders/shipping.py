"""Shipping: flat rates per method from settings, standard free above a threshold.

A pricing-pipeline adjuster (docs/architecture.md, "Pricing adjusters"); it runs after the discounts,
so the free-shipping threshold applies to what the customer actually pays for
the merchandise.
"""

from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from shop.cart.pricing import Adjustment, AdjustmentKind, PricedCart, PricingContext
from shop.core.money import Money


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
