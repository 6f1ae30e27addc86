"""The demo order history (shop/orders/demo.py), seeded once for the module through seed_demo."""

import datetime as dt
import io
import random
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from shop.catalog.demo import customer_tastes
from shop.catalog.models import Product, Variant
from shop.core.demo import DemoContext
from shop.core.money import Money
from shop.orders.demo import ORDERS_PER_SCALE, World, _insert, _leaves, order_number
from shop.orders.models import NUMBER_ALPHABET, Order, OrderAdjustment, OrderEvent, OrderLine
from shop.orders.shipping import shipping_price
from shop.payments.models import Payment, Refund

# One process seeds for the whole module (the module-scoped fixture), not each that runs some of it.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("demo-orders")]

ORDERS_SEEDER = "shop.orders.demo.seed"
PAID_FLOW = re.compile(r"placed( payment_declined)? paid( shipped( delivered)?)?( refunded| partially_refunded)?")
UNPAID_FLOW = re.compile(r"placed( payment_declined)?( cancelled| expired)?")
STATUS_AFTER = {
    "placed": "pending_payment",
    "payment_declined": "payment_failed",
    "paid": "paid",
    "shipped": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "expired": "expired",
    "refunded": "refunded",
}
TAKEN_AWAY = ["demo-3", "demo-500", "demo-1999", "demo-shopper-1"]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Order, OrderLine, OrderAdjustment, OrderEvent, Payment, Refund)}


def snapshot(keys) -> dict:
    orders = Order.objects.filter(idempotency_scope="demo", idempotency_key__in=keys).prefetch_related("lines")
    return {o.idempotency_key: (o.number, o.email, o.status, [line.sku for line in o.lines.all()]) for o in orders}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """Customers and catalog first (to see the stock before), then the orders, then again; all rolled back.

    Module-scoped fixtures run before conftest's per-test settings, so the media
    folder and the fast password hasher are set here too.
    """
    media = tmp_path_factory.mktemp("demo-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The orders seeder on its own: later seeders (discounts) rework some orders, tested in their own app.
    shop_only = [path for path in settings.DEMO_SEEDERS if path.startswith("shop.")]
    without_orders = [path for path in shop_only if path != ORDERS_SEEDER]
    with (
        override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=hashers, DEMO_SEEDERS=shop_only),
        django_db_blocker.unblock(),
    ):
        with transaction.atomic():
            with override_settings(DEMO_SEEDERS=without_orders):
                call_command("seed_demo", stdout=io.StringIO())
            stock_before = dict(Product.objects.values_list("id", "stock"))
            variant_stock_before = dict(Variant.objects.values_list("id", "stock"))
            output = io.StringIO()
            call_command("seed_demo", stdout=output)
            first = counts()
            call_command("seed_demo", stdout=io.StringIO())
            second = counts()
            # Take a few away: a rerun puts back the same ones, and only those.
            taken = snapshot(TAKEN_AWAY)
            Order.objects.filter(idempotency_scope="demo", idempotency_key__in=TAKEN_AWAY).delete()
            call_command("seed_demo", stdout=io.StringIO())
            yield {
                "first": first,
                "second": second,
                "third": counts(),
                "taken": taken,
                "back": snapshot(TAKEN_AWAY),
                "stock_before": stock_before,
                "variant_stock_before": variant_stock_before,
                "output": output.getvalue(),
            }
            transaction.set_rollback(True)


def demo_orders():
    return Order.objects.filter(idempotency_scope="demo")


def test_it_seeds_about_2000_orders_over_the_last_12_months(seeded):
    now = timezone.now()
    orders = demo_orders()
    placed = list(orders.values_list("placed_at", flat=True))

    assert ORDERS_PER_SCALE <= len(placed) <= ORDERS_PER_SCALE + 20
    assert min(placed) >= now - dt.timedelta(days=366)
    assert max(placed) <= now
    assert min(placed) <= now - dt.timedelta(days=355)
    assert len({(p.year, p.month) for p in placed}) >= 12
    assert "orders: added" in seeded["output"]


def test_it_follows_the_seasons_the_week_and_the_clock(seeded):
    """More per day in November-December than in summer, at weekends than midweek, by day than at night."""
    now = timezone.localtime()
    days = [now.date() - dt.timedelta(days=n) for n in range(366)]
    placed = [timezone.localtime(p) for p in demo_orders().values_list("placed_at", flat=True)]

    def per_day(orders_test, days_test):
        return sum(1 for p in placed if orders_test(p)) / sum(1 for d in days if days_test(d))

    holidays = per_day(lambda p: p.month in (11, 12), lambda d: d.month in (11, 12))
    summer = per_day(lambda p: p.month in (6, 7, 8), lambda d: d.month in (6, 7, 8))
    weekend = per_day(lambda p: p.weekday() >= 5, lambda d: d.weekday() >= 5)
    midweek = per_day(lambda p: p.weekday() in (1, 2), lambda d: d.weekday() in (1, 2))
    hours = Counter(p.hour for p in placed)

    assert holidays > 1.4 * summer
    assert weekend > 1.15 * midweek
    assert sum(hours[h] for h in range(10, 22)) > 6 * sum(hours[h] for h in range(1, 6))


