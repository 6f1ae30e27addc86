"""Money summed in SQL is exact on every database: the admin's stock value and revenue figures.

SQLite stores decimals as doubles and sums them in floating point: a hundred
$0.10 come to 9.99999999999998 there. shop.core.money_sql sums whole cents.
"""

from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse

from shop.catalog.models import Product
from shop.core.money_sql import from_minor_units, minor_units_sum
from tests.factories import ProductFactory
from tests.marketing.discounts.test_admin import order

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_it_sums_cents_exactly_where_doubles_do_not():
    for price in [D("0.10")] * 100 + [D("1.10"), D("2.20"), D("8.97"), D("8.98")]:
        ProductFactory(price=price, stock=3)

    units = Product.objects.aggregate(n=minor_units_sum(F("stock") * F("price"), currency="USD"))["n"]

    assert from_minor_units(units, "USD") == D("93.75")  # 3 x (10.00 + 3.30 + 17.95)


def test_no_rows_sum_to_zero_and_negative_amounts_keep_their_sign():
    assert from_minor_units(None, "USD") == D("0.00")
    assert from_minor_units(-1795, "USD") == D("-17.95")
    assert from_minor_units(1235, "JPY") == D("1235")


def test_the_product_list_shows_the_stock_value_to_the_cent(admin_client):
    for _ in range(100):
        ProductFactory(price=D("0.10"), stock=1)

    response = admin_client.get(reverse("admin:catalog_product_changelist"))

    assert response.context["stats"]["stock_value"] == D("10.00")
    assert "$10.00" in response.content.decode()


def test_the_order_list_shows_revenue_and_refunds_to_the_cent(admin_client):
    for total in [D("4.02")] * 20 + [D("19.60")]:  # exactly 100.00; 99.9999999999999 as doubles
        order(total=total, amount_refunded=D("0.10"))
    order(total=D("5.00"), status="expired")

    response = admin_client.get(reverse("admin:orders_order_changelist"))

    stats = response.context["stats"]
    assert (stats["orders"], stats["paid"], stats["revenue"], stats["refunded"]) == (22, 21, D("100.00"), D("2.10"))
