"""Order lines through the API show the variant bought: its SKU and its options as they were."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from shop.cart.models import Cart
from shop.catalog.models import AttributeValue, Variant
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order, OrderStatus
from tests.api.conformance import assert_conforms
from tests.factories import CartFactory, CartLineFactory, ProductFactory
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


def test_a_guest_buys_a_size_and_colour_through_the_api_and_the_order_shows_them(localstripe):
    tee = with_variants(slug="tee", name="Tee", price=Decimal("20.00"), prices={("L", "Red"): Decimal("24.00")})
    lamp = ProductFactory(slug="lamp", sku="LAMP-1", price=Decimal("30.00"))
    large_red = variant(tee, "L", "Red")
    api = APIClient()
    token = api.post("/api/v1/cart/items/", {"variant": large_red.pk, "quantity": 2}, format="json").json()["token"]
    api.credentials(HTTP_X_CART_TOKEN=token)
    assert api.post("/api/v1/cart/items/", {"product": "lamp"}, format="json").status_code == 201

    placed = api.post(
        "/api/v1/checkout/",
        {"email": "ada@example.org", "shipping_address": ADDRESS},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )

    assert placed.status_code == 201, placed.content
    shown = assert_conforms(api.get(f"/api/v1/orders/{placed.json()['number']}/")).json()
    for body in (placed.json(), shown):
        lines = {line["sku"]: line for line in body["lines"]}
        assert set(lines) == {large_red.sku, "LAMP-1"}
        assert lines[large_red.sku]["options"] == {"Size": "L", "Colour": "Red"}
        assert lines[large_red.sku]["variant"] == large_red.pk
        assert (lines[large_red.sku]["unit_price"], lines[large_red.sku]["quantity"]) == ("24.00", 2)
        assert (lines["LAMP-1"]["options"], lines["LAMP-1"]["variant"]) == ({}, lamp.variants.get().pk)


def place(user, *variants):
    cart = Cart.objects.filter(user=user).first() or CartFactory(user=user)  # one cart each, emptied by checkout
    for v in variants:
        CartLineFactory(cart=cart, product=v.product, variant=v, quantity=1)
    address = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")
    order, _created = checkout_place(
        cart=cart, user=user, email=user.email, address=address, shipping_method="standard"
    )
    return order


def test_an_order_line_keeps_the_options_as_bought(api_as, customer):
    tee = with_variants()
    small_blue = variant(tee, "S", "Blue")
    order = place(customer, small_blue)
    # Staff rename the value, then the variant goes.
    AttributeValue.objects.filter(attribute__slug="colour", slug="blue").update(name="Navy")
    Variant.objects.filter(pk=small_blue.pk).delete()

    body = assert_conforms(api_as(customer).get(f"/api/v1/orders/{order.number}/")).json()

    line = body["lines"][0]
    assert (line["sku"], line["options"], line["variant"]) == (small_blue.sku, {"Size": "S", "Colour": "Blue"}, None)


def paid_order(user, *variants) -> Order:
    """An order as checkout writes it, marked paid (a customer may have only a few unpaid ones)."""
    order = place(user, *variants)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)
    return order


def test_the_orders_list_shows_variant_lines_in_a_constant_number_of_queries(api_as, customer):
    client = api_as(customer)
    tee = with_variants(stock=50)

    def count() -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/orders/")
        assert response.status_code == 200
        return len(queries), assert_conforms(response).json()

    paid_order(customer, variant(tee, "S", "Red"))
    one, _body = count()
    for _ in range(5):
        paid_order(customer, variant(tee, "S", "Red"), variant(tee, "M", "Blue"), variant(tee, "L", "Red"))
    six, body = count()

    assert body["count"] == 6
    assert {line["options"]["Size"] for order in body["results"] for line in order["lines"]} == {"S", "M", "L"}
    assert one == six