def test_customers_come_back_on_a_long_tail(seeded):
    per_customer = Counter(demo_orders().exclude(email="shopper@example.com").values_list("user_id", flat=True))
    spread = Counter(per_customer.values())

    assert None not in per_customer  # every order belongs to a customer
    assert spread[1] >= 0.15 * len(per_customer)  # many buy once
    assert sum(n for orders, n in spread.items() if orders >= 10) >= 5  # a few buy often
    assert max(per_customer.values()) <= 60


def test_each_customers_lines_lean_to_their_tastes(seeded):
    lines = OrderLine.objects.filter(order__idempotency_scope="demo").values_list(
        "order__user_id", "order__email", "product__category__slug"
    )
    by_customer = defaultdict(list)
    for user_id, email, slug in lines:
        by_customer[(user_id, email)].append(slug)
    repeat = [(email, slugs) for (_id, email), slugs in by_customer.items() if len(slugs) >= 6]
    assert len(repeat) >= 30

    shares = []
    for email, slugs in repeat:
        tastes = {slug for slug, _weight in customer_tastes(email)}
        shares.append(sum(slug in tastes for slug in slugs) / len(slugs))
    assert sum(shares) / len(shares) > 0.75
    assert sum(share >= 0.6 for share in shares) >= 0.9 * len(shares)


def test_totals_add_up_with_lines_at_variant_prices_and_shipping_by_the_rules(seeded):
    prices = {v.pk: v.unit_price for v in Variant.objects.select_related("product")}
    for order in demo_orders().prefetch_related("lines", "adjustments"):
        lines = list(order.lines.all())
        assert 1 <= len(lines) <= 4
        assert len({line.product_id for line in lines}) == len(lines)
        for line in lines:
            assert line.quantity >= 1
            assert line.unit_price == prices[line.variant_id]
            assert line.subtotal == line.unit_price * line.quantity
        assert order.subtotal == sum(line.subtotal for line in lines)
        expected = shipping_price(order.shipping_method, Money(order.subtotal, order.currency)).amount
        assert order.shipping_total == expected
        assert [(a.kind, a.amount, a.reference) for a in order.adjustments.all()] == [
            ("shipping", expected, order.shipping_method)
        ]
        assert order.discount_total == 0
        assert order.total == order.subtotal + order.shipping_total
        assert isinstance(order.total, Decimal)
        assert 0 <= order.amount_refunded <= order.total


def test_every_order_has_a_consistent_timeline_and_paid_ones_a_payment(seeded):
    now = timezone.now()
    orders = demo_orders().prefetch_related("events", "payments", "refunds")
    for order in orders:
        events = list(order.events.all())
        kinds = " ".join(e.kind for e in events)
        times = [e.created_at for e in events]
        assert times == sorted(times), order.number
        assert times[0] == order.placed_at and times[-1] <= now
        assert events[-1].status == order.status, order.number
        for event in events:
            if event.kind in STATUS_AFTER:
                assert event.status == STATUS_AFTER[event.kind]
        payments = {p.status: p for p in order.payments.all()}
        refunded = sum((r.amount for r in order.refunds.all()), Decimal(0))
        assert refunded == order.amount_refunded

        if order.paid_at is None:
            assert UNPAID_FLOW.fullmatch(kinds), (order.number, kinds)
            assert "succeeded" not in payments
            assert order.status in ("pending_payment", "cancelled", "expired")
            continue
        assert PAID_FLOW.fullmatch(kinds), (order.number, kinds)
        assert next(e for e in events if e.kind == "paid").created_at == order.paid_at
        payment = payments["succeeded"]
        assert payment.intent_id == f"pi_demo_{order.number}"
        assert payment.amount_minor == Money(order.total, order.currency).to_minor_units()
        assert payment.currency == order.currency
        assert payment.created_at <= order.paid_at
        assert order.expires_at is None
        if "shipped" in kinds:
            shipped = next(e for e in events if e.kind == "shipped")
            assert order.carrier and order.tracking_number
            assert shipped.data == {"carrier": order.carrier, "tracking_number": order.tracking_number}
        else:
            assert not order.carrier and not order.tracking_number
        if order.status == "refunded":
            assert order.amount_refunded == order.total
            assert events[-1].kind == "refunded"
        elif order.amount_refunded:
            assert events[-1].kind == "partially_refunded"


