"""POST /api/v1/checkout/ and POST /api/v1/orders/<number>/pay/ against a real localstripe."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from shop.cart.models import CartLine
from shop.orders.models import Order
from shop.payments.models import Payment
from shop.payments.stripe_gateway import client
from tests.factories import AddressFactory, ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


def add_to_cart(api, product, quantity, token=None) -> str:
    headers = {"HTTP_X_CART_TOKEN": token} if token else {}
    response = api.post(
        "/api/v1/cart/items/", {"product": product.slug, "quantity": quantity}, format="json", **headers
    )
    assert response.status_code in (200, 201), response.data
    return response.data["token"]


def checkout(api, token=None, key="key-1", capture=None, **body):
    body = {"email": "ada@example.org", "shipping_address": ADDRESS, **body}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    if token:
        headers["HTTP_X_CART_TOKEN"] = token
    if capture is None:
        return api.post("/api/v1/checkout/", body, format="json", **headers)
    with capture(execute=True):
        return api.post("/api/v1/checkout/", body, format="json", **headers)


def stripe_intents() -> list:
    return list(client().v1.payment_intents.list().data)


# Totals


def test_it_computes_totals_on_the_server_ignoring_client_prices(api, localstripe):
    lamp = ProductFactory(price=Decimal("12.50"), stock=5)
    token = add_to_cart(api, lamp, 2)

    response = checkout(api, token, total="0.01", subtotal="0.01", price="0.01", shipping_total="0")

    assert response.status_code == 201, response.data
    assert response.data["subtotal"] == "25.00"
    assert response.data["shipping_total"] == "5.00"
    assert response.data["total"] == "30.00"
    order = Order.objects.get(number=response.data["number"])
    assert order.total == Decimal("30.00")
    assert order.subtotal == Decimal("25.00")
    payment = Payment.objects.get(order=order)
    assert payment.amount_minor == 3000
    assert client().v1.payment_intents.retrieve(payment.intent_id).amount == 3000


@pytest.mark.parametrize(
    ("price", "method", "shipping", "total"),
    [
        ("20.00", "standard", "5.00", "25.00"),
        ("20.00", "express", "15.00", "35.00"),
        ("50.00", "standard", "0.00", "50.00"),  # free from the threshold on
        ("60.00", "standard", "0.00", "60.00"),
        ("60.00", "express", "15.00", "75.00"),  # express is never free
    ],
)
def test_it_charges_shipping_by_method_and_threshold(api, localstripe, price, method, shipping, total):
    product = ProductFactory(price=Decimal(price), stock=5)
    token = add_to_cart(api, product, 1)

    response = checkout(api, token, shipping_method=method)

    assert response.status_code == 201, response.data
    assert response.data["shipping_total"] == shipping
    assert response.data["total"] == total
    assert [a["kind"] for a in response.data["adjustments"]] == ["shipping"]
    order = Order.objects.get(number=response.data["number"])
    assert order.shipping_method == method
    assert order.shipping_total == Decimal(shipping)
    assert order.total == Decimal(total)
    assert order.adjustments.get().amount == Decimal(shipping)


def test_it_sends_cents_to_stripe_for_usd(api, localstripe):
    product = ProductFactory(price=Decimal("16.99"), stock=5)
    token = add_to_cart(api, product, 1)

    response = checkout(api, token)

    assert response.status_code == 201, response.data
    assert response.data["currency"] == "USD"
    payment = Payment.objects.get(order__number=response.data["number"])
    assert payment.amount_minor == 2199
    assert payment.currency == "USD"
    intent = client().v1.payment_intents.retrieve(payment.intent_id)
    assert (intent.amount, intent.currency) == (2199, "usd")
    assert intent.metadata["order"] == response.data["number"]


def test_it_sends_whole_yen_to_stripe_for_jpy(api, localstripe, settings):
    settings.SHOP_CURRENCY = "JPY"
    settings.SHOP_SHIPPING_METHODS = {
        "standard": {"label": "Standard", "price": "500", "free_over": "5000"},
        "express": {"label": "Express", "price": "1500"},
    }
    product = ProductFactory(price=Decimal("1980"), stock=5)
    token = add_to_cart(api, product, 1)

    response = checkout(api, token, payment_method="pm_card_visa")

    assert response.status_code == 201, response.data
    assert response.data["currency"] == "JPY"
    assert Decimal(response.data["total"]) == Decimal("2480")
    order = Order.objects.get(number=response.data["number"])
    assert order.status == "paid"  # the webhook-less confirmation matched the yen amount
    payment = Payment.objects.get(order=order)
    assert payment.amount_minor == 2480
    intent = client().v1.payment_intents.retrieve(payment.intent_id)
    assert (intent.amount, intent.currency) == (2480, "jpy")


# Idempotency


def test_it_returns_the_same_order_for_the_same_key(api, localstripe):
    product = ProductFactory(price=Decimal("10.00"), stock=5)
    token = add_to_cart(api, product, 1)

    first = checkout(api, token, key="same")
    second = checkout(api, token, key="same")

    assert first.status_code == 201, first.data
    assert second.status_code == 200, second.data
    assert second.data["number"] == first.data["number"]
    assert second.data["payment"]["intent_id"] == first.data["payment"]["intent_id"]
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1
    assert len(stripe_intents()) == 1
    product.refresh_from_db()
    assert product.stock == 4


def test_it_returns_the_same_paid_order_for_the_same_key_of_a_customer(api_as, customer, localstripe):
    client_api = api_as(customer)
    product = ProductFactory(price=Decimal("10.00"), stock=5)
    add_to_cart(client_api, product, 1)

    first = checkout(client_api, key="mine", payment_method="pm_card_visa")
    second = checkout(client_api, key="mine", payment_method="pm_card_visa")

    assert first.status_code == 201, first.data
    assert second.status_code == 200, second.data
    assert second.data["number"] == first.data["number"]
    assert second.data["status"] == "paid"
    order = Order.objects.get()
    assert order.user == customer
    assert order.status == "paid"
    assert [e.kind for e in order.events.all()] == ["placed", "paid"]
    assert Payment.objects.count() == 1
    assert len(stripe_intents()) == 1


def test_the_same_key_from_two_guests_makes_two_orders(localstripe):
    first, second = APIClient(), APIClient()
    product = ProductFactory(price=Decimal("10.00"), stock=5)
    token_a = add_to_cart(first, product, 1)
    token_b = add_to_cart(second, product, 2)

    a = checkout(first, token_a, key="shared-uuid")
    b = checkout(second, token_b, key="shared-uuid")

    assert (a.status_code, b.status_code) == (201, 201)
    assert a.data["number"] != b.data["number"]
    assert Order.objects.count() == 2
    assert Payment.objects.count() == 2
    product.refresh_from_db()
    assert product.stock == 2


def test_it_refuses_a_new_key_once_the_cart_is_empty(api, localstripe):
    product = ProductFactory(price=Decimal("10.00"), stock=5)
    token = add_to_cart(api, product, 1)
    assert checkout(api, token, key="first").status_code == 201

    response = checkout(api, token, key="second")

    assert response.status_code == 400
    assert "empty" in response.data["detail"]
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1


def test_it_requires_an_idempotency_key(api, localstripe):
    product = ProductFactory(price=Decimal("10.00"), stock=5)
    token = add_to_cart(api, product, 1)

    response = checkout(api, token, key=None)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["detail"]
    assert not Order.objects.exists()
    assert CartLine.objects.filter(cart__token=token).count() == 1
    product.refresh_from_db()
    assert product.stock == 5


# Stock


def test_it_takes_the_stock_at_checkout(api, localstripe):
    a = ProductFactory(price=Decimal("10.00"), stock=5)
    b = ProductFactory(price=Decimal("3.00"), stock=2)
    token = add_to_cart(api, a, 3)
    add_to_cart(api, b, 2, token)

    response = checkout(api, token)

    assert response.status_code == 201, response.data
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.stock, b.stock) == (2, 0)
    assert not CartLine.objects.filter(cart__token=token).exists()
    assert sorted((line["sku"], line["quantity"]) for line in response.data["lines"]) == sorted(
        [(a.sku, 3), (b.sku, 2)]
    )


def test_it_refuses_with_409_and_writes_nothing_when_stock_is_short(api, localstripe):
    a = ProductFactory(price=Decimal("10.00"), stock=5)
    b = ProductFactory(name="Brass lamp", price=Decimal("3.00"), stock=3)
    token = add_to_cart(api, a, 2)
    add_to_cart(api, b, 3, token)
    # Someone else bought two meanwhile (of its single variant, and so of the product).
    b.variants.update(stock=1)
    type(b).objects.filter(pk=b.pk).update(stock=1)

    response = checkout(api, token)

    assert response.status_code == 409, response.data
    assert response.data["code"] == "insufficient_stock"
    assert "Only 1 of “Brass lamp” is left" in response.data["detail"]
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    assert stripe_intents() == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.stock, b.stock) == (5, 1)  # the first line's decrement was rolled back
    assert CartLine.objects.filter(cart__token=token).count() == 2


# Declined card and retry


def test_it_keeps_a_declined_order_and_a_retry_pays_it(api, localstripe, django_capture_on_commit_callbacks):
    product = ProductFactory(price=Decimal("20.00"), stock=5)
    token = add_to_cart(api, product, 1)

    declined = checkout(
        api, token, payment_method="pm_card_chargeCustomerFail", capture=django_capture_on_commit_callbacks
    )

    assert declined.status_code == 402, declined.data
    assert declined.data["code"] == "card_declined"
    assert "declined" in declined.data["detail"]
    assert declined.data["status"] == "payment_failed"
    order = Order.objects.get(number=declined.data["number"])
    assert order.status == "payment_failed"
    assert [e.kind for e in order.events.all()] == ["placed", "payment_declined"]
    failed = Payment.objects.get(order=order)
    assert failed.status == "failed"
    assert client().v1.payment_intents.retrieve(failed.intent_id).status == "canceled"

    with django_capture_on_commit_callbacks(execute=True):
        retry = api.post(
            f"/api/v1/orders/{order.number}/pay/",
            {"payment_method": "pm_card_visa"},
            format="json",
            HTTP_X_CART_TOKEN=token,
        )

    assert retry.status_code == 200, retry.data
    assert retry.data["status"] == "paid"
    assert retry.data["payment"]["intent_id"] != failed.intent_id
    order.refresh_from_db()
    assert order.status == "paid"
    assert [e.kind for e in order.events.all()] == ["placed", "payment_declined", "paid"]
    assert sorted(order.payments.values_list("status", flat=True)) == ["failed", "succeeded"]
    fresh = order.payments.get(status="succeeded")
    assert client().v1.payment_intents.retrieve(fresh.intent_id).status == "succeeded"
    product.refresh_from_db()
    assert product.stock == 4


def test_it_refuses_to_pay_an_order_twice(api, localstripe):
    product = ProductFactory(price=Decimal("20.00"), stock=5)
    token = add_to_cart(api, product, 1)
    number = checkout(api, token, payment_method="pm_card_visa").data["number"]

    response = api.post(
        f"/api/v1/orders/{number}/pay/", {"payment_method": "pm_card_visa"}, format="json", HTTP_X_CART_TOKEN=token
    )

    assert response.status_code == 400
    assert "nothing to pay" in response.data["detail"]
    assert Payment.objects.count() == 1
    assert len(stripe_intents()) == 1


def test_it_does_not_let_another_cart_pay_an_order(api, localstripe):
    product = ProductFactory(price=Decimal("20.00"), stock=5)
    token = add_to_cart(api, product, 1)
    number = checkout(api, token).data["number"]
    other = add_to_cart(APIClient(), ProductFactory(), 1)
    assert other != token

    response = APIClient().post(
        f"/api/v1/orders/{number}/pay/", {"payment_method": "pm_card_visa"}, format="json", HTTP_X_CART_TOKEN=other
    )

    assert response.status_code == 404
    assert Order.objects.get(number=number).status == "pending_payment"


# Stripe unreachable


def test_it_keeps_the_order_when_stripe_is_unreachable_and_a_retry_pays_it(
    api, localstripe, settings, django_capture_on_commit_callbacks
):
    product = ProductFactory(price=Decimal("20.00"), stock=5)
    token = add_to_cart(api, product, 2)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    down = checkout(api, token, key="k", payment_method="pm_card_visa")

    assert down.status_code == 503, down.data
    assert down.data["code"] == "payment_unavailable"
    assert "saved" in down.data["detail"]
    order = Order.objects.get(number=down.data["number"])
    assert order.status == "pending_payment"
    assert not Payment.objects.exists()
    product.refresh_from_db()
    assert product.stock == 3

    settings.STRIPE_API_BASE = localstripe
    with django_capture_on_commit_callbacks(execute=True):
        again = checkout(api, token, key="k", payment_method="pm_card_visa")

    assert again.status_code == 200, again.data
    assert again.data["number"] == order.number
    assert again.data["status"] == "paid"
    order.refresh_from_db()
    assert order.status == "paid"
    assert [e.kind for e in order.events.all()] == ["placed", "paid"]
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1
    assert len(stripe_intents()) == 1
    product.refresh_from_db()
    assert product.stock == 3


# Addresses and bad input


def test_it_uses_a_saved_address(api_as, customer, localstripe):
    saved = AddressFactory(user=customer, full_name="Grace Hopper", city="Arlington", country="US")
    client_api = api_as(customer)
    add_to_cart(client_api, ProductFactory(price=Decimal("10.00")), 1)

    response = client_api.post(
        "/api/v1/checkout/", {"address_id": saved.pk}, format="json", HTTP_IDEMPOTENCY_KEY="saved"
    )

    assert response.status_code == 201, response.data
    order = Order.objects.get(number=response.data["number"])
    assert (order.shipping_name, order.shipping_city, order.shipping_country) == ("Grace Hopper", "Arlington", "US")
    assert order.email == customer.email


def test_it_answers_400_to_malformed_json(api, localstripe):
    token = add_to_cart(api, ProductFactory(), 1)

    response = api.post(
        "/api/v1/checkout/",
        data='{"email": "ada@example.org", "shipping_address": {',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
        HTTP_X_CART_TOKEN=token,
    )

    assert response.status_code == 400
    assert "JSON" in response.data["detail"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shipping_method": "teleport"}, "shipping_method"),
        ({"shipping_address": {**ADDRESS, "country": "XX"}}, "shipping_address"),
        ({"shipping_address": {**ADDRESS, "country": "Germany"}}, "shipping_address"),
        ({"shipping_address": None}, "shipping_address"),
        ({"shipping_address": "12 Analytical Row"}, "shipping_address"),
        ({"shipping_address": {"name": "Ada"}}, "shipping_address"),
        ({"email": "not-an-email"}, "email"),
        ({"payment_method": "pm_" + "x" * 200}, "payment_method"),
        ({"payment_method": ["pm_card_visa"]}, "payment_method"),
    ],
)
def test_it_answers_400_to_bad_input(api, localstripe, body, field):
    product = ProductFactory(stock=5)
    token = add_to_cart(api, product, 1)

    response = checkout(api, token, **body)

    assert response.status_code == 400, response.data
    assert field in {name.split(".")[0] for name in response.data["errors"]}  # nested fields are dotted
    assert not Order.objects.exists()
    product.refresh_from_db()
    assert product.stock == 5
    assert CartLine.objects.filter(cart__token=token).count() == 1


def test_it_asks_for_an_address_when_none_is_given(api, localstripe):
    token = add_to_cart(api, ProductFactory(), 1)

    response = api.post(
        "/api/v1/checkout/",
        {"email": "ada@example.org"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
        HTTP_X_CART_TOKEN=token,
    )

    assert response.status_code == 400
    assert "shipping address" in response.data["detail"]
    assert not Order.objects.exists()


def test_it_answers_400_to_an_unknown_address_id(api_as, customer, stranger, localstripe):
    theirs = AddressFactory(user=stranger)
    client_api = api_as(customer)
    add_to_cart(client_api, ProductFactory(), 1)

    for address_id in (theirs.pk, 999999):
        response = client_api.post(
            "/api/v1/checkout/", {"address_id": address_id}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 400, response.data
        assert "address_id" in response.data["errors"]
    assert not Order.objects.exists()


def test_it_answers_400_to_an_address_id_from_a_guest(api, localstripe):
    token = add_to_cart(api, ProductFactory(), 1)

    response = api.post(
        "/api/v1/checkout/",
        {"email": "ada@example.org", "address_id": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
        HTTP_X_CART_TOKEN=token,
    )

    assert response.status_code == 400
    assert "address_id" in response.data["errors"]
    assert not Order.objects.exists()


def test_it_answers_a_garbage_payment_method_without_a_500(api, localstripe):
    product = ProductFactory(price=Decimal("10.00"), stock=5)
    token = add_to_cart(api, product, 1)

    response = checkout(api, token, payment_method="garbage!")

    assert response.status_code == 400, response.data
    assert response.data["code"] == "invalid_payment_method"
    assert response.data["detail"]
    order = Order.objects.get(number=response.data["number"])
    assert order.status in ("pending_payment", "payment_failed")

    retry = api.post(
        f"/api/v1/orders/{order.number}/pay/",
        {"payment_method": "pm_card_visa"},
        format="json",
        HTTP_X_CART_TOKEN=token,
    )
    assert retry.status_code == 200, retry.data
    order.refresh_from_db()
    assert order.status == "paid"


def test_it_answers_400_to_a_pay_request_without_a_payment_method(api, localstripe):
    token = add_to_cart(api, ProductFactory(), 1)
    number = checkout(api, token).data["number"]

    response = api.post(f"/api/v1/orders/{number}/pay/", {}, format="json", HTTP_X_CART_TOKEN=token)

    assert response.status_code == 400
    assert "payment_method" in response.data["errors"]
    assert Order.objects.get(number=number).status == "pending_payment"


def test_it_asks_a_guest_for_an_email(api, localstripe):
    token = add_to_cart(api, ProductFactory(), 1)

    response = checkout(api, token, email="")

    assert response.status_code == 400
    assert not Order.objects.exists()
