"""A shopper types a discount code into the cart's form, in a real browser, and sees the new total."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from marketing.discounts.models import CartCode, DiscountCode, Promotion
from tests.e2e.conftest import ARTIFACTS
from tests.factories import ProductFactory, ProductImageFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dress():
    dress = ProductFactory(name="Linen Wrap Dress", slug="linen-wrap-dress", price=Decimal("89.00"), stock=5)
    ProductImageFactory(product=dress, alt_text="Linen Wrap Dress")
    return dress


@pytest.fixture
def spring_sale():
    promotion = Promotion.objects.create(name="Spring sale", kind="percentage", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="SPRING10")
    return promotion


@pytest.fixture
def discount_shot(page):
    """discount_shot("cart") saves test-artifacts/e2e/discount-NN-cart.png (NN counts up per test)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str):
        page.wait_for_load_state("networkidle")
        page.evaluate("window.scrollTo(0, 0)")  # a full-page shot taken scrolled shows the sticky header mid-page
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        page.screenshot(path=ARTIFACTS / f"discount-{next(counter):02d}-{name}.png", full_page=True)

    return take


def test_a_shopper_applies_a_code_in_lowercase_and_sees_the_new_total(
    page: Page, live_server, dress, spring_sale, discount_shot
):
    page.goto(dress.get_absolute_url())
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    summary = page.get_by_role("complementary", name="Summary")
    expect(summary.locator("dd")).to_have_text(["$89.00", "$89.00"])
    code_box = summary.get_by_label("Discount code")
    expect(code_box).to_be_empty()
    discount_shot("cart")

    # A mistyped code: told so, and what was typed stays in the box to correct.
    code_box.fill("sprnig10")
    summary.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_have_text("We don't know the code “sprnig10”. Check its spelling.")
    expect(summary.get_by_label("Discount code")).to_have_value("sprnig10")
    expect(summary.locator("dd")).to_have_text(["$89.00", "$89.00"])
    discount_shot("unknown-code")

    # The right code, typed in lowercase: codes do not care about case.
    summary.get_by_label("Discount code").fill("spring10")
    discount_shot("code-typed")
    summary.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.get_by_role("status").filter(has=page.locator("li"))).to_contain_text(
        "Code SPRING10 applied: you save $8.90."
    )
    expect(summary.locator("dt")).to_have_text(["Subtotal", "Spring sale (SPRING10)", "Total"])
    expect(summary.locator("dd")).to_have_text(["$89.00", "-$8.90", "$80.10"])
    expect(summary.get_by_text("Code SPRING10: you save $8.90.")).to_be_visible()
    discount_shot("code-applied")
    assert CartCode.objects.get().code.code == "SPRING10"

    # Taking it off brings the full price back.
    summary.get_by_role("button", name="Remove code SPRING10").click()
    expect(page.get_by_role("status").filter(has=page.locator("li"))).to_contain_text("Discount code removed.")
    expect(summary.locator("dd")).to_have_text(["$89.00", "$89.00"])
    discount_shot("code-removed")
    assert not CartCode.objects.exists()
