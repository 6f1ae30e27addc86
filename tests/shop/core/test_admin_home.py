"""The admin home: today's figures (each a link to the list it sums up), shown by permission, in few queries;
the apps in the order staff use them."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Account
from marketing.discounts.models import Promotion
from shop.core.admin_home import today_bounds
from tests.factories import OrderFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def store(settings):
    """Today: three orders placed (two paid, one of them refunded), one paid yesterday and not shipped;
    products running out; promotions; members holding points."""
    settings.SHOP_LOW_STOCK = 5
    start, _end = today_bounds()
    now = timezone.now()
    earlier = max(start, now - dt.timedelta(minutes=30))
    OrderFactory(status="paid", subtotal=Decimal("30.00"), placed_at=earlier, paid_at=earlier)
    OrderFactory(status="shipped", subtotal=Decimal("12.50"), placed_at=earlier, paid_at=earlier)
    OrderFactory(status="refunded", subtotal=Decimal("99.00"), placed_at=earlier, paid_at=earlier)
    OrderFactory(status="pending_payment", subtotal=Decimal("5.00"), placed_at=earlier, paid_at=None)
    yesterday = now - dt.timedelta(hours=26)  # before today's midnight, whatever the time now
    OrderFactory(status="paid", subtotal=Decimal("1000.00"), placed_at=yesterday, paid_at=yesterday)
    OrderFactory(status="delivered", subtotal=Decimal("7.00"), placed_at=yesterday, paid_at=yesterday)
    for stock in (0, 2, 5, 6, 40):
        ProductFactory(stock=stock)
    ProductFactory(stock=1, is_active=False)  # not for sale: not counted
    for name, starts, ends, active in [
        ("Running", -5, 30, True),
        ("Ending", -5, 3, True),
        ("Ended", -30, -1, True),
        ("Off", -5, 30, False),
        ("Later", 2, 30, True),
    ]:
        Promotion.objects.create(
            name=name,
            kind="percentage",
            value=Decimal("10"),
            is_active=active,
            starts_at=now + dt.timedelta(days=starts),
            ends_at=now + dt.timedelta(days=ends),
        )
    for points in (2000, 848):
        Account.objects.create(user=UserFactory(), balance=points)


def figures(response) -> dict:
    return {f.label: f for f in response.context["figures"]}


def test_it_shows_todays_figures(admin_client, store):
    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    shown = {label: (f.value, f.note) for label, f in figures(response).items()}
    assert shown == {
        "Orders today": ("4", "2 paid"),
        "Revenue today": ("$42.50", "from 2 paid orders"),
        "Orders to ship": ("2", "the oldest paid 1\xa0day ago"),
        "Low stock": ("2", "1 product sold out"),
        "Running promotions": ("2", "1 ends within 7 days"),
        "Points owed": ("$28.48", "2,848 points held by 2 members"),
        "Ads waiting for a decision": ("0", "0 new, 0 hidden after reports, 0 reported while shown"),
    }
    html = response.content.decode()
    assert "Orders to ship" in html and "$42.50" in html and "2,848 points held by 2 members" in html


def test_each_figure_links_to_the_list_of_the_rows_it_counts(admin_client, store):
    shown = figures(admin_client.get(reverse("admin:index")))

    expected = {"Orders today": 4, "Revenue today": 2, "Orders to ship": 2, "Low stock": 2, "Running promotions": 2}
    for label, count in expected.items():
        response = admin_client.get(shown[label].url)
        assert response.status_code == 200, label
        assert response.context["cl"].result_count == count, label
    assert admin_client.get(shown["Points owed"].url).status_code == 200


def test_the_revenue_is_written_in_the_readers_language_with_its_currency(admin_client, store):
    response = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="de")

    values = [f.value for f in response.context["figures"]]
    assert "42,50\xa0$" in values  # German: a decimal comma, the currency after
    assert "42,50\xa0$" in response.content.decode()


def test_a_staff_member_sees_only_the_figures_of_what_they_may_view(client, store):
    clerk = StaffFactory(email="clerk@example.org", is_superuser=False)
    clerk.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(clerk)

    response = client.get(reverse("admin:index"))

    assert list(figures(response)) == ["Low stock"]
    html = response.content.decode()
    assert "Revenue today" not in html and "$42.50" not in html and "Points owed" not in html


def test_a_staff_member_without_any_of_those_permissions_sees_no_figures(client, store):
    clerk = StaffFactory(email="clerk@example.org", is_superuser=False)
    client.force_login(clerk)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["figures"] == []
    assert 'class="admin-home-figures"' not in response.content.decode()


def test_the_home_spends_the_same_few_queries_whatever_the_store_holds(admin_client, store, django_assert_num_queries):
    admin_client.get(reverse("admin:index"))  # the program's rules are read once, then cached
    # The user, one query per app's figures (orders, stock, promotions, points, the board), the recent actions.
    with django_assert_num_queries(7):
        admin_client.get(reverse("admin:index"))
    for _i in range(20):
        OrderFactory(status="paid", paid_at=timezone.now(), placed_at=timezone.now())
        ProductFactory(stock=1)
    with django_assert_num_queries(7):
        assert figures(admin_client.get(reverse("admin:index")))["Orders to ship"].value == "22"


def test_the_apps_come_in_the_order_staff_use_them_and_the_technical_ones_last(admin_client):
    response = admin_client.get(reverse("admin:index"))

    labels = [app["app_label"] for app in response.context["app_list"]]
    assert labels[:8] == [
        "orders",
        "catalog",
        "adboard",
        "discounts",
        "campaigns",
        "recommendations",
        "loyalty",
        "analytics",
    ]
    assert labels.index("accounts") < labels.index("authtoken")
    assert {"authtoken", "auth", "axes"} == set(labels[-3:])
    html = response.content.decode()
    positions = [html.index(f'class="app-{label} module') for label in ("orders", "catalog", "authtoken")]
    assert positions == sorted(positions)
    # The side menu of every other admin page has the same order.
    side = admin_client.get(reverse("admin:orders_order_changelist")).context["available_apps"]
    assert [app["app_label"] for app in side] == labels


def test_today_is_the_store_days_midnight_to_midnight(settings):
    settings.TIME_ZONE = "America/New_York"
    with timezone.override("America/New_York"):
        start, end = today_bounds(dt.datetime(2026, 3, 8, 15, 0, tzinfo=dt.UTC))  # the clocks go forward that day
    assert (start.isoformat(), end.isoformat()) == ("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00")
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)
    assert re.match(r"\d{4}-\d\d-\d\d 00:00:00", str(start))
