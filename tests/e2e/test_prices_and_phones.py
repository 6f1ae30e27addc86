"""Prices that agree and pages that fit, in a real browser, at 1366x900 and at 390x844 (a phone).

- the cart's line costs what the product page said while an automatic promotion runs;
- the card form has labelled fields: 4242… pays, 0341 is declined and said so in the error style;
- the cart and My orders are labelled cards on a phone;
- no page of the journey (cart, checkout steps, pay, confirmation, order, my orders, account,
  points) is wider than the screen at 390 px.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from marketing.discounts.models import Promotion
from shop.orders.models import Order
from tests.conftest import PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_checkout_journey import (
    DECLINED_CARD,
    GOOD_CARD,
    add_to_cart_and_fill_the_details,
    fill_card,
    review_and_place,
)
from tests.factories import OrderFactory, ProductFactory, ProductImageFactory, UserFactory
from tests.loyalty.helpers import give, rules

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SIZES))
def size(request, page: Page) -> str:
    page.set_viewport_size(SIZES[request.param])
    return request.param


@pytest.fixture
def look(page: Page, size):
    """look("cart") checks the page is no wider than the screen and saves test-artifacts/e2e/fit-<size>-NN-cart.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str, prefix: str = "fit"):
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        page.screenshot(path=ARTIFACTS / f"{prefix}-{size}-{next(counter):02d}-{name}.png", full_page=True)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{step}: the page is {width[0]} px wide on a {width[1]} px screen"

    return take


def labelled_cell(cell) -> str:
    """The label a card shows before a cell's value (its ::before content), or "" when none shows."""
    return cell.evaluate(
        """cell => {
            const style = getComputedStyle(cell, "::before");
            return style.display === "none" ? "" : style.content;
        }"""
    )


@pytest.fixture
def shirt():
    shirt = ProductFactory(name="Oxford Shirt", slug="oxford-shirt", price=Decimal("140.95"), stock=5)
    ProductImageFactory(product=shirt, alt_text="Oxford Shirt")
    return shirt


@pytest.fixture
def autumn_sale():
    """An automatic promotion anyone gets, with a cap: the product page shows its price and its terms."""
    return Promotion.objects.create(
        name="Autumn sale", kind="percentage", value=Decimal("10"), max_discount=Decimal("60"), requires_code=False
    )


def test_the_cart_line_costs_what_the_product_page_said(page: Page, live_server, size, shirt, autumn_sale, look):
    page.goto(shirt.get_absolute_url())
    price = page.locator(".price.big")
    promised = price.locator(".now").inner_text()
    assert promised == "$126.85"  # 140.95 less 10%
    expect(price.locator("s")).to_have_text("$140.95")
    expect(price).to_contain_text("Autumn sale")
    expect(price.locator(".offer-terms")).to_have_text("10% off, up to $60")  # the cap is said
    look("product", prefix="prices")

    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    line = page.locator("tr.cart-line")
    expect(line.locator(".line-price .now")).to_have_text(promised)
    expect(line.locator(".line-price s")).to_have_text("$140.95")
    expect(line.locator(".line-total .now")).to_have_text(promised)
    expect(line.locator(".line-offer")).to_have_text("Autumn sale 10% off, up to $60")
    summary = page.get_by_role("complementary", name="Summary")
    expect(summary.locator("dl > dt")).to_have_text(["Subtotal", "Total"])  # the saving is on the line, once
    expect(summary.locator("dl > dd")).to_have_text([promised, promised])
    expect(summary.locator(".line-savings")).to_contain_text("$14.10 off with our current offers")
    # The table stays a table with its column headers for screen readers, at any width.
    table = page.get_by_role("table", name="Products in your cart")
    expect(table.get_by_role("columnheader")).to_have_count(5)
    expect(table.get_by_role("row")).to_have_count(2)

    cells = {name: line.locator(f"td.{cls}") for name, cls in [("Price", "line-price"), ("Total", "line-total")]}
    if size == "phone":
        # One card per line: each value with its label, the card no wider than the screen.
        assert line.evaluate("row => getComputedStyle(row).display") == "flex"
        for label, cell in cells.items():
            assert label in labelled_cell(cell)
        assert "Quantity" in labelled_cell(line.locator("td").nth(2))
        box = line.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    else:
        for cell in cells.values():
            assert labelled_cell(cell) in ("", "none")
    look("cart", prefix="prices")


