"""The customers and forecast dashboards and the sales' best and worst products, as staff and API clients see them."""

import csv
import datetime as dt
import io
import math
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from marketing.analytics import customers, dashboards, reports, rollups
from marketing.analytics.models import DailyFigure, Segment
from shop.orders.models import OrderLine
from tests.factories import OrderFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = dt.date(2026, 6, 30)  # a Tuesday


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch, settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    settings.SHOP_CURRENCY = "USD"
    monkeypatch.setattr(rollups, "today", lambda: TODAY)


def noon(day):
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def paid(day, email, total):
    return OrderFactory(email=email, placed_at=noon(day), paid_at=noon(day), subtotal=D(total), total=D(total))


def staff_client(*perms):
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(staff)
    return client


def api_client(*perms, staff=True):
    user = StaffFactory(is_superuser=False) if staff else UserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


def revenue_days(values: dict[dt.date, str]):
    """Built days with these revenues (the forecast reads nothing else)."""
    for day, value in values.items():
        DailyFigure.objects.create(day=day, measure="revenue", value=D(value))


# --- Customers ----------------------------------------------------------------------------------------------------


def test_customers_dashboard_is_staff_only_with_the_permission():
    customer = Client()
    customer.force_login(UserFactory())
    for client, expected in (
        (Client(), 302),
        (customer, 302),
        (staff_client(), 403),
        (staff_client("view_dashboard"), 200),
    ):
        for name in ("customers", "forecast"):
            assert client.get(f"/admin/analytics/dashboard/{name}/").status_code == expected, (name, expected)
    for client, expected in ((Client(), 401), (api_client("view_dashboard", staff=False), 403), (api_client(), 403)):
        for name in ("customers", "forecast"):
            assert client.get(f"/api/v1/analytics/{name}/").status_code == expected, (name, expected)


def test_customers_dashboard_before_any_scoring_says_so():
    response = staff_client("view_dashboard").get("/admin/analytics/dashboard/customers/")
    assert response.status_code == 200
    assert "have not been scored yet" in response.content.decode()


def test_customers_dashboard_shows_new_and_returning_segments_and_cohorts():
    paid(dt.date(2026, 5, 1), "ann@example.com", "40.00")
    paid(dt.date(2026, 6, 10), "ann@example.com", "60.00")  # returning
    paid(dt.date(2026, 6, 12), "bob@example.com", "25.00")  # new
    for day in (dt.date(2026, 5, 1), dt.date(2026, 6, 10), dt.date(2026, 6, 12)):
        rollups.build_day(day)
    customers.score()
    client = staff_client("view_dashboard")
    response = client.get("/admin/analytics/dashboard/customers/?from=2026-06-01&to=2026-06-30")
    assert response.status_code == 200
    data = response.context["data"]
    cards = {c["key"]: c for c in data["cards"]}
    assert cards["new_customers"]["value"] == 1
    assert cards["returning_orders"]["value"] == 1
    assert cards["returning_revenue"]["value"] == D("60.00")
    assert cards["returning_share"]["value"] == D("60.00") / D("85.00")
    assert data["repeat_rate"] == D("0.5")
    assert [c["month"] for c in data["cohorts"]] == [dt.date(2026, 6, 1)]  # May's cohort began before the period
    assert data["cohorts"][0]["active"] == [1]
    page = response.content.decode()
    assert "RFM segments" in page and "Cohort retention" in page and "What the figures mean" in page

    body = client.get("/admin/analytics/dashboard/customers/?from=2026-05-01&to=2026-06-30&format=csv&table=cohorts")
    rows = list(csv.DictReader(io.StringIO(body.content.decode())))
    may = next(r for r in rows if r["month"] == "2026-05-01")
    assert (may["size"], may["month_0"], may["month_1"]) == ("1", "1", "1")


def test_customers_api_gives_the_same_figures_and_refuses_a_bad_cross():
    paid(dt.date(2026, 6, 10), "ann@example.com", "60.00")
    rollups.build_day(dt.date(2026, 6, 10))
    customers.score()
    client = api_client("view_dashboard")
    body = client.get("/api/v1/analytics/customers/?from=2026-06-01&to=2026-06-29&rows=gender&cols=age").json()
    assert body["as_of"] == "2026-06-30" and body["customers"] == 1
    assert body["rows"] == "gender" and body["cols"] == "age"
    assert body["crossed"] == [{"row": "unknown", "col": "unknown", "orders": "1.00", "revenue": "60.00"}]
    assert {s["key"] for s in body["segments"]} == set(Segment.values)
    assert sum(s["customers"] for s in body["segments"]) == 1
    for query, field in (("rows=age&cols=age", "cols"), ("rows=city", "rows"), ("weeks=5", None)):
        response = client.get(f"/api/v1/analytics/customers/?{query}")
        if field is None:  # another dashboard's option is not this one's business
            assert response.status_code == 200
            continue
        assert response.status_code == 400 and response.json()["errors"][field], query


def test_customers_dashboard_reads_a_fixed_number_of_queries(django_assert_max_num_queries):
    for n in range(30):
        paid(dt.date(2026, 6, 1) + dt.timedelta(days=n % 20), f"c{n % 12}@example.com", "10.00")
    rollups.build_days(dt.date(2026, 6, 1), dt.date(2026, 6, 29))
    customers.score()
    client = staff_client("view_dashboard")
    # Today's figures are built on the way (campaigns' daily sources among them: 3 of the 33).
    with django_assert_max_num_queries(33):
        assert client.get("/admin/analytics/dashboard/customers/?from=2026-06-01").status_code == 200


