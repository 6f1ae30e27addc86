"""Reads of the discounts app that take more than one line: the admin's figures and exports."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from marketing.discounts.models import DiscountCode, Promotion, Redemption
from shop.core.money import Money, quantize
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import PAID_STATES, Order

ZERO = Decimal("0.00")


@dataclass
class MonthStats:
    month: dt.date
    redemptions: int
    discount: Decimal
    revenue: Decimal


@dataclass
class PromotionStats:
    redemptions: int  # active ones: released redemptions gave nothing away
    discount: Decimal
    paid_orders: int
    revenue: Decimal  # what the paid orders that used it came to
    aov_with: Decimal | None
    orders_without: int
    aov_without: Decimal | None  # paid orders of the same period that did not use it
    period: tuple[dt.datetime, dt.datetime]
    months: list[MonthStats] = field(default_factory=list)

    @property
    def aov_lift(self) -> Decimal | None:
        """How much bigger (in percent) an order with the promotion is than one without."""
        if not self.aov_with or not self.aov_without:
            return None
        return ((self.aov_with / self.aov_without - 1) * 100).quantize(Decimal("0.1"))


def _average(total: Decimal, count: int, currency: str) -> Decimal | None:
    return quantize(total / count, currency) if count else None


def _money_sum(field: str, currency: str, **extra):
    # Summed in cents: SQLite adds decimals as doubles (19 x 4.02 + 3.32 = 79.6999999999999), and an
    # average of such a sum can fall on the wrong side of a half cent ($3.98 instead of $3.99).
    return minor_units_sum(field, currency=currency, **extra)


def promotion_stats(promotion: Promotion, *, now: dt.datetime | None = None) -> PromotionStats:
    """The promotion's performance in three queries, whatever its history (in the store's currency)."""
    now = now or timezone.now()
    currency = settings.SHOP_CURRENCY
    active = Redemption.objects.filter(promotion=promotion, status=Redemption.Status.ACTIVE)
    paid = Q(order__status__in=PAID_STATES)
    totals = active.aggregate(
        n=Count("id"),
        discount=_money_sum("amount", currency),
        paid_orders=Count("id", filter=paid),
        revenue=_money_sum("order__total", currency, filter=paid),
    )
    end = min(promotion.ends_at or now, now)
    without = (
        Order.objects.filter(status__in=PAID_STATES, placed_at__gte=promotion.starts_at, placed_at__lt=end)
        .exclude(pk__in=active.values("order_id"))
        .aggregate(n=Count("id"), revenue=_money_sum("total", currency))
    )
    months = (
        active.annotate(month=TruncMonth("order__placed_at"))
        .values("month")
        .annotate(
            n=Count("id"),
            discount=_money_sum("amount", currency),
            revenue=_money_sum("order__total", currency, filter=paid),
        )
        .order_by("month")
    )
    revenue = from_minor_units(totals["revenue"], currency)
    revenue_without = from_minor_units(without["revenue"], currency)
    return PromotionStats(
        redemptions=totals["n"],
        discount=from_minor_units(totals["discount"], currency),
        paid_orders=totals["paid_orders"],
        revenue=revenue,
        aov_with=_average(revenue, totals["paid_orders"], currency),
        orders_without=without["n"],
        aov_without=_average(revenue_without, without["n"], currency),
        period=(promotion.starts_at, end),
        months=[
            MonthStats(
                month=timezone.localtime(row["month"]).date() if timezone.is_aware(row["month"]) else row["month"],
                redemptions=row["n"],
                discount=from_minor_units(row["discount"], currency),
                revenue=from_minor_units(row["revenue"], currency),
            )
            for row in months
        ],
    )


def promotions_summary(promotions: QuerySet[Promotion], *, now: dt.datetime | None = None) -> dict:
    """The changelist's stats line over the filtered promotions: two queries."""
    now = now or timezone.now()
    promotions = promotions.order_by()
    counts = promotions.aggregate(
        n=Count("id", distinct=True),
        running=Count("id", distinct=True, filter=running_q(now)),
    )
    currency = settings.SHOP_CURRENCY
    used = Redemption.objects.filter(promotion__in=promotions.values("pk"), status=Redemption.Status.ACTIVE).aggregate(
        n=Count("id"), discount=_money_sum("amount", currency)
    )
    return {**counts, "redemptions": used["n"], "discount": from_minor_units(used["discount"], currency)}


def running_q(now: dt.datetime) -> Q:
    """Active and inside its window."""
    return Q(is_active=True, starts_at__lte=now) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))


def codes_for_export(codes: QuerySet[DiscountCode]) -> QuerySet[DiscountCode]:
    return codes.select_related("promotion", "batch").order_by("promotion_id", "id")


# --- The admin's preview: what would this cart get? -----------------------------------------------------------


