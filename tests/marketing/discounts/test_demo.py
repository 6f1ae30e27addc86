"""Demo promotions and their use on the demo orders (marketing/discounts/demo.py), seeded once for the module."""

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from marketing.discounts.models import CODE_ALPHABET, DiscountCode, Promotion, Redemption
from shop.core.money import Money
from shop.orders.models import Order, OrderAdjustment, OrderLine
from shop.payments.models import Payment

pytestmark = pytest.mark.django_db

SEEDER = "marketing.discounts.demo.seed"
SHARED_CODES = {"YALDA50", "WELCOME10", "FREESHIP", "MIDSEASON15", "SHOES20"}
# This seeder's adjustments; the loyalty seeder (which runs after it) also pays some orders partly with points.
SOURCES = ("discounts", "discounts-shipping")


def counts() -> dict[str, object]:
    return {
        "promotions": Promotion.objects.count(),
        "codes": DiscountCode.objects.count(),
        "redemptions": Redemption.objects.count(),
        "adjustments": OrderAdjustment.objects.count(),
        "discounted": Order.objects.filter(discount_total__gt=0).count(),
        "times_used": list(Promotion.objects.order_by("pk").values_list("times_used", flat=True)),
    }


@pytest.fixture(scope="module")
def seeded(demo_store):
    """The whole demo store once, then again (the rerun must add nothing): tests/conftest.py, shared, rolled back."""
    assert SEEDER in settings.DEMO_SEEDERS
    return {
        "first": demo_store["first"][__name__],
        "second": demo_store["second"][__name__],
        "output": demo_store["output"],
        "again": demo_store["again"],
    }


def test_it_makes_the_promotions_with_their_codes(seeded):
    assert set(DiscountCode.objects.filter(batch=None).values_list("code", flat=True)) >= SHARED_CODES
    yalda = DiscountCode.objects.get(code="YALDA50").promotion
    assert (yalda.kind, yalda.value, yalda.min_subtotal, yalda.max_discount, yalda.usage_limit) == (
        "percentage",
        Decimal("50.00"),
        Decimal("80.00"),
        Decimal("60.00"),
        500,
    )
    assert DiscountCode.objects.get(code="WELCOME10").promotion.first_order_only
    assert DiscountCode.objects.get(code="FREESHIP").promotion.kind == "free_shipping"
    dresses = Promotion.objects.get(name__icontains="dresses")
    assert not dresses.requires_code and dresses.categories.get().slug == "dresses"
    sponges = Promotion.objects.get(kind="bxgy")
    assert (sponges.buy_quantity, sponges.get_quantity, sponges.categories.get().slug) == (2, 1, "beauty-sponges")
    vip = DiscountCode.objects.filter(code__startswith="VIP-")
    assert vip.count() == 200 and set(vip.values_list("max_uses", flat=True)) == {1}
    assert all(set(code[4:]) <= set(CODE_ALPHABET) for code in vip.values_list("code", flat=True))
    now = timezone.now()
    running = Promotion.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
    assert dresses in running


def test_orders_used_them_within_their_windows(seeded):
    per_promotion = dict(
        Redemption.objects.filter(status="active").values_list("promotion__name").annotate(n=Count("id"))
    )
    for name in ("Yalda", "Welcome", "VIP", "Black Friday", "Mid-season", "Free shipping"):
        assert any(key.startswith(name) and n >= 3 for key, n in per_promotion.items()), name
    assert Redemption.objects.filter(status="released").exists()  # cancelled checkouts gave theirs back
    demo = Order.objects.filter(idempotency_scope="demo").count()
    assert 0.04 * demo <= Redemption.objects.count() <= 0.25 * demo
    for r in Redemption.objects.select_related("promotion", "order"):
        assert r.promotion.starts_at <= r.order.placed_at
        assert r.promotion.ends_at is None or r.order.placed_at < r.promotion.ends_at
        assert r.created_at == r.order.placed_at
        assert r.order.status not in ("refunded", "pending_payment") and r.order.amount_refunded == 0
        assert r.status == ("released" if r.order.status in ("cancelled", "expired") else "active")
    assert "orders newly used a promotion" in seeded["output"]