def test_the_card_form_is_labelled_pays_and_says_a_decline_in_the_error_style(
    page: Page, live_server, localstripe, size, look
):
    lamp = ProductFactory(name="Brass Desk Lamp", slug="brass-desk-lamp", price=Decimal("30.00"), stock=3)
    ProductImageFactory(product=lamp, alt_text="Brass Desk Lamp")
    add_to_cart_and_fill_the_details(page, lamp, lambda step: look(step, prefix="pay"))
    # The review step: the code form comes before the button that places the order.
    expect(page.locator(".place-order")).to_be_visible()
    assert page.evaluate(
        "document.querySelector('.code-form').compareDocumentPosition(document.querySelector('.place-order'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    number = review_and_place(page, lambda step: look(step, prefix="pay"))

    card = page.get_by_role("group", name="Card details")
    for label in ["Card number", "Expiry date", "Security code (CVC)", "Postal code"]:
        expect(card.get_by_label(label)).to_be_visible()
    expect(page.get_by_text("localstripe")).to_have_count(0)
    # Checked before anything is sent: a short number is said at its field.
    card.get_by_label("Card number").fill("4242")
    page.get_by_role("button", name="Pay $35.00").click()
    expect(card.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
    expect(card.get_by_text("Enter the card number: 13 to 19 digits.")).to_be_visible()
    look("pay-form")

    fill_card(page, DECLINED_CARD)
    page.get_by_role("button", name="Pay $35.00").click()
    error = page.locator("#payment-error")
    expect(error).to_contain_text("Your card was declined")
    expect(error).to_have_css("color", "rgb(185, 28, 28)")
    expect(error).to_have_css("background-color", "rgb(254, 242, 242)")
    look("declined")

    # The order's page says so in the error style too, with the way to pay.
    page.goto(f"/orders/{number}/")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your payment was declined.")
    expect(alert).to_have_css("color", "rgb(185, 28, 28)")
    look("order-declined")
    alert.get_by_role("link", name="Pay with another card").click()

    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name="Pay $35.00").click()
    expect(page).to_have_url(re.compile(rf"/orders/{number}/\?placed=1$"))
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you! Your order is confirmed.")
    expect(page.get_by_role("link", name="Continue shopping")).to_be_visible()
    look("confirmation")
    assert Order.objects.get(number=number).status == "paid"

    page.goto(f"/orders/{number}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Order {number}")
    look("order")


def test_my_orders_account_and_points_fit_a_phone(page: Page, live_server, size, look):
    rules(is_active=True)
    ada = UserFactory(email="ada@example.org")
    give(ada, 123456, note="A very long welcome back gift, to see that a long line wraps")
    for n, total in enumerate(["131.90", "1234.50", "12.00"]):
        OrderFactory(
            user=ada,
            placed_at=timezone.now() - timedelta(days=n),
            number=f"BZ{n}TEST{n}X",
            subtotal=Decimal(total),
            status=["paid", "shipped", "cancelled"][n],
        )
    page.goto("/account/login/")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", level=1, name="My account")).to_be_visible()

    page.goto("/account/orders/")
    table = page.get_by_role("table", name="Your orders, newest first")
    expect(table.get_by_role("row")).to_have_count(4)
    first = table.locator("tbody tr").first
    if size == "phone":
        labels = [labelled_cell(cell) for cell in first.locator("th, td").all()]
        for label in ["Order", "Placed", "Items", "Total", "Status"]:
            assert any(label in shown for shown in labels), (label, labels)
    look("my-orders", prefix="account")
    page.goto("/account/")
    look("account", prefix="account")
    page.goto("/account/points/")
    expect(page.get_by_role("heading", level=1, name="Your points")).to_be_visible()
    look("points", prefix="account")
    page.goto("/orders/lookup/")
    look("order-lookup", prefix="account")
