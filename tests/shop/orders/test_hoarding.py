"""Limits against stock hoarding: open unpaid orders per customer, email and client; a checkout throttle;
a shopper cancelling their own unpaid order.

The race between two checkouts is in test_hoarding_races.py (it needs PostgreSQL).
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from shop.cart.models import Cart, CartLine
from shop.orders import services
from shop.orders.checkout import (
    CheckoutThrottled,
    ShippingAddress,
    TooManyOpenOrders,
    checkout_place,
    order_cancel_unpaid,
)
from shop.orders.models import Order
from shop.payments.models import Payment
from tests.factories import CartFactory, CartLineFactory, ProductFactory
from tests.shop.orders.test_pages import GUEST_DETAILS, review_key

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")
API_ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU"}
API_ADDRESS["country"] = "GB"
LIMIT_MESSAGE = "You already have 3 unpaid orders. Pay for one or cancel one before placing another."


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.SHOP_MAX_OPEN_ORDERS = 3
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 5
    settings.SHOP_CHECKOUT_RATE = (20, 3600)


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass Lamp", price=Decimal("30.00"), stock=100)


def place(*, product, user=None, email="ada@example.org", client="", key="", quantity=1) -> Order:
    """An order placed in-process, as the storefront and the API do."""
    cart = Cart.objects.get_or_create(user=user)[0] if user else CartFactory(user=None)
    CartLine.objects.update_or_create(
        cart=cart, variant=product.variants.get(), defaults={"product": product, "quantity": quantity}
    )
    order, _created = checkout_place(
        cart=cart,
        user=user,
        email=email,
        address=ADDRESS,
        shipping_method="standard",
        idempotency_key=key,
        client=client,
    )
    return order


def api_checkout(api, product, *, email="ada@example.org", key=None, address="127.0.0.1"):
    token = api.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 1}, format="json").data["token"]
    return api.post(
        "/api/v1/checkout/",
        {"email": email, "shipping_address": API_ADDRESS},
        format="json",
        HTTP_X_CART_TOKEN=token,
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
        REMOTE_ADDR=address,
    )


# --- per customer, email and client --------------------------------------------------------------------------------


def test_it_refuses_a_customers_fourth_unpaid_order_with_409_and_keeps_the_cart(api_as, customer, lamp):
    for _ in range(3):
        place(product=lamp, user=customer, email=customer.email)
    CartLineFactory(cart=Cart.objects.get(user=customer), product=lamp, quantity=2)

    response = api_as(customer).post(
        "/api/v1/checkout/", {"shipping_address": API_ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="fourth"
    )

    assert response.status_code == 409, response.data
    assert (response.data["detail"], response.data["code"]) == (LIMIT_MESSAGE, "too_many_open_orders")
    assert Order.objects.count() == 3
    lamp.refresh_from_db()
    assert lamp.stock == 97, "the refused checkout took no stock"
    assert CartLine.objects.get(cart__user=customer).quantity == 2


def test_the_customer_limit_counts_orders_under_any_email(customer, lamp):
    for n in range(3):
        place(product=lamp, user=customer, email=f"other{n}@example.org")

    with pytest.raises(TooManyOpenOrders):
        place(product=lamp, user=customer, email="fresh@example.org")


def test_the_email_limit_ignores_case_and_spaces(api, lamp, localstripe):
    for email in ("Ada@Example.org", " ada@example.org ", "ADA@EXAMPLE.ORG"):
        assert api_checkout(APIClient(), lamp, email=email, address="10.0.0.1").status_code == 201

    response = api_checkout(APIClient(), lamp, email="ada@EXAMPLE.org", address="10.0.0.2")

    assert response.status_code == 409
    assert response.data["code"] == "too_many_open_orders"
    assert Order.objects.filter(email="ada@example.org").count() == 3


def test_the_client_limit_counts_guests_with_different_emails_from_one_address(lamp):
    for n in range(5):
        place(product=lamp, email=f"guest{n}@example.org", client="203.0.113.7")

    with pytest.raises(TooManyOpenOrders) as refused:
        place(product=lamp, email="guest5@example.org", client="203.0.113.7")
    other_client = place(product=lamp, email="guest5@example.org", client="198.51.100.1")

    assert "5 unpaid orders" in str(refused.value.message)
    assert other_client.status == "pending_payment"
    assert Order.objects.count() == 6


def test_the_client_address_is_not_kept_on_the_order(lamp):
    order = place(product=lamp, client="203.0.113.7")

    stored = str(list(order.events.values_list("data", flat=True)))
    assert "203.0.113.7" not in stored
    assert "client" in stored


@pytest.mark.parametrize("close", ["pay", "cancel", "expire", "past_deadline"])
def test_paid_cancelled_and_expired_orders_do_not_count(customer, lamp, close):
    orders = [place(product=lamp, user=customer, email=customer.email) for _ in range(3)]
    first = orders[0]
    if close == "pay":
        services.order_mark_paid(order_id=first.pk, amount=first.total_money, reference="test")
    elif close == "cancel":
        services.order_cancel(order_id=first.pk)
    elif close == "expire":
        Order.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        services.orders_expire()
    else:  # the expiry job has not run yet: the stock comes back within a minute anyway
        Order.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    fourth = place(product=lamp, user=customer, email=customer.email)

    assert fourth.status == "pending_payment"


def test_a_failed_payment_still_counts(customer, lamp):
    orders = [place(product=lamp, user=customer, email=customer.email) for _ in range(3)]
    services.order_mark_payment_failed(order_id=orders[0].pk, declined=True)

    with pytest.raises(TooManyOpenOrders):
        place(product=lamp, user=customer, email=customer.email)


def test_a_repeat_of_a_placed_checkout_still_returns_its_order(api, lamp, localstripe):
    first = api_checkout(api, lamp, key="same-key")
    token = first.wsgi_request.headers["X-Cart-Token"]
    for _ in range(2):
        api_checkout(APIClient(), lamp)

    repeat = api.post(
        "/api/v1/checkout/",
        {"email": "ada@example.org", "shipping_address": API_ADDRESS},
        format="json",
        HTTP_X_CART_TOKEN=token,
        HTTP_IDEMPOTENCY_KEY="same-key",
    )

    assert first.status_code == 201, first.data
    assert repeat.status_code == 200, repeat.data
    assert repeat.data["number"] == first.data["number"]
    assert Order.objects.count() == 3


def test_a_limit_of_zero_is_no_limit(settings, customer, lamp):
    settings.SHOP_MAX_OPEN_ORDERS = 0
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0

    for _ in range(6):
        place(product=lamp, user=customer, email=customer.email, client="203.0.113.7")

    assert Order.objects.count() == 6


# --- the storefront -------------------------------------------------------------------------------------------------


def _web_checkout(client, lamp):
    client.post(reverse("cart:add"), {"product": lamp.pk, "quantity": 1})
    client.post(reverse("orders:checkout"), GUEST_DETAILS)
    key = review_key(client.get(reverse("orders:review")))
    return client.post(reverse("orders:review"), {"idempotency_key": key})


def test_the_storefront_refuses_with_409_and_links_the_shoppers_own_open_orders(client, lamp):
    mine = [_web_checkout(client, lamp) for _ in range(2)]
    assert [r.status_code for r in mine] == [302, 302]
    # Someone else typed the same email: their order counts but is not shown here.
    other = place(product=lamp, email="guest@example.org", client="198.51.100.1")

    response = _web_checkout(client, lamp)

    assert response.status_code == 409
    html = response.content.decode()
    assert LIMIT_MESSAGE in html
    my_numbers = set(Order.objects.exclude(pk=other.pk).values_list("number", flat=True))
    for number in my_numbers:
        assert reverse("orders:pay", args=[number]) in html
        assert reverse("orders:cancel", args=[number]) in html
    assert other.number not in html
    assert Order.objects.count() == 3
    assert CartLine.objects.filter(cart__user=None).count() == 1, "the cart is kept"


def test_the_shopper_cancels_an_unpaid_order_and_can_order_again(client, lamp):
    for _ in range(3):
        _web_checkout(client, lamp)
    order = Order.objects.order_by("placed_at").first()

    response = client.post(reverse("orders:cancel", args=[order.number]))

    assert response.status_code == 302
    assert response.url == reverse("orders:detail", args=[order.number])
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.events.last().message == "Cancelled by the customer."
    lamp.refresh_from_db()
    assert lamp.stock == 98, "its lamp came back"
    assert _web_checkout(client, lamp).status_code == 302


def test_the_order_page_offers_the_cancel_button_while_unpaid(client, lamp):
    _web_checkout(client, lamp)
    order = Order.objects.get()

    html = client.get(reverse("orders:detail", args=[order.number])).content.decode()

    assert reverse("orders:cancel", args=[order.number]) in html


def test_nobody_else_can_cancel_an_order(client, customer, stranger, lamp):
    order = place(product=lamp, user=customer, email=customer.email)
    client.force_login(stranger)

    assert client.post(reverse("orders:cancel", args=[order.number])).status_code == 404
    client.logout()
    assert client.post(reverse("orders:cancel", args=[order.number])).status_code == 404
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_a_paid_order_is_not_cancelled_by_the_shopper(client, customer, lamp):
    order = place(product=lamp, user=customer, email=customer.email)
    services.order_mark_paid(order_id=order.pk, amount=order.total_money, reference="test")
    client.force_login(customer)

    response = client.post(reverse("orders:cancel", args=[order.number]), follow=True)

    order.refresh_from_db()
    assert order.status == "paid"
    assert "This order is paid: it can no longer be cancelled here." in response.content.decode()


def test_cancelling_needs_a_post(client, customer, lamp):
    order = place(product=lamp, user=customer, email=customer.email)
    client.force_login(customer)

    assert client.get(reverse("orders:cancel", args=[order.number])).status_code == 405


def test_cancelling_also_cancels_the_open_payment(customer, lamp, localstripe, django_capture_on_commit_callbacks):
    from shop.orders.payment import gateway

    order = place(product=lamp, user=customer, email=customer.email)
    gateway().create_payment(order=order)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel_unpaid(order_id=order.pk, actor=customer)

    assert Payment.objects.get(order=order).status == "canceled"


# --- the throttle ---------------------------------------------------------------------------------------------------


def test_the_api_throttles_orders_per_client_with_429(settings, lamp):
    settings.SHOP_MAX_OPEN_ORDERS = settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 0
    settings.SHOP_CHECKOUT_RATE = (2, 3600)
    place(product=lamp, email="a@example.org", client="203.0.113.7")
    place(product=lamp, email="b@example.org", client="203.0.113.7")

    refused = api_checkout(APIClient(), lamp, email="c@example.org", address="203.0.113.7")

    assert refused.status_code == 429
    assert refused.data["code"] == "checkout_throttled"
    assert "Too many orders were placed from your connection" in refused.data["detail"]
    assert Order.objects.count() == 2
    with pytest.raises(CheckoutThrottled):
        place(product=lamp, email="d@example.org", client="203.0.113.7")
    assert place(product=lamp, email="d@example.org", client="198.51.100.1").pk


def test_the_storefront_throttles_with_a_429_page(settings, client, lamp):
    settings.SHOP_CHECKOUT_RATE = (1, 3600)
    assert _web_checkout(client, lamp).status_code == 302

    response = _web_checkout(client, lamp)

    assert response.status_code == 429
    assert "Too many orders were placed from your connection" in response.content.decode()
    assert Order.objects.count() == 1


def test_refused_checkouts_do_not_count_towards_the_throttle(settings, customer, lamp):
    settings.SHOP_CHECKOUT_RATE = (4, 3600)
    for _ in range(3):
        place(product=lamp, user=customer, email=customer.email, client="203.0.113.7")
    for _ in range(3):
        with pytest.raises(TooManyOpenOrders):
            place(product=lamp, user=customer, email=customer.email, client="203.0.113.7")

    assert place(product=lamp, email="other@example.org", client="203.0.113.7").pk


def test_the_schema_documents_the_refusals(api):
    responses = api.get("/api/v1/schema/", {"format": "json"}).json()["paths"]["/api/v1/checkout/"]["post"]["responses"]

    assert {"409", "429"} <= set(responses)
    assert "too_many_open_orders" in responses["409"]["description"]
