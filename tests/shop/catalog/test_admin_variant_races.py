"""The admin's stock writes against a checkout, under real concurrency (PostgreSQL):
.ci/with-postgres.sh .venv/bin/pytest tests/shop/catalog/test_admin_variant_races.py -p no:xdist --require-races
"""

import threading
import time
import uuid
from decimal import Decimal

import pytest

from shop.catalog import services
from shop.catalog.models import Product, Variant
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

ADDRESS = {"name": "Ada", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}


def test_a_checkout_in_the_middle_of_a_bulk_set_stock_waits_and_the_sum_holds(
    settings, api_as, localstripe, monkeypatch
):
    """The set stock has written the variants and not yet their product's sum when a checkout comes: the
    checkout waits for it (the product is locked first, as checkout locks it), then sells from the new stock.
    Without the locks taken up front the two would deadlock (variant rows held by one, the product by the other)."""
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0
    shoe = ProductFactory(name="Runner", sku="RUN-42", price=Decimal("80.00"), stock=50)
    size_42 = shoe.variants.get()
    size_43 = Variant.objects.create(product=shoe, sku="RUN-43", stock=50)
    Product.objects.filter(pk=shoe.pk).update(stock=100)
    buyer = UserFactory()
    CartLineFactory(cart=CartFactory(user=buyer), product=shoe, variant=size_42, quantity=1)
    client = api_as(buyer)

    halfway = threading.Event()
    sum_stock = services._sum_stock

    def slow_sum(product_ids):
        halfway.set()
        time.sleep(1.5)  # the checkout starts meanwhile
        return sum_stock(product_ids)

    monkeypatch.setattr(services, "_sum_stock", slow_sum)

    def checkout():
        assert halfway.wait(timeout=30)
        key = uuid.uuid4().hex
        return client.post("/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    set_stock, response = run_at_once([lambda: services.products_set_stock(product_ids=[shoe.pk], stock=20), checkout])

    assert set_stock == 1
    assert response.status_code == 201, response.data
    size_42.refresh_from_db(), size_43.refresh_from_db(), shoe.refresh_from_db()
    assert (size_42.stock, size_43.stock) == (19, 20), "sold from the stock as set"
    assert shoe.stock == 39, "the product's stock is the sum of its variants'"
