"""Stripe refusing the store itself (a revoked, rotated or restricted key: 401, 403): the shopper gets
the outage's 503 and keeps the order, staff get an error in the log; never a 500."""

import logging
import re
from decimal import Decimal

import pytest
import responses
from django.test import Client
from django.urls import reverse

from shop.orders.checkout import ShippingAddress, checkout_place
from shop.payments.models import Payment
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db
ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")
STRIPE = "http://127.0.0.1:9"  # nothing listens: every call is answered by `responses` below


def place():
    cart = CartFactory()
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("19.99"), stock=10), quantity=1)
    order, _created = checkout_place(
        cart=cart, user=cart.user, email=cart.user.email, address=ADDRESS, shipping_method="standard",
        idempotency_key="refused",
    )  # fmt: skip
    return order


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "Invalid API Key provided: sk_live_****"), (403, "The provided key does not have access to this resource")],
)
def test_a_key_stripe_refuses_is_a_503_for_the_shopper_and_an_error_for_staff(settings, caplog, status, message):
    settings.STRIPE_API_BASE = STRIPE
    order = place()
    shopper = Client(raise_request_exception=False)
    shopper.force_login(order.user)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as stripe_answers:
        stripe_answers.add(
            responses.POST,
            re.compile(rf"{re.escape(STRIPE)}/.*"),
            json={"error": {"type": "invalid_request_error", "message": message}},
            status=status,
        )
        with caplog.at_level(logging.ERROR, logger="shop.payments.stripe_gateway"):
            page = shopper.get(reverse("orders:pay", args=[order.number]))
            confirm = shopper.post(
                reverse("orders:pay_confirm", args=[order.number]),
                data='{"payment_method": "pm_card_visa"}',
                content_type="application/json",
            )

    assert (page.status_code, confirm.status_code) == (503, 503)
    assert "Payments are unavailable" in confirm.json()["detail"]
    assert "check STRIPE_SECRET_KEY" in caplog.text
    order.refresh_from_db()
    assert order.status == "pending_payment" and not Payment.objects.filter(status="succeeded").exists()