def test_the_status_mix_is_believable(seeded):
    now = timezone.now()
    orders = demo_orders()
    total = orders.count()
    share = Counter(orders.values_list("status", flat=True))

    assert share["delivered"] > 0.8 * total
    assert 0.02 * total <= share["cancelled"] <= 0.05 * total
    assert 0.01 * total <= share["refunded"] <= 0.04 * total
    assert share["expired"] >= 5
    assert share["paid"] >= 1 and share["shipped"] >= 5
    assert orders.filter(status="delivered", amount_refunded__gt=0).count() >= 10
    assert Refund.objects.filter(order__status="refunded").count() == share["refunded"]
    # Recent orders are still on their way; old ones arrived long ago.
    assert not orders.filter(status__in=["paid", "shipped"], placed_at__lt=now - dt.timedelta(days=30)).exists()
    pending = orders.filter(status="pending_payment")
    assert 1 <= pending.count() <= 3
    for order in pending:
        assert now - dt.timedelta(hours=1) <= order.placed_at < order.expires_at
        assert not order.payments.exists()


def test_the_demo_shopper_has_past_orders_in_various_states(seeded):
    orders = demo_orders().filter(email="shopper@example.com")

    assert 5 <= orders.count() <= 8
    assert orders.values("user").distinct().count() == 1
    statuses = set(orders.values_list("status", flat=True))
    assert {"delivered", "cancelled", "refunded", "shipped"} <= statuses
    assert orders.filter(shipping_city="Brooklyn").count() == orders.count()


def test_order_numbers_are_deterministic_and_from_the_alphabet(seeded):
    numbers = list(demo_orders().values_list("number", flat=True))

    assert all(len(n) == 8 and set(n) <= set(NUMBER_ALPHABET) for n in numbers)
    assert demo_orders().get(idempotency_key="demo-42").number == order_number("demo-42")
    assert len({order_number(f"demo-{i}") for i in range(100_000)}) == 100_000


def test_running_it_again_creates_nothing(seeded):
    assert seeded["second"] == seeded["first"]


def test_a_rerun_puts_back_exactly_the_missing_orders(seeded):
    assert seeded["third"] == seeded["first"]
    assert seeded["back"] == seeded["taken"]
    assert set(seeded["taken"]) == set(TAKEN_AWAY)


def test_history_leaves_stock_alone_but_pending_orders_hold_theirs(seeded):
    before = seeded["stock_before"]
    held = Counter()
    for product_id, quantity in OrderLine.objects.filter(order__status="pending_payment").values_list(
        "product_id", "quantity"
    ):
        held[product_id] += quantity
    after = dict(Product.objects.values_list("id", "stock"))

    assert not Product.objects.filter(stock__lt=0).exists()
    assert {pid: before[pid] - stock for pid, stock in after.items() if stock != before[pid]} == dict(held)


def test_pending_orders_hold_the_stock_of_their_variants(seeded):
    before = seeded["variant_stock_before"]
    held = Counter()
    for variant_id, quantity in OrderLine.objects.filter(order__status="pending_payment").values_list(
        "variant_id", "quantity"
    ):
        held[variant_id] += quantity
    after = dict(Variant.objects.values_list("id", "stock"))

    assert held and None not in held
    assert {pk: before[pk] - stock for pk, stock in after.items() if stock != before[pk]} == dict(held)


def test_a_pending_order_of_sizes_takes_from_the_variant_and_its_product(seeded):
    """A pending order drawn from the dresses alone (every one in sizes and colours) takes what it holds
    from each line's variant and the same from the product, whose stock stays the sum of its variants'."""
    world = World.load(DemoContext())
    world.categories = {"dresses": world.categories["dresses"]}
    customer = world.customers[0]
    draft = world._build("demo-pending-9", random.Random(9), customer, timezone.now(), "pending")
    stock = {line.variant_id: Variant.objects.get(pk=line.variant_id).stock for line in draft.lines}
    product_stock = {line.product_id: Product.objects.get(pk=line.product_id).stock for line in draft.lines}

    assert _insert(world.ctx, world, [draft]) == 1

    assert draft.lines and all(line.options for line in draft.lines)
    for line in draft.lines:
        variant = Variant.objects.select_related("product").get(pk=line.variant_id)
        assert variant.stock == stock[variant.pk] - line.quantity
        assert variant.product.stock == product_stock[line.product_id] - line.quantity
        active = variant.product.variants.filter(is_active=True).aggregate(n=Sum("stock"))["n"]
        assert variant.product.stock == active


def test_some_customers_leave_for_good_and_the_rest_stay():
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    leaving = [_leaves(f"c{n}@example.net", since) for n in range(2000)]
    gone = [when for when in leaving if when is not None]
    assert 0.5 < len(gone) / len(leaving) < 0.7  # six in ten leave some day
    assert all(when >= since for when in gone)
    months = sorted((when - since).days / 30 for when in gone)
    assert 4.8 < months[len(months) // 2] < 6.3  # an exponential with a mean of 8 months: its median is 5.5
    assert _leaves("c1@example.net", since) == leaving[1]  # fixed by the email
