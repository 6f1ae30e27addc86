"""The open-orders limit under real concurrency: threads, each on its own connection, released at once.

It proves the lock only on PostgreSQL (SQLite serialises every checkout):
    PGPORT_TEST=5439 .ci/with-postgres.sh .venv/bin/pytest tests/shop/orders/test_hoarding_races.py -p no:xdist
"""

from decimal import Decimal

import pytest
from django.db import connection

from shop.catalog.models import Product
from shop.orders.checkout import ShippingAddress, TooManyOpenOrders, checkout_place
from shop.orders.models import Order
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

SQLITE = "SQLite serialises every checkout transaction, so this race proves nothing there: run it on PostgreSQL"
ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")


def _carts_of_their_own_products(n: int) -> list:
    """Guest carts with a product each: no row lock they share queues them, only the limit's own lock."""
    carts = [CartFactory(user=None) for _ in range(n)]
    for cart in carts:
        CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("30.00"), stock=100), quantity=1)
    return carts


def test_two_checkouts_at_once_with_one_email_do_not_both_pass_a_limit_of_1(settings):
    if connection.vendor != "postgresql":
        pytest.skip(SQLITE)
    settings.SHOP_MAX_OPEN_ORDERS = 1
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0
    carts = _carts_of_their_own_products(6)

    def attempt(cart, email):
        return lambda: checkout_place(
            cart=cart, user=None, email=email, address=ADDRESS, shipping_method="standard", client=""
        )

    results = run_at_once(
        [attempt(cart, email) for cart, email in zip(carts, ["ada@example.org", "ADA@example.org"] * 3, strict=True)],
        exceptions_allowed=True,
    )

    placed = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, TooManyOpenOrders)]
    assert (len(placed), len(refused)) == (1, 5), results
    assert Order.objects.count() == 1
    assert sorted(Product.objects.values_list("stock", flat=True)) == [99, 100, 100, 100, 100, 100]


def test_four_checkouts_at_once_from_one_client_do_not_pass_a_limit_of_2(settings):
    if connection.vendor != "postgresql":
        pytest.skip(SQLITE)
    settings.SHOP_MAX_OPEN_ORDERS = 0
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 2
    carts = _carts_of_their_own_products(4)

    results = run_at_once(
        [
            lambda cart=cart, n=n: checkout_place(
                cart=cart,
                user=None,
                email=f"guest{n}@example.org",
                address=ADDRESS,
                shipping_method="standard",
                client="203.0.113.7",
            )
            for n, cart in enumerate(carts)
        ],
        exceptions_allowed=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["TooManyOpenOrders", "TooManyOpenOrders", "tuple", "tuple"]
    assert Order.objects.count() == 2
