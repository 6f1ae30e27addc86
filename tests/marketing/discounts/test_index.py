"""The promotions index is read once per change, and a change shows on the very next cart.

Each process keeps the active promotions and their scope (marketing/discounts/index.py)
under a version in the shared cache. These tests change promotions every way staff and
the store do (save, scope edits, bulk updates, deletes, a category renamed) and check
that the next pricing sees it, and that what is per customer or per order is never
shared between customers.
"""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketing.discounts import index
from marketing.discounts.models import Promotion
from shop.cart.pricing import price_cart
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.marketing.discounts.test_engine import cart_of

pytestmark = pytest.mark.django_db

D = Decimal


def promotion(**fields) -> Promotion:
    related = {name: fields.pop(name) for name in ("categories", "products", "customers") if name in fields}
    made = Promotion.objects.create(requires_code=False, kind=Promotion.Kind.PERCENTAGE, **fields)
    for name, rows in related.items():
        getattr(made, name).set(rows)
    return made


def discounts(cart, customer=None) -> dict:
    cart = type(cart).objects.prefetch_related("lines__product__category").get(pk=cart.pk)
    priced = price_cart(cart, customer=customer)
    return {a.label: a.amount.amount for a in priced.adjustments if a.source == "discounts"}


@pytest.fixture
def pan():
    return ProductFactory(price=D("50.00"), stock=100, category=CategoryFactory(slug="kitchen", name="Kitchen"))


def test_the_index_is_read_once_then_no_promotion_is_read_per_cart(pan):
    cart = cart_of(None, (pan, 1))
    for n in range(20):
        promotion(name=f"Ten {n}", value=D("1"))
    discounts(cart)  # reads the index

    with CaptureQueriesContext(connection) as queries:
        found = discounts(cart)

    assert len(found) == 20
    assert not [q for q in queries.captured_queries if 'FROM "discounts_promotion' in q["sql"]]


def test_a_new_promotion_applies_on_the_next_cart(pan):
    cart = cart_of(None, (pan, 1))
    assert discounts(cart) == {}

    promotion(name="Ten", value=D("10"))

    assert discounts(cart) == {"Ten": D("-5.00")}


def test_a_scope_edit_shows_at_once(pan):
    other = ProductFactory(price=D("10.00"), stock=5)
    cart = cart_of(None, (pan, 1))
    offer = promotion(name="Other", value=D("10"), scope=Promotion.Scope.PRODUCTS, products=[other])
    assert discounts(cart) == {}

    offer.products.add(pan)

    assert discounts(cart) == {"Other": D("-5.00")}


def test_a_bulk_update_and_a_bulk_delete_show_at_once(pan):
    cart = cart_of(None, (pan, 1))
    offer = promotion(name="Ten", value=D("10"))
    assert discounts(cart) == {"Ten": D("-5.00")}

    Promotion.objects.filter(pk=offer.pk).update(value=D("20"))
    assert discounts(cart) == {"Ten": D("-10.00")}

    Promotion.objects.filter(pk=offer.pk).update(is_active=False)
    assert discounts(cart) == {}

    Promotion.objects.filter(pk=offer.pk).update(is_active=True)
    assert discounts(cart) == {"Ten": D("-10.00")}
    Promotion.objects.filter(pk=offer.pk).delete()
    assert discounts(cart) == {}


def test_counting_a_use_does_not_rebuild_the_index_but_the_limit_is_seen_at_once(pan):
    cart = cart_of(None, (pan, 1))
    offer = promotion(name="Ten", value=D("10"), usage_limit=1)
    assert discounts(cart) == {"Ten": D("-5.00")}
    before = index.version()

    Promotion.objects.filter(pk=offer.pk).update(times_used=1)  # as a checkout claims it

    assert index.version() == before
    assert discounts(cart) == {}


def test_a_category_renamed_keeps_its_promotions(pan):
    cart = cart_of(None, (pan, 1))
    promotion(name="Kitchen week", value=D("10"), scope=Promotion.Scope.CATEGORIES, categories=[pan.category])
    assert discounts(cart) == {"Kitchen week": D("-5.00")}

    pan.category.slug = "cookware"
    pan.category.save()

    assert discounts(cart) == {"Kitchen week": D("-5.00")}


def test_an_ended_promotion_stops_without_any_write(pan):
    cart = cart_of(None, (pan, 1))
    promotion(name="Flash", value=D("10"), ends_at=timezone.now() + dt.timedelta(seconds=2))
    assert discounts(cart) == {"Flash": D("-5.00")}

    later = timezone.now() + dt.timedelta(seconds=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert discounts(cart) == {}


def test_one_customers_facts_never_reach_another(pan):
    chosen, other = UserFactory(), UserFactory()
    promotion(name="Chosen", value=D("10"), customers=[chosen])
    promotion(name="Once each", value=D("1"), usage_limit_per_customer=1)

    assert set(discounts(cart_of(chosen, (pan, 1)), chosen)) == {"Chosen", "Once each"}
    assert set(discounts(cart_of(other, (pan, 1)), other)) == {"Once each"}
    assert discounts(cart_of(None, (pan, 1))) == {}  # both need a login


def test_without_a_shared_cache_every_cart_reads_afresh(pan, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    cart = cart_of(None, (pan, 1))
    promotion(name="Ten", value=D("10"))

    assert discounts(cart) == {"Ten": D("-5.00")}
    Promotion.objects.update(value=D("20"))
    assert discounts(cart) == {"Ten": D("-10.00")}
