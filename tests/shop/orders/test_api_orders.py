"""GET /api/v1/orders/ and /api/v1/orders/<number>/: the owner, a guest by cart token, nobody else."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from shop.orders.models import EventKind, Order, OrderLine
from shop.orders.services import order_event
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


def make_order(user=None, cart_token=None, lines=2) -> Order:
    """An order as checkout writes it (lines with products, a 'placed' event), without the Stripe round trip."""
    order = Order.objects.create(
        user=user,
        email=user.email if user else "guest@example.org",
        currency="USD",
        subtotal=Decimal("20.00") * lines,
        shipping_total=Decimal("5.00"),
        total=Decimal("20.00") * lines + Decimal("5.00"),
        shipping_method="standard",
        shipping_name="Ada",
        shipping_line1="1 Row",
        shipping_city="London",
        shipping_postal_code="N1",
        shipping_country="GB",
        idempotency_scope=f"user:{user.pk}" if user else f"cart:{cart_token}",
        cart_token=cart_token,
        placed_at=timezone.now(),
    )
    for _ in range(lines):
        product = ProductFactory(price=Decimal("20.00"))
        OrderLine.objects.create(
            order=order,
            product=product,
            sku=product.sku,
            name=product.name,
            unit_price=product.price,
            quantity=1,
            subtotal=product.price,
        )
    order_event(order=order, kind=EventKind.PLACED)
    return order


def test_the_owner_lists_their_orders_newest_first(api_as, customer, stranger):
    older = make_order(customer)
    newer = make_order(customer)
    make_order(stranger)
    make_order(cart_token=uuid.uuid4())

    response = api_as(customer).get("/api/v1/orders/")

    assert response.status_code == 200
    assert response.data["count"] == 2
    assert [o["number"] for o in response.data["results"]] == [newer.number, older.number]
    first = response.data["results"][0]
    assert first["status"] == "pending_payment"
    assert first["total"] == "45.00"
    assert first["currency"] == "USD"
    assert len(first["lines"]) == 2
    assert first["lines"][0]["product"]


def test_the_owner_sees_the_detail_with_its_timeline_but_not_internal_notes(api_as, customer):
    order = make_order(customer)
    order_event(order=order, kind=EventKind.NOTE, message="Staff only: customer called")
    order.status = "paid"
    order.save()
    order_event(order=order, kind=EventKind.PAID)

    response = api_as(customer).get(f"/api/v1/orders/{order.number}/")

    assert response.status_code == 200
    assert response.data["number"] == order.number
    assert response.data["status"] == "paid"
    assert [e["kind"] for e in response.data["timeline"]] == ["placed", "paid"]
    assert response.data["timeline"][1]["label"] == "Payment received"
    assert "Staff only" not in str(response.data)
    assert response.data["shipping_address"]["city"] == "London"


def test_the_list_needs_a_login(api):
    make_order(cart_token=uuid.uuid4())

    response = api.get("/api/v1/orders/")

    assert response.status_code == 401


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_others_get_404_on_the_owners_order(api_as, customer, request, persona):
    order = make_order(customer)
    other = request.getfixturevalue(persona)

    detail = api_as(other).get(f"/api/v1/orders/{order.number}/")
    listing = api_as(other).get("/api/v1/orders/")
    pay = api_as(other).post(f"/api/v1/orders/{order.number}/pay/", {"payment_method": "pm_card_visa"}, format="json")

    assert detail.status_code == 404
    assert order.number not in str(detail.data)
    assert listing.data["count"] == 0
    assert pay.status_code == 404
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_an_unknown_number_is_404(api_as, customer):
    response = api_as(customer).get("/api/v1/orders/NOPE2345/")

    assert response.status_code == 404


def test_a_guest_sees_their_order_only_with_the_same_cart_token(api):
    token = uuid.uuid4()
    order = make_order(cart_token=token)

    mine = api.get(f"/api/v1/orders/{order.number}/", HTTP_X_CART_TOKEN=str(token))
    no_token = APIClient().get(f"/api/v1/orders/{order.number}/")
    other_token = APIClient().get(f"/api/v1/orders/{order.number}/", HTTP_X_CART_TOKEN=str(uuid.uuid4()))
    junk_token = APIClient().get(f"/api/v1/orders/{order.number}/", HTTP_X_CART_TOKEN="not-a-uuid")

    assert mine.status_code == 200
    assert mine.data["number"] == order.number
    assert [e["kind"] for e in mine.data["timeline"]] == ["placed"]
    assert (no_token.status_code, other_token.status_code, junk_token.status_code) == (404, 404, 404)


def test_a_customers_order_is_not_visible_by_a_cart_token(api, customer):
    token = uuid.uuid4()
    order = make_order(customer, cart_token=token)

    response = api.get(f"/api/v1/orders/{order.number}/", HTTP_X_CART_TOKEN=str(token))

    assert response.status_code == 404


def test_a_guest_follows_an_order_placed_at_checkout(api, localstripe, django_capture_on_commit_callbacks):
    product = ProductFactory(price=Decimal("30.00"), stock=3)
    token = api.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 1}, format="json").data["token"]
    with django_capture_on_commit_callbacks(execute=True):
        placed = api.post(
            "/api/v1/checkout/",
            {"email": "ada@example.org", "shipping_address": ADDRESS, "payment_method": "pm_card_visa"},
            format="json",
            HTTP_X_CART_TOKEN=token,
            HTTP_IDEMPOTENCY_KEY="k",
        )
    number = placed.data["number"]

    response = APIClient().get(f"/api/v1/orders/{number}/", HTTP_X_CART_TOKEN=token)
    stranger = APIClient().get(f"/api/v1/orders/{number}/")

    assert response.status_code == 200
    assert response.data["status"] == "paid"
    assert [e["kind"] for e in response.data["timeline"]] == ["placed", "paid"]
    assert stranger.status_code == 404


def _count_list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/orders/")
    assert response.status_code == 200
    return len(queries)


def test_the_list_costs_the_same_number_of_queries_for_2_or_12_orders(api_as, customer):
    client = api_as(customer)
    for _ in range(2):
        make_order(customer, lines=3)
    two = _count_list_queries(client)
    for _ in range(10):
        make_order(customer, lines=3)

    twelve = _count_list_queries(client)

    assert client.get("/api/v1/orders/").data["count"] == 12
    assert twelve == two


def test_the_detail_costs_the_same_number_of_queries_for_2_or_12_lines(api_as, customer):
    client = api_as(customer)
    small = make_order(customer, lines=2)
    big = make_order(customer, lines=12)

    def count(order):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/orders/{order.number}/").status_code == 200
        return len(queries)

    assert count(small) == count(big)


# POST /api/v1/orders/<number>/cancel/: the owner gives up an unpaid order


def _stock(order) -> list[int]:
    return [line.product.stock for line in order.lines.select_related("product").order_by("pk")]


def test_the_owner_cancels_an_unpaid_order_and_its_stock_comes_back(api_as, customer):
    order = make_order(user=customer)
    before = _stock(order)

    response = api_as(customer).post(f"/api/v1/orders/{order.number}/cancel/")

    assert response.status_code == 200, response.data
    assert response.data["status"] == "cancelled"
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert _stock(order) == [n + 1 for n in before]
    assert "Cancelled by the customer." in [e["message"] for e in response.data["timeline"]]


def test_a_guest_cancels_with_the_cart_token_that_placed_it(api):
    token = uuid.uuid4().hex
    order = make_order(cart_token=token)

    assert api.post(f"/api/v1/orders/{order.number}/cancel/").status_code == 404
    response = api.post(f"/api/v1/orders/{order.number}/cancel/", HTTP_X_CART_TOKEN=token)

    assert response.status_code == 200, response.data
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_a_stranger_cannot_cancel_the_owners_order(api_as, customer, stranger):
    order = make_order(user=customer)

    response = api_as(stranger).post(f"/api/v1/orders/{order.number}/cancel/")

    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_a_paid_order_is_not_cancelled_here(api_as, customer):
    order = make_order(user=customer)
    Order.objects.filter(pk=order.pk).update(status="paid")

    response = api_as(customer).post(f"/api/v1/orders/{order.number}/cancel/")

    assert response.status_code == 409
    assert response.data["code"] == "conflict"
    assert "can no longer be cancelled" in response.data["detail"]
    order.refresh_from_db()
    assert order.status == "paid"
