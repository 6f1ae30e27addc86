"""The analytics dashboards in a real browser, at desktop and phone widths."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from marketing.analytics import customers, rollups
from marketing.analytics.models import Event
from marketing.analytics.recorder import store_day
from tests.conftest import PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.factories import OrderFactory, StaffFactory

DAYS = 14


@pytest.fixture
def history(settings):
    """Two weeks of orders and visits, built into figures; and a staff member who may read them."""
    settings.ANALYTICS_TIME_ZONE = "UTC"
    today = rollups.today()
    for n in range(1, DAYS + 1):
        day = today - dt.timedelta(days=n)
        noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        for i in range(n % 4 + 1):
            OrderFactory(placed_at=noon, paid_at=noon, subtotal=Decimal(20 + 5 * i), total=Decimal(20 + 5 * i))
        for i in range(30):
            visit = uuid.uuid4()
            names = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"][: 1 + i % 5]
            where = {"device": ["mobile", "desktop"][i % 2], "source": ["Google", "direct"][i % 2]}
            for name in names:
                Event.objects.create(name=name, at=noon, day=store_day(noon), visit=visit, **where)
    rollups.build_days(today - dt.timedelta(days=DAYS), today - dt.timedelta(days=1))
    staff = StaffFactory(is_superuser=False, email="analyst@example.com")
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    return staff


def log_in(page: Page, email: str) -> None:
    page.goto("/admin/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    expect(page.get_by_text("Dashboards")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_read_the_sales_and_the_funnel(page: Page, live_server, history, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, history.email)
    page.get_by_role("link", name="Dashboards").first.click()
    expect(page.get_by_role("heading", name="Analytics: Sales")).to_be_visible()
    expect(page.locator("#card-orders .figure")).not_to_have_text("0")
    expect(page.locator(".chart polyline")).to_have_count(2)  # this period and the one before
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"dashboard-sales-{width}.png", full_page=True)

    page.get_by_role("link", name="Funnel").click()
    expect(page.get_by_role("heading", name="Analytics: Funnel")).to_be_visible()
    expect(page.locator("#step-visits .figure")).to_have_text(str(30 * DAYS))
    expect(page.locator("#step-visits_buying .figure")).to_have_text(str(6 * DAYS))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=ARTIFACTS / f"dashboard-funnel-{width}.png", full_page=True)

    with page.expect_download() as download:
        page.locator("a.csv").first.click()
    assert download.value.suggested_filename.startswith("funnel-steps-")


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_read_the_customers_and_the_forecast(page: Page, live_server, history, width):
    customers.score()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, history.email)
    page.goto("/admin/analytics/dashboard/sales/")
    page.get_by_role("link", name="Customers", exact=True).click()
    expect(page.get_by_role("heading", name="Analytics: Customers")).to_be_visible()
    expect(page.get_by_role("heading", name="RFM segments")).to_be_visible()
    expect(page.locator("table.heatmap").first).to_be_visible()
    page.select_option("select[name=rows]", "gender")
    page.select_option("select[name=cols]", "age")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Revenue by gender and age band")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=ARTIFACTS / f"dashboard-customers-{width}.png", full_page=True)

    page.get_by_role("link", name="Forecast").click()
    expect(page.get_by_role("heading", name="Analytics: Forecast")).to_be_visible()
    expect(page.locator(".chart polyline")).to_have_count(2)  # past weeks, and the forecast
    expect(page.get_by_role("heading", name="Methods, tried on the past")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=ARTIFACTS / f"dashboard-forecast-{width}.png", full_page=True)
