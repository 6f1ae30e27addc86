"""The whole path once, against a real localstripe: cart -> checkout API -> paid by server-side confirmation."""

from decimal import Decimal

import pytest

from shop.orders.models import Order
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


def test_it_places_and_pays_an_order_through_the_api(api, localstripe, django_capture_on_commit_callbacks):
    lamp = ProductFactory(price=Decimal("30.00"), stock=3)
    token = api.post("/api/v1/cart/items/", {"product": lamp.slug, "quantity": 2}, format="json").data["token"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/checkout/",
            {"email": "ada@example.org", "shipping_address": ADDRESS, "payment_method": "pm_card_visa"},
            format="json",
            HTTP_X_CART_TOKEN=token,
            HTTP_IDEMPOTENCY_KEY="first-try",
        )
    assert response.status_code == 201, response.data
    assert response.data["status"] == "paid"
    assert response.data["total"] == "60.00"  # free standard shipping above 50
    assert response.data["payment"]["intent_id"].startswith("pi_")
    order = Order.objects.get(number=response.data["number"])
    assert order.status == "paid"
    lamp.refresh_from_db()
    assert lamp.stock == 1
    assert [e.kind for e in order.events.all()] == ["placed", "paid"]
