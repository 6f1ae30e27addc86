"""Webhooks as localstripe delivers them: over HTTP, signed, about a second after the payment."""

import time
from decimal import Decimal

import pytest

from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from shop.orders.payment import gateway
from shop.payments.localstripe import register_webhook
from shop.payments.models import WebhookEvent
from shop.payments.stripe_gateway import client
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")


def _wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_it_pays_an_order_when_localstripe_delivers_the_signed_event(live_server, localstripe, settings):
    assert register_webhook(
        localstripe, url=f"{live_server.url}/api/v1/payments/stripe/webhook/", secret=settings.STRIPE_WEBHOOK_SECRET
    )
    user = UserFactory()
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("12.00"), stock=5))
    order, _created = checkout_place(
        cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard"
    )
    intent_id = gateway().create_payment(order=order).intent_id

    # Paid at Stripe directly (as Stripe.js would): only the webhook can tell the store.
    api = client().v1.payment_intents
    api.update(intent_id, params={"payment_method": "pm_card_visa"})
    assert api.confirm(intent_id).status == "succeeded"

    # The event is recorded once handled (the order is paid a moment before).
    paid_events = WebhookEvent.objects.filter(type="payment_intent.succeeded", outcome="paid")
    assert _wait_for(paid_events.exists), "no webhook arrived"
    # localstripe is shared by the test process: other tests' events may arrive too ("not ours").
    assert paid_events.count() == 1
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert [e.kind for e in Order.objects.get(pk=order.pk).events.all()] == ["placed", "paid"]


@pytest.mark.django_db(transaction=True)
def test_it_refuses_events_signed_with_another_secret(live_server, localstripe, settings):
    assert register_webhook(
        localstripe, url=f"{live_server.url}/api/v1/payments/stripe/webhook/", secret="whsec_someone_else"
    )
    user = UserFactory()
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("12.00"), stock=5))
    order, _created = checkout_place(
        cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard"
    )
    intent_id = gateway().create_payment(order=order).intent_id
    api = client().v1.payment_intents
    api.update(intent_id, params={"payment_method": "pm_card_visa"})
    api.confirm(intent_id)

    time.sleep(2.5)  # localstripe sends about a second after the payment
    assert not WebhookEvent.objects.exists()
    assert Order.objects.get(pk=order.pk).status == "pending_payment"