def test_every_discounted_order_adds_up(seeded):
    redemptions = {(r.order_id, r.promotion_id): r for r in Redemption.objects.select_related("code")}
    orders = Order.objects.filter(adjustments__source__in=SOURCES).distinct()
    orders = orders.prefetch_related("lines", "adjustments", "payments", "refunds")
    assert orders.count() == len(redemptions)
    for order in orders:
        discounts = [a for a in order.adjustments.all() if a.source in SOURCES]
        assert all(a.kind == "discount" for a in discounts)
        points = -sum(a.amount for a in order.adjustments.all() if a.kind == "points")
        on_lines = -sum(a.amount for a in discounts if a.source == "discounts")
        assert sum(line.discount for line in order.lines.all()) == on_lines + points, order.number
        assert all(0 <= line.discount <= line.subtotal for line in order.lines.all())
        assert order.discount_total - points == -sum(a.amount for a in discounts) > 0
        assert order.total == order.subtotal + order.shipping_total - order.discount_total >= 0
        for payment in order.payments.all():
            assert payment.amount_minor == Money(order.total, order.currency).to_minor_units(), order.number
        assert sum(r.amount for r in order.refunds.all()) == order.amount_refunded <= order.total
        for adjustment in discounts:
            promotion_id, code = adjustment.reference.split("|")
            redemption = redemptions[(order.pk, int(promotion_id))]
            assert redemption.amount == -adjustment.amount
            assert (redemption.code.code if redemption.code else "") == code
            assert redemption.customer_id == order.user_id


def test_orders_without_a_promotion_are_untouched(seeded):
    plain = Order.objects.filter(idempotency_scope="demo").exclude(adjustments__source__in=SOURCES)
    # Some were paid partly with points (loyalty/demo/): their discounts are the points' alone.
    points = dict(OrderAdjustment.objects.filter(order__in=plain, kind="points").values_list("order_id", "amount"))
    assert not plain.exclude(pk__in=list(points)).filter(discount_total__gt=0).exists()
    assert not OrderLine.objects.filter(order__in=plain, discount__gt=0).exclude(order__in=list(points)).exists()
    on_lines = OrderLine.objects.filter(order__in=list(points)).values_list("order_id").annotate(n=Sum("discount"))
    assert dict(on_lines) == {pk: -amount for pk, amount in points.items()}
    for pk, discount_total in plain.filter(pk__in=list(points)).values_list("pk", "discount_total"):
        assert discount_total == -points[pk]
    for total, minor in Payment.objects.filter(order__in=plain, status="succeeded").values_list(
        "order__total", "amount_minor"
    )[:500]:
        assert Money(total, "USD").to_minor_units() == minor


def test_usage_counters_match_the_active_redemptions(seeded):
    active = Redemption.objects.filter(status="active")
    per_promotion = Counter(dict(active.values_list("promotion_id").annotate(n=Count("id"))))
    per_code = Counter(dict(active.values_list("code_id").annotate(n=Count("id"))))
    for promotion in Promotion.objects.all():
        assert promotion.times_used == per_promotion[promotion.pk], promotion.name
        assert promotion.usage_limit is None or promotion.times_used <= promotion.usage_limit
    for code in DiscountCode.objects.all():
        assert code.times_used == per_code[code.pk], code.code
    per_customer = defaultdict(int)
    for customer_id in active.filter(promotion__first_order_only=True).values_list("customer_id", flat=True):
        per_customer[customer_id] += 1
    assert per_customer and max(per_customer.values()) == 1


def test_running_it_again_adds_nothing(seeded):
    assert seeded["second"] == seeded["first"]
    assert "promotions: 0 orders newly used a promotion" in seeded["again"]
