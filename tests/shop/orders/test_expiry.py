"""Unpaid orders expire after SHOP_ORDER_PAYMENT_MINUTES: services.orders_expire and its scheduled task."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from shop.catalog.models import Product
from shop.orders import services, tasks
from shop.orders.models import Order
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


@pytest.fixture
def place(localstripe, django_capture_on_commit_callbacks):
    def make(quantity=3, payment_method=None) -> Order:
        api = APIClient()
        product = ProductFactory(price=Decimal("10.00"), stock=10)
        token = api.post("/api/v1/cart/items/", {"product": product.slug, "quantity": quantity}, format="json").data[
            "token"
        ]
        body = {"email": "ada@example.org", "shipping_address": ADDRESS}
        if payment_method:
            body["payment_method"] = payment_method
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                "/api/v1/checkout/", body, format="json", HTTP_X_CART_TOKEN=token, HTTP_IDEMPOTENCY_KEY="k"
            )
        assert response.status_code in (201, 402), response.data
        return Order.objects.get(number=response.data["number"])

    return make


def overdue(order: Order, minutes=1) -> None:
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=minutes))


def stock_of(order: Order) -> int:
    return Product.objects.get(pk=order.lines.get().product_id).stock


def kinds(order: Order) -> list[str]:
    return list(order.events.values_list("kind", flat=True))


def test_an_order_is_due_after_the_configured_minutes(place, settings):
    settings.SHOP_ORDER_PAYMENT_MINUTES = 45
    before = timezone.now()

    order = place()

    assert order.status == "pending_payment"
    assert dt.timedelta(minutes=44) < order.expires_at - before < dt.timedelta(minutes=46)
    assert services.orders_expire() == 0
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_it_expires_an_unpaid_order_past_its_deadline_and_gives_the_stock_back(place):
    order = place(quantity=3)
    assert stock_of(order) == 7
    overdue(order)

    assert services.orders_expire() == 1

    order.refresh_from_db()
    assert order.status == "expired"
    assert kinds(order) == ["placed", "expired"]
    assert order.events.last().status == "expired"
    assert stock_of(order) == 10


def test_it_expires_an_order_whose_card_was_declined(place):
    order = place(quantity=2, payment_method="pm_card_chargeCustomerFail")
    assert order.status == "payment_failed"
    overdue(order)

    assert services.orders_expire() == 1

    order.refresh_from_db()
    assert order.status == "expired"
    assert kinds(order) == ["placed", "payment_declined", "expired"]
    assert stock_of(order) == 10


def test_it_leaves_orders_that_are_paid_or_not_yet_due(place):
    due = place(quantity=1)
    not_yet = place(quantity=2)
    paid = place(quantity=4, payment_method="pm_card_visa")
    overdue(due)
    overdue(paid)  # even with a stale deadline, a paid order never expires
    Order.objects.filter(pk=not_yet.pk).update(expires_at=timezone.now() + dt.timedelta(minutes=1))

    assert services.orders_expire() == 1

    for order in (due, not_yet, paid):
        order.refresh_from_db()
    assert (due.status, not_yet.status, paid.status) == ("expired", "pending_payment", "paid")
    assert kinds(not_yet) == ["placed"]
    assert kinds(paid) == ["placed", "paid"]
    assert (stock_of(due), stock_of(not_yet), stock_of(paid)) == (10, 8, 6)


def test_running_it_twice_changes_nothing_more(place):
    order = place(quantity=3)
    overdue(order)

    assert services.orders_expire() == 1
    assert services.orders_expire() == 0

    order.refresh_from_db()
    assert order.status == "expired"
    assert kinds(order) == ["placed", "expired"]
    assert stock_of(order) == 10


def test_the_scheduled_task_expires_orders_once(place):
    first = place(quantity=3)
    second = place(quantity=5)
    overdue(first)
    overdue(second, minutes=90)

    assert tasks.expire_unpaid_orders.delay().get() == 2
    assert tasks.expire_unpaid_orders() == 0

    for order in (first, second):
        order.refresh_from_db()
        assert order.status == "expired"
        assert kinds(order) == ["placed", "expired"]
        assert stock_of(order) == 10


def test_an_expired_order_cannot_be_paid_through_the_api(place):
    order = place(quantity=1)
    overdue(order)
    services.orders_expire()
    api = APIClient()

    response = api.post(
        f"/api/v1/orders/{order.number}/pay/",
        {"payment_method": "pm_card_visa"},
        format="json",
        HTTP_X_CART_TOKEN=str(order.cart_token),
    )

    assert response.status_code == 400
    assert "nothing to pay" in response.data["detail"]
    order.refresh_from_db()
    assert order.status == "expired"


def test_it_cancels_the_payment_intent_of_an_expired_order(place, django_capture_on_commit_callbacks):
    from shop.payments.models import Payment
    from shop.payments.stripe_gateway import client

    order = place()
    payment = order.payments.get()
    overdue(order)

    with django_capture_on_commit_callbacks(execute=True):
        services.orders_expire()

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CANCELED
    assert client().v1.payment_intents.retrieve(payment.intent_id).status == "canceled"
