"""Checkout of variants under real concurrency (PostgreSQL):
.ci/with-postgres.sh .venv/bin/pytest tests/shop/orders/test_variant_races.py -p no:xdist --require-races
"""

import uuid
from collections import Counter
from decimal import Decimal

import pytest

from shop.catalog.models import Product, Variant
from shop.orders.models import Order
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

ADDRESS = {"name": "Ada", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"}


def checkout(client):
    key = uuid.uuid4().hex
    return lambda: client.post(
        "/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_20_buyers_for_5_of_one_size_make_5_orders_while_another_size_sells_freely(settings, api_as, localstripe):
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0  # the buyers share this test's address: a race for stock only
    shoe = ProductFactory(name="Runner", sku="RUN-42", price=Decimal("80.00"), stock=5)
    size_42 = shoe.variants.get()
    size_43 = Variant.objects.create(product=shoe, sku="RUN-43", stock=100)
    Product.objects.filter(pk=shoe.pk).update(stock=105)
    scarce = [UserFactory() for _ in range(20)]
    free = [UserFactory() for _ in range(10)]
    for buyer in scarce:
        CartLineFactory(cart=CartFactory(user=buyer), product=shoe, variant=size_42, quantity=1)
    for buyer in free:
        CartLineFactory(cart=CartFactory(user=buyer), product=shoe, variant=size_43, quantity=2)

    responses = run_at_once([checkout(api_as(buyer)) for buyer in scarce + free])

    codes = Counter(r.status_code for r in responses[:20])
    assert codes == {201: 5, 409: 15}, {code: [r.data for r in responses if r.status_code == code] for code in codes}
    assert [r.status_code for r in responses[20:]] == [201] * 10, "the other size is not held up by the scarce one"
    size_42.refresh_from_db(), size_43.refresh_from_db(), shoe.refresh_from_db()
    assert (size_42.stock, size_43.stock) == (0, 80)
    assert shoe.stock == 80, "the product's stock is still the sum of its variants'"
    assert Order.objects.count() == 15
    assert sorted(Order.objects.values_list("lines__sku", flat=True)) == ["RUN-42"] * 5 + ["RUN-43"] * 10