@dataclass(frozen=True)
class _PreviewLine:
    """A cart line that is never saved: what shop.cart.pricing.price_lines needs."""

    pk: int
    product: object
    quantity: int


@dataclass
class PreviewRow:
    product: object
    quantity: int
    unit_price: Decimal
    total: Decimal
    share: Decimal

    @property
    def after(self) -> Decimal:
        return self.total - self.share


@dataclass
class Preview:
    ok: bool
    message: str
    warnings: list[str]
    currency: str
    subtotal: Decimal
    discount: Decimal
    shipping_before: Decimal
    shipping_after: Decimal
    rows: list[PreviewRow]
    unavailable: list
    on_shipping: bool  # a free-shipping promotion: the discount is the shipping, not the goods
    terms: str = ""  # its offer, cap and conditions in words ("50% off, up to $60"), as customers read them

    @property
    def total_before(self) -> Decimal:
        return self.subtotal + self.shipping_before

    @property
    def total_after(self) -> Decimal:
        merchandise = self.subtotal if self.on_shipping else self.subtotal - self.discount
        return max(merchandise, ZERO) + self.shipping_after


def promotion_preview(promotion: Promotion, *, items, customer=None, now: dt.datetime | None = None) -> Preview:
    """What this promotion alone would give a cart of [(product, quantity)] for this customer.

    As if its code were on the cart. A promotion that is switched off or has not
    started yet is previewed anyway (as on its first day), with a warning: the
    admin wants to see what it will do before it goes live. Automatic promotions
    that would run alongside are left out: this is about this one.
    """
    from marketing.discounts import engine, terms
    from shop.cart.pricing import price_lines
    from shop.orders.shipping import shipping_price

    now = now or timezone.now()
    warnings = []
    if not promotion.is_active:
        warnings.append(_("It is switched off: customers get nothing until it is activated."))
        promotion = copy.copy(promotion)
        promotion.is_active = True
    if promotion.starts_at > now:
        warnings.append(
            _("It has not started yet (it starts %(date)s): previewed as on that day.")
            % {"date": formats.date_format(timezone.localtime(promotion.starts_at), "DATETIME_FORMAT")}
        )
        now = promotion.starts_at
    priced = price_lines([_PreviewLine(n, product, quantity) for n, (product, quantity) in enumerate(items, 1)])
    currency = priced.currency
    shipping_before = shipping_price("standard", priced.subtotal).amount
    verdict = engine.check(promotion, priced=priced, customer=customer, now=now)
    amount, shares = ZERO, {}
    if verdict.ok and promotion.kind == Promotion.Kind.FREE_SHIPPING:
        amount = min(shipping_before, promotion.max_discount if promotion.max_discount is not None else shipping_before)
        if amount <= 0:
            verdict = engine.refuse("no_discount", _("Shipping is already free for this cart."))
    elif verdict.ok:
        remaining = {line.line_id: line.total.amount for line in priced.lines}
        amount, shares = engine.compute(promotion, engine.eligible_lines(promotion, priced), remaining, currency)
        if amount <= 0:
            verdict = engine.refuse("no_discount", _("This code gives no discount on your cart."))
    if not verdict.ok:
        amount, shares = ZERO, {}
    if promotion.kind == Promotion.Kind.FREE_SHIPPING:
        shipping_after = shipping_before - amount
    else:
        shipping_after = shipping_price("standard", Money(max(priced.subtotal.amount - amount, ZERO), currency)).amount
    return Preview(
        ok=verdict.ok,
        message=verdict.message,
        warnings=warnings,
        currency=currency,
        subtotal=priced.subtotal.amount,
        discount=amount,
        shipping_before=shipping_before,
        shipping_after=shipping_after,
        rows=[
            PreviewRow(
                line.product, line.quantity, line.unit_price.amount, line.total.amount, shares.get(line.line_id, ZERO)
            )
            for line in priced.lines
        ],
        unavailable=[line.product for line in priced.unavailable],
        on_shipping=promotion.kind == Promotion.Kind.FREE_SHIPPING,
        terms=terms.describe(promotion, currency),
    )


def customers_who_redeemed(*, promotion_id: int | None = None):
    """The ids of customers with a redemption in force (of this promotion if named): a subquery."""
    used = Redemption.objects.filter(status=Redemption.Status.ACTIVE, customer_id__isnull=False)
    if promotion_id is not None:
        used = used.filter(promotion_id=promotion_id)
    return used.order_by().values("customer_id")


def promotion_choices() -> list[tuple[int, str]]:
    return list(Promotion.objects.order_by("-id").values_list("id", "name"))


def promotion_name(promotion_id: int | None) -> str:
    if promotion_id is None:
        return ""
    return Promotion.objects.filter(pk=promotion_id).values_list("name", flat=True).first() or ""


def promotion_is_active(promotion_id: int) -> bool:
    return Promotion.objects.filter(pk=promotion_id, is_active=True).exists()
