"""Checkout under real concurrency: threads, each on its own database connection, released at once.

Marked `race`: skipped on SQLite, which serialises transactions; CI runs them on PostgreSQL:
    .ci/with-postgres.sh .venv/bin/pytest tests/shop/orders/test_races.py -p no:xdist --require-races
"""

import uuid
from collections import Counter
from decimal import Decimal

import pytest

from shop.cart.models import CartLine
from shop.catalog.models import Product
from shop.orders.models import Order
from shop.payments.models import Payment
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


def checkout(client, key):
    return lambda: client.post(
        "/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_20_buyers_for_5_lamps_make_exactly_5_orders(settings, api_as, localstripe):
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0  # the 20 buyers share this test's address: a race for stock only
    lamp = ProductFactory(name="Brass Lamp", price=Decimal("30.00"), stock=5)
    buyers = [UserFactory() for _ in range(20)]
    for buyer in buyers:
        CartLineFactory(cart=CartFactory(user=buyer), product=lamp, quantity=1)
    clients = [api_as(buyer) for buyer in buyers]

    responses = run_at_once([checkout(client, uuid.uuid4().hex) for client in clients])

    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 5, 409: 15}, {code: [r.data for r in responses if r.status_code == code] for code in codes}
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.data["code"] == "insufficient_stock"
        assert refused.data["detail"] == "“Brass Lamp” just sold out. Remove it from your cart to continue."
    lamp.refresh_from_db()
    assert lamp.stock == 0
    assert Order.objects.count() == 5
    winners = {r.data["number"] for r in responses if r.status_code == 201}
    assert set(Order.objects.values_list("number", flat=True)) == winners
    assert Payment.objects.count() == 5, "one PaymentIntent per order"
    assert CartLine.objects.count() == 15, "the refused buyers keep their carts"
    assert sorted(Order.objects.values_list("user_id", flat=True)) == sorted(
        r.wsgi_request.user.pk for r in responses if r.status_code == 201
    )


def test_one_idempotency_key_sent_5_times_at_once_makes_one_order_and_one_payment(api_as, customer, localstripe):
    lamp = ProductFactory(price=Decimal("30.00"), stock=10)
    CartLineFactory(cart=CartFactory(user=customer), product=lamp, quantity=2)
    key = uuid.uuid4().hex

    responses = run_at_once([checkout(api_as(customer), key) for _ in range(5)])

    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 200, 200, 201], [r.data for r in responses]
    order = Order.objects.get()
    assert {r.data["number"] for r in responses} == {order.number}
    assert Payment.objects.filter(order=order).count() == 1
    assert {r.data["payment"]["intent_id"] for r in responses} == {order.payments.get().intent_id}
    assert Product.objects.get(pk=lamp.pk).stock == 8, "the stock was taken once"
    assert not CartLine.objects.exists()


def test_one_cart_checked_out_from_two_tabs_at_once_makes_one_order(api_as, customer, localstripe):
    """Two keys (two tabs), one cart: the second waits for the first, then finds the cart empty."""
    lamp = ProductFactory(price=Decimal("30.00"), stock=10)
    vase = ProductFactory(price=Decimal("20.00"), stock=10)
    cart = CartFactory(user=customer)
    CartLineFactory(cart=cart, product=lamp, quantity=1)
    CartLineFactory(cart=cart, product=vase, quantity=2)

    responses = run_at_once([checkout(api_as(customer), uuid.uuid4().hex) for _ in range(4)])

    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 400, 400, 400], [r.data for r in responses]
    assert {r.data["code"] for r in responses if r.status_code == 400} == {"empty_cart"}
    order = Order.objects.get()
    assert [(line.product_id, line.quantity) for line in order.lines.order_by("product_id")] == [
        (lamp.pk, 1),
        (vase.pk, 2),
    ]
    assert Product.objects.get(pk=lamp.pk).stock == 9 and Product.objects.get(pk=vase.pk).stock == 8
    assert not CartLine.objects.exists()