# --- Forecast -----------------------------------------------------------------------------------------------------


def test_a_steady_store_is_forecast_exactly_and_the_range_is_tight():
    first = dt.date(2026, 1, 5)  # a Monday
    revenue_days({first + dt.timedelta(days=n): "100.00" for n in range((TODAY - first).days)})
    data = dashboards.forecast(reports.Period(dt.date(2026, 6, 1), TODAY), "none")
    assert data["origin"] == dt.date(2026, 6, 28)  # the last Sunday before today
    assert data["chosen"] in {"naive", "average"}
    assert [row["forecast"] for row in data["ahead"]] == [D("700.00")] * dashboards.FORECAST_WEEKS
    assert all(row["low"] == row["high"] == D("700.00") for row in data["ahead"])
    errors = {m["key"]: m["error"] for m in data["methods"]}
    assert errors["naive"] == 0 and errors["seasonal"] is None  # half a year: no year to look back on


def test_a_seasonal_store_is_forecast_from_the_year_before():
    first = dt.date(2024, 6, 3)  # a Monday, two years back
    days = {}
    for n in range((TODAY - first).days):
        day = first + dt.timedelta(days=n)
        days[day] = f"{100 + 50 * math.sin(2 * math.pi * n / 364):.2f}"  # the same wave every 52 weeks
    revenue_days(days)
    data = dashboards.forecast(reports.Period(dt.date(2026, 6, 1), TODAY), "none", weeks=8)
    assert data["chosen"] in {"seasonal", "seasonal_trend"}
    for row in data["ahead"]:
        year_before = sum(D(days[row["week"] - dt.timedelta(weeks=52) + dt.timedelta(days=k)]) for k in range(7))
        assert abs(row["forecast"] - year_before) <= year_before * D("0.01"), row
    naive = next(m for m in data["methods"] if m["key"] == "naive")
    chosen = next(m for m in data["methods"] if m["key"] == data["chosen"])
    assert chosen["error"] < naive["error"] / 10


def test_a_forecast_made_in_the_past_shows_what_happened():
    first = dt.date(2026, 1, 5)
    revenue_days({first + dt.timedelta(days=n): str(100 + n) for n in range((TODAY - first).days)})
    data = dashboards.forecast(reports.Period(dt.date(2026, 4, 1), dt.date(2026, 5, 3)), "none", weeks=4)
    assert data["origin"] == dt.date(2026, 5, 3)
    week = data["ahead"][0]
    assert week["week"] == dt.date(2026, 5, 4)
    assert week["actual"] == sum(D(100 + (week["week"] - first).days + k) for k in range(7))


def test_the_forecast_api_and_page():
    first = dt.date(2026, 1, 5)
    revenue_days({first + dt.timedelta(days=n): "100.00" for n in range((TODAY - first).days)})
    body = api_client("view_dashboard").get("/api/v1/analytics/forecast/?weeks=4&compare=year").json()
    assert body["compared"] is None and body["weeks"] == 4 and len(body["ahead"]) == 4
    assert body["ahead"][0] == {"week": "2026-06-29", "forecast": "700.00", "low": "700.00", "high": "700.00",
                                "actual": None}  # fmt: skip
    assert api_client("view_dashboard").get("/api/v1/analytics/forecast/?weeks=3").status_code == 400
    page = staff_client("view_dashboard").get("/admin/analytics/dashboard/forecast/?weeks=4")
    assert page.status_code == 200 and "Methods, tried on the past" in page.content.decode()
    assert page.context["chart"]["lines"][1]["points"]  # the forecast line is drawn


def test_without_sales_there_is_nothing_to_forecast():
    page = staff_client("view_dashboard").get("/admin/analytics/dashboard/forecast/")
    assert page.status_code == 200 and "Not enough weekly history" in page.content.decode()


# --- Sales: best and worst products ------------------------------------------------------------------------------


def test_products_ranked_by_revenue_and_view_to_purchase_rate():
    day = dt.date(2026, 6, 10)
    often, rarely, unseen = ProductFactory(name="Often"), ProductFactory(name="Rarely"), ProductFactory(name="Unseen")
    for product, views in ((often, 20), (rarely, 40), (unseen, 5)):
        DailyFigure.objects.create(day=day, measure="product_views", dimension="product", key=str(product.pk),
                                   value=views)  # fmt: skip
    for product, orders in ((often, 10), (rarely, 2), (unseen, 1)):
        for _n in range(orders):
            order = paid(day, "a@example.com", "10.00")
            OrderLine.objects.create(order=order, product=product, sku=product.sku, name=product.name,
                                     unit_price=D("10.00"), quantity=1, subtotal=D("10.00"), discount=D(0))  # fmt: skip
    for f in rollups.figures_for_day(day):
        if f.measure != "product_views":
            f.save()
    data = dashboards.sales(reports.Period(day, day), "none")
    assert [r["name"] for r in data["best_rate"]] == ["Often", "Rarely"]  # Unseen: too few views to rank
    assert data["best_rate"][0]["rate"] == D("0.5") and data["worst_rate"][0]["rate"] == D("0.05")
    assert [r["name"] for r in data["best_revenue"]] == ["Often", "Rarely", "Unseen"]
    assert data["worst_revenue"][0]["name"] == "Unseen" and data["worst_revenue"][0]["revenue"] == D("10.00")
    body = api_client("view_dashboard").get("/api/v1/analytics/sales/?from=2026-06-10&to=2026-06-10").json()
    assert body["best_rate"][0]["name"] == "Often" and body["min_views"] == dashboards.MIN_VIEWS
