"""Points pay "at most 50%" of the merchandise: a share that is a cap rounds down to the cent.

50% of $31.95 is $15.975: points pay $15.97 (1,597 points), never $15.98.
"""

import pytest
from django.urls import reverse

from loyalty import services
from loyalty.models import CartPoints, Kind, LedgerEntry
from loyalty.program import current
from shop.core.money import Money
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory
from tests.loyalty.helpers import D, balance, cart_with, give, place, rules

pytestmark = pytest.mark.django_db

POINTS = "/api/v1/cart/points/"


@pytest.fixture(autouse=True)
def _program():
    rules(earn_rate=D(5), redeem_rate=100, min_redeem_points=500, max_redeem_percent=50, pending_days=14)


def points_lines(body) -> list[tuple[str, str]]:
    return [(a["label"], a["amount"]) for a in body["adjustments"] if a["kind"] == "points"]


@pytest.mark.parametrize(
    ("left", "percent", "cap"),
    [
        (D("31.95"), 50, D("15.97")),  # 15.975
        (D("31.99"), 50, D("15.99")),  # 15.995
        (D("10.01"), 30, D("3.00")),  # 3.003
        (D("40.00"), 50, D("20.00")),
        (D("0.01"), 50, D("0.00")),
        (D("-5.00"), 50, D("0.00")),
    ],
)
def test_the_cap_is_the_share_rounded_down(left, percent, cap):
    rules(max_redeem_percent=percent)
    assert current().points_cap(left, "USD") == Money(cap, "USD")


def test_at_most_the_share_is_paid_at_checkout_and_the_points_debited_match():
    user = UserFactory()
    give(user, 5000)
    cart = cart_with(user, "31.95")
    services.cart_points_set(cart=cart, user=user, points=5000)

    order = place(user, cart)

    assert order.adjustments.get(kind="points").amount == D("-15.97")
    assert LedgerEntry.objects.get(order=order, kind=Kind.REDEEM).points == -1597
    assert balance(user) == 5000 - 1597


def test_the_api_puts_at_most_the_share_on_the_cart(api_as, customer):
    give(customer, 5000)
    CartLineFactory(cart=CartFactory(user=customer), product=ProductFactory(price=D("31.95"), stock=5), quantity=1)

    response = api_as(customer).post(POINTS, {"points": 5000}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert points_lines(body) == [("1,597 points", "-15.97")]
    assert body["total"] == "15.98"  # what is left is at least half
    assert CartPoints.objects.get(cart__user=customer).points == 5000


def test_the_cart_page_offers_at_most_the_share_and_use_the_most_i_can_takes_it(client, customer):
    give(customer, 5000)
    CartLineFactory(cart=CartFactory(user=customer), product=ProductFactory(price=D("31.95"), stock=5), quantity=1)
    client.force_login(customer)

    page = client.get(reverse("cart:detail")).content.decode()
    assert "Use the most I can (1,597 points)" in page

    response = client.post(reverse("loyalty:cart_points_apply"), {"most": "1", "points": ""}, follow=True)

    assert CartPoints.objects.get(cart__user=customer).points == 1597
    page = response.content.decode()
    assert '1,597 points</strong>: <span class="nowrap">−$15.97</span>' in page
