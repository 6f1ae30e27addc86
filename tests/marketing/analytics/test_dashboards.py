"""The dashboards as staff see them: who may open them, the figures beside their comparison, CSV."""

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from marketing.analytics import reports, rollups
from marketing.analytics.models import Event
from marketing.analytics.recorder import store_day
from tests.factories import OrderFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = dt.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch, settings):
    settings.ANALYTICS_TIME_ZONE = "UTC"
    monkeypatch.setattr(rollups, "today", lambda: TODAY)


def noon(day):
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def order(day, total):
    return OrderFactory(placed_at=noon(day), paid_at=noon(day), subtotal=D(total), total=D(total))


def visit(day, *names):
    visit_id = uuid.uuid4()
    for name in names:
        Event.objects.create(name=name, at=noon(day), day=store_day(noon(day)), visit=visit_id, device="mobile")


def staff_client(*perms):
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = Client()
    client.force_login(staff)
    return client


def build(*days):
    for day in days:
        rollups.build_day(day)


def test_only_staff_with_the_permission_open_the_dashboards():
    customer = Client()
    customer.force_login(UserFactory())
    for client, expected in (
        (Client(), 302),  # to the admin login
        (customer, 302),
        (staff_client(), 403),
        (staff_client("view_dashboard"), 200),
    ):
        for name in ("sales", "funnel"):
            assert client.get(f"/admin/analytics/dashboard/{name}/").status_code == expected, (name, expected)
    assert staff_client("view_dashboard").get("/admin/analytics/dashboard/").url.endswith("/dashboard/sales/")


def test_sales_show_the_period_beside_the_previous_one():
    june_10, may_31 = dt.date(2026, 6, 10), dt.date(2026, 5, 31)
    order(june_10, "30.00")
    order(june_10, "50.00")
    order(may_31, "40.00")  # in the previous 30 days
    build(june_10, may_31)
    response = staff_client("view_dashboard").get("/admin/analytics/dashboard/sales/?from=2026-06-01&to=2026-06-30")
    assert response.status_code == 200
    cards = {c["key"]: c for c in response.context["data"]["cards"]}
    assert (cards["revenue"]["value"], cards["revenue"]["before"]) == (D("80.00"), D("40.00"))
    assert cards["revenue"]["change"] == 1  # +100%
    assert cards["average_order"]["value"] == D("40.00")
    html = response.content.decode()
    assert "$80.00" in html and "+100.0%" in html and "<svg" in html
    assert response.context["before"] == reports.Period(dt.date(2026, 5, 2), dt.date(2026, 5, 31))


def test_today_is_worked_out_live_and_unbuilt_days_are_named():
    order(TODAY, "25.00")
    order(dt.date(2026, 6, 29), "10.00")  # yesterday, not built
    response = staff_client("view_dashboard").get("/admin/analytics/dashboard/sales/?from=2026-06-29&to=2026-06-30")
    cards = {c["key"]: c for c in response.context["data"]["cards"]}
    assert cards["revenue"]["value"] == D("25.00")
    assert response.context["missing"] == [dt.date(2026, 6, 29)]
    assert "has no figures yet" in response.content.decode()


def test_the_funnel_counts_visits_at_each_step():
    day = dt.date(2026, 6, 20)
    visit(day, "page_view")
    visit(day, "page_view", "view_item")
    visit(day, "view_item", "add_to_cart")
    visit(day, "view_item", "add_to_cart", "begin_checkout", "purchase")
    build(day)
    response = staff_client("view_dashboard").get(
        f"/admin/analytics/dashboard/funnel/?from={day}&to={day}&compare=none"
    )
    data = response.context["data"]
    assert [s["value"] for s in data["steps"]] == [4, 3, 2, 1, 1]
    assert data["conversion"] == D("0.25")
    assert data["abandonment"] == D("0.5")
    assert data["by_device"][0]["key"] == "mobile" and data["by_device"][0]["visits"] == 4
    assert response.context["before"] is None


