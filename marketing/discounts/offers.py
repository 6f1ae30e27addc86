"""Automatic promotions as offers on product pages (shop.catalog.offers' provider).

Only promotions every visitor gets qualify: automatic (no code), running now,
a percentage or fixed amount off, with no condition on the customer or the
cart's size. The same engine prices the product as the cart will.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q
from django.utils import timezone

from marketing.discounts import engine
from marketing.discounts.models import Promotion
from shop.cart.pricing import price_lines
from shop.catalog.offers import Offer
from shop.core.money import Money


@dataclass
class _OneUnit:
    """A cart line of one unit, to price a product as the cart would."""

    product: object
    quantity: int = 1

    @property
    def pk(self):
        return self.product.pk


def public_promotions(now) -> list[Promotion]:
    promotions = (
        Promotion.objects.filter(
            requires_code=False,
            is_active=True,
            starts_at__lte=now,
            kind__in=[Promotion.Kind.PERCENTAGE, Promotion.Kind.FIXED],
            first_order_only=False,
            segment="",
            usage_limit_per_customer=None,
            min_subtotal=None,
        )
        .filter(Q(min_quantity__isnull=True) | Q(min_quantity__lte=1))
        .filter(Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")))
        .exclude(ends_at__lte=now)
        .prefetch_related("customers")
    )
    return [p for p in promotions if not p.customers.all()]


class AutomaticPromotionOffers:
    def offers(self, products: list) -> dict[int, Offer]:
        promotions = public_promotions(timezone.now()) if products else []
        result = {}
        for product in products if promotions else []:
            applied, _verdict = engine.apply_in_order(promotions, priced=price_lines([_OneUnit(product)]))
            if applied:
                saving = sum((a.amount.amount for a in applied), start=Money.zero(product.price_money.currency).amount)
                result[product.pk] = Offer(
                    price=Money(product.price - saving, product.price_money.currency).at_least_zero(),
                    label=", ".join(a.promotion.name for a in applied),
                )
        return result

    def seconds_until_change(self) -> int | None:
        """Until the next automatic promotion starts or ends."""
        now = timezone.now()
        automatic = Promotion.objects.filter(requires_code=False, is_active=True)
        moments = [
            automatic.filter(starts_at__gt=now).order_by("starts_at").values_list("starts_at", flat=True).first(),
            automatic.filter(ends_at__gt=now).order_by("ends_at").values_list("ends_at", flat=True).first(),
        ]
        waits = [int((moment - now).total_seconds()) + 1 for moment in moments if moment is not None]
        return min(waits) if waits else None
