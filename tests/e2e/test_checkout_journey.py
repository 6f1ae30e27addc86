"""A guest buys in a real browser: cart -> details -> review -> card form (Stripe.js from localstripe) -> confirmed."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from shop.orders.models import Order
from shop.payments.models import Payment
from tests.e2e.conftest import ARTIFACTS
from tests.factories import ProductFactory, ProductImageFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

GOOD_CARD = "4242424242424242"
# localstripe declines charging this card (resources.py, PaymentMethod._charging_is_declined):
# the token is made, the payment is refused. Real Stripe's test card of the same number does the same.
DECLINED_CARD = "4000000000000341"


@pytest.fixture
def lamp():
    lamp = ProductFactory(name="Brass Desk Lamp", slug="brass-desk-lamp", price=Decimal("30.00"), stock=3)
    ProductImageFactory(product=lamp, alt_text="Brass Desk Lamp")
    return lamp


@pytest.fixture
def checkout_shot(page):
    """checkout_shot("cart") saves test-artifacts/e2e/checkout-NN-cart.png (NN counts up per test)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str, prefix: str = "checkout"):
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")  # a full-page shot taken scrolled shows the sticky header mid-page
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        page.screenshot(path=ARTIFACTS / f"{prefix}-{next(counter):02d}-{name}.png", full_page=True)

    return take


def add_to_cart_and_fill_the_details(page: Page, lamp, shot) -> None:
    page.goto(lamp.get_absolute_url())
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    summary = page.get_by_role("complementary", name="Summary")
    checkout_link = summary.get_by_role("link", name="Proceed to checkout")
    expect(checkout_link).to_be_visible()
    shot("cart")
    checkout_link.click()

    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(page.get_by_text("Checking out as a guest.")).to_be_visible()
    # Continue with nothing filled in: the form says what is missing.
    page.get_by_role("button", name="Continue to review").click()
    expect(
        page.get_by_text("Enter a valid email address.").or_(page.get_by_text("This field is required."))
    ).not_to_have_count(0)
    shot("details-errors")
    page.get_by_label("Email").fill("grace@example.org")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Address line 1").fill("1 Compiler Lane")
    page.get_by_label("Postal code").fill("22201")
    page.get_by_label("City").fill("Arlington")
    page.get_by_label("Region").fill("VA")
    page.get_by_label("Country").select_option("US")
    expect(page.get_by_role("radio", name=re.compile(r"^Standard delivery"))).to_be_checked()
    shot("details")
    page.get_by_role("button", name="Continue to review").click()


def review_and_place(page: Page, shot) -> str:
    expect(page).to_have_url(re.compile(r"/checkout/review/$"))
    expect(page.get_by_role("heading", level=1, name="Review your order")).to_be_visible()
    summary = page.get_by_role("complementary", name="Order summary")
    expect(summary.locator("dt")).to_have_text(["Subtotal", "Standard delivery (3–5 days)", "Total"])
    expect(summary.locator("dd")).to_have_text(["$30.00", "$5.00", "$35.00"])
    expect(page.locator("address")).to_contain_text("Grace Hopper")
    shot("review")
    page.get_by_role("button", name="Place order and pay $35.00").click()

    expect(page).to_have_url(re.compile(r"/orders/[A-Z0-9]+/pay/$"))
    number = re.search(r"/orders/([A-Z0-9]+)/pay/", page.url).group(1)
    expect(page.get_by_role("heading", level=1, name=f"Pay for order {number}")).to_be_visible()
    return number


def fill_card(page: Page, number: str) -> None:
    """The offline card form: the store's own labelled fields, formatted as typed."""
    card = page.get_by_role("group", name="Card details")
    expect(card).to_be_visible()
    expect(card.get_by_role("note")).to_contain_text("4242 4242 4242 4242 pays; 4000 0000 0000 0341 is declined.")
    card.get_by_label("Card number").fill("")
    card.get_by_label("Card number").press_sequentially(number)
    expect(card.get_by_label("Card number")).to_have_value(" ".join(number[i : i + 4] for i in range(0, 16, 4)))
    card.get_by_label("Expiry date").fill("")
    card.get_by_label("Expiry date").press_sequentially("1230")
    expect(card.get_by_label("Expiry date")).to_have_value("12/30")
    card.get_by_label("Security code (CVC)").fill("123")
    card.get_by_label("Postal code").fill("12345")


def test_a_guest_checks_out_and_pays_by_card(page: Page, live_server, localstripe, lamp, checkout_shot):
    add_to_cart_and_fill_the_details(page, lamp, checkout_shot)
    number = review_and_place(page, checkout_shot)
    order = Order.objects.get(number=number)
    assert order.status == "pending_payment"

    fill_card(page, GOOD_CARD)
    checkout_shot("card")
    page.get_by_role("button", name="Pay $35.00").click()

    expect(page).to_have_url(re.compile(rf"/orders/{number}/\?placed=1$"))
    expect(page.get_by_role("heading", level=1, name="Thank you! Your order is confirmed.")).to_be_visible()
    expect(page.get_by_text("A confirmation is on its way to grace@example.org.")).to_be_visible()
    expect(page.locator(".timeline strong")).to_have_text(["Order placed", "Payment received"])
    checkout_shot("confirmed")

    order.refresh_from_db()
    assert order.status == "paid"
    assert order.paid_at is not None
    assert order.email == "grace@example.org"
    assert Payment.objects.get(order=order).status == "succeeded"
    lamp.refresh_from_db()
    assert lamp.stock == 2


def test_a_declined_card_shows_why_and_keeps_the_order_for_another_card(
    page: Page, live_server, localstripe, lamp, checkout_shot
):
    def shot(step):
        checkout_shot(step, prefix="checkout-declined")

    add_to_cart_and_fill_the_details(page, lamp, shot)
    number = review_and_place(page, shot)

    fill_card(page, DECLINED_CARD)
    page.get_by_role("button", name="Pay $35.00").click()

    error = page.locator("#payment-error")
    expect(error).to_contain_text("Your card was declined")
    expect(error).to_contain_text("your order is kept")
    # In the error style (red on pink), not a neutral or success colour.
    expect(error).to_have_css("color", "rgb(185, 28, 28)")
    expect(error).to_have_css("background-color", "rgb(254, 242, 242)")
    expect(page).to_have_url(re.compile(rf"/orders/{number}/pay/$"))
    expect(page.get_by_role("button", name="Pay $35.00")).to_be_enabled()
    shot("declined")
    order = Order.objects.get(number=number)
    assert order.status == "payment_failed"
    assert order.events.filter(kind="payment_declined").exists()
    lamp.refresh_from_db()
    assert lamp.stock == 2, "the order keeps its lamp while the customer finds another card"

    # Another card, same order.
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name="Pay $35.00").click()
    expect(page.get_by_role("heading", level=1, name="Thank you! Your order is confirmed.")).to_be_visible()
    shot("paid-with-another-card")
    order.refresh_from_db()
    assert order.status == "paid"
    assert sorted(Payment.objects.filter(order=order).values_list("status", flat=True)) == ["failed", "succeeded"]
