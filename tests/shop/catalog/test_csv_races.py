"""The product CSV import under real concurrency (PostgreSQL):
.ci/with-postgres.sh .venv/bin/pytest tests/shop/catalog/test_csv_races.py -p no:xdist --require-races
"""

import io
import threading
import time
import uuid
from decimal import Decimal

import pytest

from shop.catalog import csv_io
from shop.catalog.models import Product, Variant
from shop.orders import checkout as checkout_module
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

ADDRESS = {"name": "Ada", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}


def checkout(client):
    key = uuid.uuid4().hex
    return lambda: client.post(
        "/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def restock_file(product: Product, stocks: dict[str, int]) -> io.BytesIO:
    rows = ["sku,name,category,price,stock,variant_sku"]
    rows += [f"{product.sku},{product.name},{product.category.slug},{product.price},{n},{s}" for s, n in stocks.items()]
    return io.BytesIO("\n".join(rows).encode())


def test_an_import_in_the_middle_of_a_checkout_of_another_size_keeps_the_products_stock_the_sum(
    monkeypatch, settings, api_as, localstripe
):
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0
    tee = ProductFactory(name="Tee", sku="TEE-S", price=Decimal("20.00"), stock=50)
    small = tee.variants.get()
    Variant.objects.create(product=tee, sku="TEE-M", stock=10)
    Variant.objects.create(product=tee, sku="TEE-L", stock=5)
    Product.objects.filter(pk=tee.pk).update(stock=65)
    buyer = UserFactory()
    CartLineFactory(cart=CartFactory(user=buyer), product=tee, variant=small, quantity=2)
    taken = threading.Event()
    take_stock = checkout_module._take_stock

    def take_then_hold(lines):
        take_stock(lines)
        taken.set()
        time.sleep(1)  # the import runs now, while this checkout's transaction holds the product

    monkeypatch.setattr(checkout_module, "_take_stock", take_then_hold)

    def import_meanwhile():
        assert taken.wait(timeout=30)
        # The file names M and L only: S is the buyer's, and its stock counts in the product's.
        return csv_io.import_products(restock_file(tee, {"TEE-M": 20, "TEE-L": 7}))

    bought, imported = run_at_once([checkout(api_as(buyer)), import_meanwhile])

    assert bought.status_code == 201, bought.data
    assert imported.ok, imported.errors
    stocks = dict(Variant.objects.filter(product=tee).values_list("sku", "stock"))
    assert stocks == {"TEE-S": 48, "TEE-M": 20, "TEE-L": 7}
    tee.refresh_from_db()
    assert tee.stock == 75, "the product's stock is the sum of its variants', the sale included"