def test_each_table_downloads_as_csv():
    day = dt.date(2026, 6, 20)
    order(day, "12.00")
    build(day)
    response = staff_client("view_dashboard").get(
        f"/admin/analytics/dashboard/sales/?from={day}&to={day}&format=csv&table=days"
    )
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="sales-days-2026-06-20-2026-06-20.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [["day", "orders", "revenue", "units", "refunds"], ["2026-06-20", "1.00", "12.00", "0.00", "0.00"]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=June&to=2026-06-30", "YYYY-MM-DD"),
        ("from=2026-06-30&to=2026-06-01", "starts after it ends"),
        ("from=2026-06-01&to=2026-07-30", "ends after today"),
        ("from=2020-01-01&to=2026-06-30", "at most three years"),
    ],
)
def test_a_bad_period_is_a_clear_400_with_the_default_period(query, message):
    response = staff_client("view_dashboard").get(f"/admin/analytics/dashboard/sales/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_sales_dashboard_reads_a_fixed_number_of_queries(django_assert_max_num_queries):
    for n in range(20):
        day = dt.date(2026, 6, 1) + dt.timedelta(days=n)
        order(day, "10.00")
        build(day)
    client = staff_client("view_dashboard")
    with django_assert_max_num_queries(30):
        assert client.get("/admin/analytics/dashboard/sales/?from=2026-06-01&to=2026-06-29").status_code == 200


def test_a_compared_period_without_figures_is_named():
    day = dt.date(2026, 6, 20)
    order(day, "12.00")
    build(day)
    client = staff_client("view_dashboard")
    response = client.get(f"/admin/analytics/dashboard/sales/?from={day}&to={day}&compare=year")
    assert response.context["before_empty"] and "has no figures" in response.content.decode()
    build(day - dt.timedelta(days=1))
    response = client.get(f"/admin/analytics/dashboard/sales/?from={day}&to={day}&compare=previous")
    assert not response.context["before_empty"]


def api_client(*perms, staff=True):
    from rest_framework.test import APIClient

    user = StaffFactory(is_superuser=False) if staff else UserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_gives_staff_with_the_permission_the_dashboards_data():
    from rest_framework.test import APIClient

    day = dt.date(2026, 6, 20)
    order(day, "12.00")
    order(day - dt.timedelta(days=1), "8.00")
    build(day, day - dt.timedelta(days=1))
    url = f"/api/v1/analytics/sales/?from={day}&to={day}"
    assert APIClient().get(url).status_code in (401, 403)
    assert api_client("view_dashboard", staff=False).get(url).status_code == 403  # a customer, even with the perm
    assert api_client().get(url).status_code == 403  # staff without it
    body = api_client("view_dashboard").get(url).json()
    revenue = next(c for c in body["cards"] if c["key"] == "revenue")
    assert (revenue["value"], revenue["before"], revenue["change"]) == ("12.00", "8.00", "0.5000")
    assert body["period"] == {"start": "2026-06-20", "end": "2026-06-20"}
    assert body["compared"] == {"start": "2026-06-19", "end": "2026-06-19"} and body["currency"] == "USD"
    funnel = api_client("view_dashboard").get(f"/api/v1/analytics/funnel/?from={day}&to={day}&compare=none").json()
    assert funnel["compared"] is None and [s["key"] for s in funnel["steps"]][0] == "visits"


@pytest.mark.parametrize("query", ["from=June", "from=2026-07-01&to=2026-06-01", "compare=decade"])
def test_the_api_answers_a_bad_query_with_a_400_and_its_reason(query):
    response = api_client("view_dashboard").get(f"/api/v1/analytics/sales/?{query}")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_sales_by_week_and_by_month():
    for day, total in ((dt.date(2026, 6, 1), "10.00"), (dt.date(2026, 6, 7), "20.00"), (dt.date(2026, 6, 8), "5.00")):
        order(day, total)
        build(day)
    client = staff_client("view_dashboard")
    weeks = client.get("/admin/analytics/dashboard/sales/?from=2026-05-30&to=2026-06-08&group=week").context["data"]
    assert [(r["day"], r["revenue"]) for r in weeks["days"]] == [
        (dt.date(2026, 5, 25), D(0)), (dt.date(2026, 6, 1), D("30.00")), (dt.date(2026, 6, 8), D("5.00")),
    ]  # fmt: skip
    months = api_client("view_dashboard").get("/api/v1/analytics/sales/?from=2026-05-30&to=2026-06-08&group=month")
    assert [(r["day"], r["revenue"]) for r in months.json()["days"]] == [
        ("2026-05-01", "0.00"),
        ("2026-06-01", "35.00"),
    ]
    assert api_client("view_dashboard").get("/api/v1/analytics/sales/?group=year").status_code == 400


def test_the_marketing_dashboard_shows_each_app_s_panel():
    from marketing.discounts.models import Promotion, Redemption

    day = dt.date(2026, 6, 20)
    promoted = order(day, "90.00")
    order(day, "30.00")
    order(day, "50.00")
    summer = Promotion.objects.create(name="Summer 10", kind="percent", value=D("10"), is_active=True)
    Redemption.objects.create(promotion=summer, order=promoted, amount=D("10.00"), currency="USD")
    build(day)  # the promotions' panel reads the daily figures its app adds (ANALYTICS_DAILY_SOURCES)
    client = staff_client("view_dashboard")
    response = client.get(f"/admin/analytics/dashboard/marketing/?from={day}&to={day}")
    assert response.status_code == 200
    panels = {p["key"]: p for p in response.context["data"]["panels"]}
    assert set(panels) == {"promotions", "loyalty", "recommendations", "campaigns", "assistant"}
    promotions = panels["promotions"]["context"]
    assert promotions["rows"] == [{"promotion": "Summer 10", "uses": 1, "discount": D("10.00"), "revenue": D("90.00"),
                                   "average_order": D("90.00")}]  # fmt: skip
    assert (promotions["orders_without"], promotions["average_without"]) == (2, D("40.00"))
    html = response.content.decode()
    assert "Summer 10" in html and "a correlation, not what the promotion caused" in html
    csv_response = client.get(f"/admin/analytics/dashboard/marketing/?from={day}&to={day}&format=csv&table=promotions")
    assert csv_response.content.decode().splitlines()[1] == "Summer 10,1,10.00,90.00,90.00"


def test_the_api_gives_the_marketing_panels_with_amounts_as_decimal_strings():
    from marketing.discounts.models import Promotion, Redemption

    day = dt.date(2026, 6, 20)
    promoted = order(day, "90.00")
    summer = Promotion.objects.create(name="Summer 10", kind="percent", value=D("10"), is_active=True)
    Redemption.objects.create(promotion=summer, order=promoted, amount=D("10.00"), currency="USD")
    build(day)
    body = api_client("view_dashboard").get(f"/api/v1/analytics/marketing/?from={day}&to={day}").json()
    promotions = next(p for p in body["panels"] if p["key"] == "promotions")
    assert promotions["rows"] == [
        {"promotion": "Summer 10", "uses": 1, "discount": "10.00", "revenue": "90.00", "average_order": "90.00"}
    ]


def test_a_huge_change_is_answered_not_a_500():
    day = dt.date(2026, 6, 20)
    order(day - dt.timedelta(days=1), "0.01")
    order(day, "9999999.99")
    build(day - dt.timedelta(days=1), day)
    body = api_client("view_dashboard").get(f"/api/v1/analytics/sales/?from={day}&to={day}").json()
    revenue = next(c for c in body["cards"] if c["key"] == "revenue")
    assert revenue["change"] == "999999998.0000"


def test_today_s_promotions_are_worked_out_live():
    from marketing.discounts.models import Promotion, Redemption

    promoted = order(TODAY, "80.00")
    order(TODAY, "20.00")
    today = Promotion.objects.create(name="Today only", kind="percent", value=D("10"), is_active=True)
    Redemption.objects.create(promotion=today, order=promoted, amount=D("8.00"), currency="USD")
    response = staff_client("view_dashboard").get(f"/admin/analytics/dashboard/marketing/?from={TODAY}&to={TODAY}")
    promotions = next(p for p in response.context["data"]["panels"] if p["key"] == "promotions")["context"]
    assert promotions["rows"][0]["promotion"] == "Today only" and promotions["rows"][0]["revenue"] == D("80.00")
    assert (promotions["orders_without"], promotions["average_without"]) == (1, D("20.00"))
