"""A member pays part of an order with points, in a real browser: cart panel -> checkout -> card -> history."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from loyalty.models import Kind, LedgerEntry
from shop.orders.models import Order
from tests.conftest import PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_checkout_journey import GOOD_CARD, fill_card
from tests.factories import ProductFactory, ProductImageFactory, UserFactory
from tests.loyalty.helpers import balance, give, rules

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lamp():
    lamp = ProductFactory(name="Brass Desk Lamp", slug="brass-desk-lamp", price=Decimal("40.00"), stock=3)
    ProductImageFactory(product=lamp, alt_text="Brass Desk Lamp")
    return lamp


@pytest.fixture
def member():
    rules(is_active=True, earn_rate=Decimal(5), redeem_rate=100, min_redeem_points=500, max_redeem_percent=50)
    ada = UserFactory(email="ada@example.org", first_name="Ada", last_name="Lovelace")
    give(ada, 1500, note="Welcome back gift")
    return ada


@pytest.fixture
def points_shot(page):
    """points_shot("cart") saves test-artifacts/e2e/points-NN-cart.png (NN counts up per test)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str):
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")  # a full-page shot taken scrolled shows the sticky header mid-page
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        page.screenshot(path=ARTIFACTS / f"points-{next(counter):02d}-{name}.png", full_page=True)

    return take


def log_in(page: Page) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("navigation", name="Account").get_by_role("button", name="Log out")).to_be_visible()


def use_points_on_the_cart(page: Page, lamp, shot) -> None:
    page.goto(lamp.get_absolute_url())
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    panel = page.get_by_role("region", name="Your points")
    expect(panel).to_contain_text("1,500 points available ($15.00).")
    expect(panel).to_contain_text("This order earns about 200 points once paid.")
    shot("cart")

    panel.get_by_label("Points to use").fill("1000")
    panel.get_by_role("button", name="Use points").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.get_by_role("status").filter(has=page.locator("li"))).to_contain_text("1,000 points used: $10.00 off.")
    summary = page.get_by_role("complementary", name="Summary")
    expect(summary.locator("dl > dt")).to_have_text(["Subtotal", "1,000 points", "Total"])
    expect(summary.locator("dl > dd")).to_have_text(["$40.00", "-$10.00", "$30.00"])
    expect(panel).to_contain_text("1,000 points: −$10.00")
    expect(panel.get_by_role("button", name="Remove points from this order")).to_be_visible()
    shot("points-on-cart")


def check_out(page: Page, shot) -> str:
    page.get_by_role("link", name="Proceed to checkout").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.get_by_label("Email")).to_have_value("ada@example.org")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address line 1").fill("12 Analytical Row")
    page.get_by_label("Postal code").fill("78701")
    page.get_by_label("City").fill("Austin")
    page.get_by_label("Region").fill("TX")
    page.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Continue to review").click()

    expect(page).to_have_url(re.compile(r"/checkout/review/$"))
    summary = page.get_by_role("complementary", name="Order summary")
    expect(summary.locator("dl > dt")).to_have_text(
        ["Subtotal", "Standard delivery (3–5 days)", "1,000 points", "Total"]
    )
    expect(summary.locator("dl > dd")).to_have_text(["$40.00", "$5.00", "-$10.00", "$35.00"])
    expect(page.get_by_role("region", name="Your points")).to_contain_text("1,000 points: −$10.00")
    shot("review")
    page.get_by_role("button", name="Place order and pay $35.00").click()

    expect(page).to_have_url(re.compile(r"/orders/[A-Z0-9]+/pay/$"))
    return re.search(r"/orders/([A-Z0-9]+)/pay/", page.url).group(1)


def test_a_member_pays_part_of_an_order_with_points(page: Page, live_server, localstripe, lamp, member, points_shot):
    log_in(page)
    use_points_on_the_cart(page, lamp, points_shot)
    number = check_out(page, points_shot)

    fill_card(page, GOOD_CARD)
    points_shot("card")
    page.get_by_role("button", name="Pay $35.00").click()

    expect(page).to_have_url(re.compile(rf"/orders/{number}/\?placed=1$"))
    expect(page.get_by_role("heading", level=1, name="Thank you! Your order is confirmed.")).to_be_visible()
    # The confirmation says what the order earns, dark on light (readable inside the green banner).
    earned = page.locator(".order-points")
    expect(earned).to_contain_text("This order earns you 150 points, usable from")
    expect(earned).to_have_css("color", "rgb(29, 35, 48)")
    points_shot("confirmation")
    totals = page.locator("aside.summary dl")
    expect(totals.locator("dt")).to_have_text(["Subtotal", "Standard delivery (3–5 days)", "1,000 points", "Total"])
    expect(totals.locator("dd")).to_have_text(["$40.00", "$5.00", "-$10.00", "$35.00"])
    points_shot("order")

    order = Order.objects.get(number=number)
    assert order.status == "paid"
    assert order.total == Decimal("35.00")
    assert order.adjustments.get(kind="points").amount == Decimal("-10.00")
    assert LedgerEntry.objects.get(order=order, kind=Kind.REDEEM).points == -1000

    # The account's points page: the redemption in the history, the order's points pending.
    page.get_by_role("navigation", name="Account").get_by_role("link", name="My account").click()
    account_panel = page.get_by_role("region", name="Your points")
    # The headline is what can be spent now; the pending points and the whole balance are said as such.
    expect(account_panel).to_contain_text("500 points available now, worth $5.00 off your orders.")
    expect(account_panel).to_contain_text("150 points pending, usable from")
    expect(account_panel).to_contain_text("Balance: 650 points in all.")
    points_shot("account")
    account_panel.get_by_role("link", name="Your points history, tiers and referral link").click()
    expect(page.get_by_role("heading", level=1, name="Your points")).to_be_visible()
    history = page.get_by_role("table", name="Every change to your points, newest first")
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(f"Earned on order {number}")
    expect(rows.nth(0)).to_contain_text("pending until")
    expect(rows.nth(0)).to_contain_text("+150")
    expect(rows.nth(1)).to_contain_text(f"Used on order {number}")
    expect(rows.nth(1)).to_contain_text("−1,000")
    expect(rows.nth(1).locator("td").last).to_have_text("500")
    expect(rows.nth(2)).to_contain_text("Adjusted by our team: Welcome back gift")
    expect(page.get_by_label("Your referral link")).to_have_value(re.compile(r"^http://[^/]+/r/[A-Z0-9]{8}/$"))
    points_shot("points-page")
    assert balance(member) == 650  # 1500 - 1000 + 150 pending
