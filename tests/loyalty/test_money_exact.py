"""The member's spend is summed exactly on every database: a member at exactly a tier's threshold reaches it.

SQLite sums decimals as doubles: 20 orders of $4.02 and one of $19.60 come to
99.9999999999999 there, not 100.00.
"""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, Tier
from loyalty.program import current, forget
from loyalty.services.tiers import spend_in_window
from shop.orders.models import Order
from tests.factories import OrderFactory, UserFactory
from tests.loyalty.helpers import D, rules

pytestmark = pytest.mark.django_db

# Exactly $100.00 in cents; the same amounts summed as doubles fall short of it.
TOTALS = [D("4.02")] * 20 + [D("19.60")]
ZERO = D("0.00")


@pytest.fixture(autouse=True)
def bronze():
    rules(earn_rate=D(1))
    Tier.objects.create(name="Bronze", min_spend=D("100.00"), multiplier=D("1.10"))
    forget()


def paid_order(user, total, *, refunded=ZERO) -> Order:
    yesterday = timezone.now() - dt.timedelta(days=1)
    return OrderFactory(user=user, subtotal=total, amount_refunded=refunded, placed_at=yesterday, paid_at=yesterday)


def test_it_sums_the_spend_to_the_cent():
    user = UserFactory()
    for total in TOTALS:
        paid_order(user, total)

    assert spend_in_window(user_id=user.pk, rules=current(), now=timezone.now()) == D("100.00")


def test_refunds_are_taken_off_to_the_cent():
    user = UserFactory()
    for total in TOTALS:
        paid_order(user, total + D("8.97"), refunded=D("8.97"))  # 8.97 of each came back

    assert spend_in_window(user_id=user.pk, rules=current(), now=timezone.now()) == D("100.00")


def test_a_member_who_spent_exactly_the_threshold_is_in_the_tier_and_the_points_page_says_so(client):
    user = UserFactory()
    Account.objects.create(user=user)
    for total in TOTALS:
        paid_order(user, total)

    services.tiers_reassign_all()

    assert Account.objects.get(pk=user.pk).tier.name == "Bronze"
    client.force_login(user)
    page = client.get(reverse("loyalty:points")).content.decode()
    assert "Your tier: <strong>Bronze</strong>" in page
    assert "more to reach Bronze" not in page


def test_the_api_shows_the_tier_reached_and_the_exact_spend(api_as):
    user = UserFactory()
    Account.objects.create(user=user)
    for total in TOTALS:
        paid_order(user, total)
    services.tiers_reassign_all()

    body = api_as(user).get("/api/v1/loyalty/").json()

    assert (body["tier"]["name"], body["spend"]) == ("Bronze", "100.00")
    assert body["next_tier"]["name"] == "Silver" and body["next_tier"]["spend_needed"] == "150.00"
