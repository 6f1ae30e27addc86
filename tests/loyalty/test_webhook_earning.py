"""Earning and reversing through the real payment path: Stripe webhooks, delivered more than once."""

import pytest

from loyalty.models import Kind, LedgerEntry
from shop.orders.models import Order
from tests.factories import ProductFactory
from tests.loyalty.helpers import D, balance, ledger_sum, rules
from tests.shop.payments.test_webhooks import URL, intent_event, pay_at_stripe, refund_at_stripe, refund_event

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


@pytest.fixture
def post_event(api, sign_stripe_event, django_capture_on_commit_callbacks):
    def post(payload: dict):
        body, header = sign_stripe_event(payload)
        with django_capture_on_commit_callbacks(execute=True):
            return api.generic("POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    return post


@pytest.fixture
def member_order(api_as, customer):
    """An order of 60.00 placed through the API by a logged-in member, with its open PaymentIntent."""
    rules(earn_rate=D(2))
    client = api_as(customer)
    product = ProductFactory(price=D("60.00"), stock=5)
    assert (
        client.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 1}, format="json").status_code == 201
    )
    response = client.post("/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201, response.data
    return Order.objects.get(number=response.data["number"])


def test_a_paid_order_earns_once_whatever_the_number_of_deliveries(localstripe, post_event, member_order, customer):
    payment = member_order.payments.get()
    pay_at_stripe(payment)  # the webhook reads the payment from Stripe, not from the event

    for event_id in ("evt_a", "evt_a", "evt_b"):  # a replay, and a second event for the same payment
        assert post_event(intent_event(payment, event_id=event_id)).status_code == 200

    earned = LedgerEntry.objects.filter(order=member_order, kind=Kind.EARN)
    assert [e.points for e in earned] == [120]
    assert balance(customer) == 120 == ledger_sum(customer)


def test_a_partial_refund_reported_twice_reverses_once(localstripe, post_event, member_order, customer):
    payment = member_order.payments.get()
    pay_at_stripe(payment)
    post_event(intent_event(payment))
    payment.refresh_from_db()

    refund = refund_event(payment, [(refund_at_stripe(payment, 1500), 1500)])  # 15.00 of 60.00
    post_event(refund)
    post_event({**refund, "id": "evt_again"})

    reversed_ = LedgerEntry.objects.filter(order=member_order, kind=Kind.REVERSE)
    assert [e.points for e in reversed_] == [-30]
    assert balance(customer) == 90 == ledger_sum(customer)


def test_a_guests_paid_order_queues_no_earning_and_a_members_does(monkeypatch, customer):
    from loyalty import tasks
    from shop.cart.models import Cart
    from tests.loyalty.helpers import cart_with, pay, place

    queued = []
    monkeypatch.setattr(tasks.earn_for_order, "delay", lambda **kwargs: queued.append(kwargs))
    guest_cart = Cart.objects.create()
    product = ProductFactory(price=D("20.00"), stock=5)
    guest_cart.lines.create(product=product, variant=product.variants.get(), quantity=1)
    guest_order = pay(place(None, guest_cart, email="guest@example.org"))
    member_order = pay(place(customer, cart_with(customer)))

    assert guest_order.status == member_order.status == "paid"
    assert queued == [{"order_id": member_order.pk}]
