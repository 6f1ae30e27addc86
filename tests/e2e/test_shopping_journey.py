"""A shopper's whole visit, in a real browser: search, filter, buy, log in, find the cart merged."""

import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.factories import (
    CartFactory,
    CartLineFactory,
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    UserFactory,
)

PASSWORD = "correct horse battery"
UPDATE = re.compile(r"\bUpdate\s*$")  # the quantity cell: a hidden label, the box, an Update button

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog():
    """A small tree (Clothing > Women > Dresses, Home > Textiles) and a few linen things at varied prices."""
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    women = CategoryFactory(name="Women", slug="women", parent=clothing)
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=women)
    home = CategoryFactory(name="Home", slug="home")
    textiles = CategoryFactory(name="Textiles", slug="textiles", parent=home)

    def product(name, price, stock, category, **extra):
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        item = ProductFactory(name=name, slug=slug, price=Decimal(price), stock=stock, category=category, **extra)
        ProductImageFactory(product=item, alt_text=name)
        return item

    return {
        "dress": product("Linen Wrap Dress", "89.00", 12, dresses, description="Breezy linen, tie waist."),
        "pricey": product("Linen Shirt Dress", "149.00", 4, dresses),
        "sold_out": product("Linen Midi Dress", "59.00", 0, dresses),
        "towel": product("Linen Tea Towel", "12.50", 30, textiles),
        "blanket": product("Wool Throw Blanket", "64.00", 8, textiles, description="Warm merino wool."),
        "categories": [clothing, women, dresses, home, textiles],
    }


@pytest.fixture
def shopper(catalog):
    """A customer who left a blanket in their cart on an earlier visit."""
    user = UserFactory(email="shopper@example.org", first_name="Robin")
    CartLineFactory(cart=CartFactory(user=user), product=catalog["blanket"], quantity=1)
    return user


def product_titles(page: Page):
    return page.get_by_role("region", name=re.compile("^Results for")).get_by_role("heading", level=3)


def expect_images_loaded(page: Page):
    """Every <img> on the page has been fetched and decoded (media is really served)."""
    # A loop of evaluate() rather than wait_for_function: the latter compiles its predicate in the
    # page, which the store's CSP (no eval) refuses now and then.
    deadline = time.monotonic() + 10
    while not page.evaluate("[...document.images].every(img => img.complete)"):
        assert time.monotonic() < deadline, "images still loading after 10 s"
        page.wait_for_timeout(50)
    broken = page.evaluate("[...document.images].filter(img => img.naturalWidth === 0).map(img => img.src)")
    assert broken == [], f"images that did not load: {broken}"


