"""The demo's year of visits (marketing/analytics/demo.py): consistent with its orders, believable rates."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Subquery
from django.test import override_settings

from marketing.analytics import dashboards, reports, rollups
from marketing.analytics.models import BuiltDay, Event, OrderVisit
from shop.orders.models import Order, OrderLine

# One process seeds for the whole module (the module-scoped fixture), not each that runs some of it.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("demo-visits")]
SEEDER = "marketing.analytics.demo.seed"


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """The shop's demo and the visits, then the visits again (nothing new); all rolled back."""
    media = tmp_path_factory.mktemp("demo-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    seeders = [path for path in settings.DEMO_SEEDERS if path.startswith("shop.")] + [SEEDER]
    with (
        override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=hashers, CACHES=caches, DEMO_SEEDERS=seeders),
        django_db_blocker.unblock(),
    ):
        with transaction.atomic():
            output = io.StringIO()
            call_command("seed_demo", stdout=output)
            first = Event.objects.count()
            call_command("seed_demo", stdout=io.StringIO())
            yield {"output": output.getvalue(), "first": first, "second": Event.objects.count()}
            transaction.set_rollback(True)


def test_it_runs_last_and_only_once(seeded):
    assert settings.DEMO_SEEDERS[-1] == SEEDER
    assert seeded["first"] == seeded["second"] > 100_000
    assert "visits: already there" not in seeded["output"]


def test_every_order_has_the_visit_that_placed_it_and_every_payment_its_purchase(seeded):
    orders = Order.objects.count()
    assert OrderVisit.objects.count() == orders
    assert Event.objects.filter(name="place_order").count() == orders
    paid = Order.objects.exclude(paid_at=None)
    purchases = dict(Event.objects.filter(name="purchase").values_list("order_id", "at"))
    assert purchases == dict(paid.values_list("id", "paid_at"))
    came = dict(OrderVisit.objects.values_list("order_id", "visit"))
    assert all(v == came[o] for o, v in Event.objects.filter(name="purchase").values_list("order_id", "visit"))


def test_its_rates_are_believable_and_its_figures_are_built(seeded):
    yesterday = rollups.today() - dt.timedelta(days=1)
    first = Event.objects.order_by("day").values_list("day", flat=True).first()
    assert BuiltDay.objects.filter(day__lte=yesterday).count() == (yesterday - first).days + 1
    funnel = dashboards.funnel(reports.period(str(yesterday - dt.timedelta(days=364)), str(yesterday)), "none")
    assert 0.02 < funnel["conversion"] < 0.045  # a store converts a few percent of its visits
    assert 0.6 < funnel["abandonment"] < 0.85  # most carts are abandoned
    steps = [s["value"] for s in funnel["steps"]]
    assert steps == sorted(steps, reverse=True)
    devices = {row["key"]: row["conversion"] for row in funnel["by_device"]}
    assert devices["desktop"] > devices["mobile"]  # phones browse more and buy less


def test_a_buyers_cart_additions_are_at_the_price_of_the_variant_bought(seeded):
    """A king-size duvet cover costs more than its product's price (the single's): the visit adds it at that."""
    lines = OrderLine.objects.filter(variant__price__isnull=False, order__idempotency_scope="demo")
    added = {
        (visit_order, product_id): value
        for visit_order, product_id, value in Event.objects.filter(name="add_to_cart", visit__in=Subquery(
            OrderVisit.objects.filter(order__in=lines.values("order")).values("visit")
        )).values_list("visit", "product_id", "value")
    }  # fmt: skip
    visits = dict(OrderVisit.objects.filter(order__in=lines.values("order")).values_list("order_id", "visit"))

    assert lines.exists()
    for line in lines.select_related("product"):
        assert line.unit_price > line.product.price
        assert added[(visits[line.order_id], line.product_id)] == line.unit_price * line.quantity
