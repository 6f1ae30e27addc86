"""The promotions' figures are exact on every database (SQLite sums decimals as doubles).

19 orders of $4.02 and one of $3.32 come to $79.70: an average order of $3.985, so $3.99.
Summed as doubles they come to 79.6999999999999, whose average rounds to $3.98.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from marketing.discounts import selectors
from tests.marketing.discounts.test_admin import order, promotion, redeem

pytestmark = pytest.mark.django_db

D = Decimal
TOTALS = [D("4.02")] * 19 + [D("3.32")]  # 79.70


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def used_by_20_orders():
    promo = promotion(name="Small basket")
    for total in TOTALS:
        redeem(promo, order(total=total), "4.02")  # 20 x 4.02 given: 80.40
    for total in TOTALS:
        order(total=total)  # the same period's orders without it
    return promo


def test_the_performance_panel_shows_exact_totals_and_the_average_order_to_the_cent(admin_client, used_by_20_orders):
    response = admin_client.get(reverse("admin:discounts_promotion_change", args=[used_by_20_orders.pk]))

    stats = response.context["stats"]
    assert (stats.discount, stats.revenue, stats.paid_orders) == (D("80.40"), D("79.70"), 20)
    assert (stats.aov_with, stats.aov_without, stats.aov_lift) == (D("3.99"), D("3.99"), D("0.0"))
    assert [(m.discount, m.revenue) for m in stats.months] == [(D("80.40"), D("79.70"))]
    page = response.content.decode()
    assert "Average order with it <strong>$3.99</strong>" in page
    assert "$3.98" not in page


def test_the_list_stats_line_sums_the_discount_given_to_the_cent(admin_client):
    promo = promotion(name="Hundred")
    for amount in [D("4.02")] * 20 + [D("19.60")]:  # exactly 100.00; 99.9999999999999 as doubles
        redeem(promo, order(total=D("50.00")), amount)

    response = admin_client.get(reverse("admin:discounts_promotion_changelist"))

    assert response.context["stats"]["discount"] == D("100.00")
    assert "$100.00" in response.content.decode()


def test_the_summary_of_no_promotion_is_zero():
    from marketing.discounts.models import Promotion

    summary = selectors.promotions_summary(Promotion.objects.none())
    assert (summary["redemptions"], summary["discount"]) == (0, D("0.00"))