def test_anonymous_shopper_searches_filters_buys_and_logs_in(page: Page, live_server, catalog, shopper, shot):
    # Home: the store's front page with the products on it.
    page.goto("/")
    expect(page.get_by_role("heading", level=1, name="Good things, fairly priced.")).to_be_visible()
    expect(page.get_by_role("link", name="Cart (0 items)")).to_be_visible()
    expect(page.get_by_role("link", name="Linen Wrap Dress")).to_be_visible()
    page.mouse.wheel(0, 4000)  # lazy images
    expect_images_loaded(page)
    shot("home")

    # Search from the header box, submitted with the keyboard.
    search = page.get_by_role("search").get_by_label("Search products")
    search.click()
    search.fill("linen")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/products/\?search=linen$"))
    expect(page.get_by_role("heading", level=1, name="Results for “linen”")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="products")).to_have_text("4 products")
    # Best match first (linen in its name and its description), then the newest.
    expect(product_titles(page)).to_have_text(
        ["Linen Wrap Dress", "Linen Tea Towel", "Linen Midi Dress", "Linen Shirt Dress"], use_inner_text=True
    )
    expect(page.get_by_role("search").get_by_label("Search products")).to_have_value("linen")
    shot("search-results")

    # Filter in the sidebar: a price band and in-stock only (one form, one button); the search is kept.
    filters = page.locator("#list-form")
    filters.get_by_label("Min price").fill("20")
    filters.get_by_label("Max price").fill("100")
    filters.get_by_label("In stock only").check()
    page.get_by_role("button", name=re.compile(r"^Show ")).click()
    expect(page).to_have_url(re.compile(r"min_price=20&max_price=100&in_stock=true"))
    expect(page.get_by_role("list", name="Active filters")).to_contain_text("From $20.00")
    expect(page.get_by_role("status").filter(has_text="product")).to_have_text("1 product")
    expect(product_titles(page)).to_have_text(["Linen Wrap Dress"])
    expect(page.get_by_role("heading", level=1, name="Results for “linen”")).to_be_visible()
    # The form remembers what was chosen.
    expect(filters.get_by_label("Min price")).to_have_value("20")
    expect(filters.get_by_label("Max price")).to_have_value("100")
    expect(filters.get_by_label("In stock only")).to_be_checked()
    shot("filtered")

    # The product page.
    page.get_by_role("link", name="Linen Wrap Dress").click()
    expect(page).to_have_url(re.compile(r"/product/linen-wrap-dress/$"))
    expect(page.get_by_role("heading", level=1, name="Linen Wrap Dress")).to_be_visible()
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb.get_by_role("listitem")).to_have_text(
        ["Home", "Clothing", "Women", "Dresses", "Linen Wrap Dress"]
    )
    expect(page.get_by_text("$89.00", exact=True)).to_be_visible()
    expect(page.get_by_text("In stock", exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="Linen Wrap Dress")).to_be_visible()
    expect_images_loaded(page)

    # Choose a quantity and add to the cart.
    page.get_by_label("Quantity").select_option("2")
    shot("product")
    page.get_by_role("button", name="Add to cart").click()

    # The cart: one line, two dresses, the totals add up.
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.get_by_role("heading", level=1, name="Your cart")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Added “Linen Wrap Dress” to your cart.")
    table = page.get_by_role("table", name="Products in your cart")
    rows = table.locator("tbody").get_by_role("row")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("cell")).to_have_text(["Linen Wrap Dress", "$89.00", UPDATE, "$178.00", "Remove"])
    expect(rows.get_by_label("Quantity of Linen Wrap Dress")).to_have_value("2")
    summary = page.get_by_role("complementary", name="Summary")
    expect(summary.locator("dd")).to_have_text(["$178.00", "$178.00"])
    expect(page.get_by_role("link", name="Cart (2 items)")).to_be_visible()
    shot("cart-anonymous")

    # Log in from the header link, with email and password.
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    page.get_by_label("Email").fill("shopper@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    shot("login")
    page.get_by_label("Password").press("Enter")

    # Logged in: told that the anonymous cart was merged.
    account_nav = page.get_by_role("navigation", name="Account")
    expect(account_nav.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("The products you picked before logging in are now in your cart.")
    expect(account_nav.get_by_role("link", name="Cart (3 items)")).to_be_visible()
    shot("logged-in-merge-message")

    # The customer's cart holds the earlier blanket and the dresses just picked.
    account_nav.get_by_role("link", name="Cart (3 items)").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    rows = page.get_by_role("table", name="Products in your cart").locator("tbody").get_by_role("row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Linen Wrap Dress").get_by_role("cell")).to_have_text(
        ["Linen Wrap Dress", "$89.00", UPDATE, "$178.00", "Remove"]
    )
    expect(rows.filter(has_text="Wool Throw Blanket").get_by_role("cell")).to_have_text(
        ["Wool Throw Blanket", "$64.00", UPDATE, "$64.00", "Remove"]
    )
    expect(page.get_by_label("Quantity of Linen Wrap Dress")).to_have_value("2")
    expect(page.get_by_label("Quantity of Wool Throw Blanket")).to_have_value("1")
    expect(page.get_by_role("complementary", name="Summary").locator("dd")).to_have_text(["$242.00", "$242.00"])
    shot("cart-merged")

    # And the database agrees: one cart for the customer, the anonymous one gone.
    from shop.cart.models import Cart

    assert Cart.objects.count() == 1
    lines = {line.product.name: line.quantity for line in Cart.objects.get(user=shopper).lines.all()}
    assert lines == {"Linen Wrap Dress": 2, "Wool Throw Blanket": 1}
