"""The storefront on a phone and on a desktop, as a shopper meets it: nothing wider than the
screen, a header that leaves room for the page, the products first on a category page, the
menu usable by keyboard, and no serious or critical accessibility violation (axe-core)."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, ReviewFactory, UserFactory
from tests.loyalty.helpers import cart_with, give, place, rules

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
PASSWORD = "correct horse battery"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store():
    clothing = CategoryFactory(name="Clothing", slug="clothing", description="Clothes for every day.")
    women = CategoryFactory(name="Women", slug="women", parent=clothing)
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=women)
    CategoryFactory(name="Home & Kitchen", slug="home")
    products = []
    for n, name in enumerate(["Linen Wrap Dress", "Silk Slip Dress", "Cotton Shirt Dress", "Floral Midi Dress"]):
        product = ProductFactory(
            name=name, slug=f"dress-{n}", category=dresses, stock=10 - n, description=f"A {name.lower()}."
        )
        ProductImageFactory(product=product, alt_text=name)
        products.append(product)
    shopper = UserFactory(email="ada@example.org", first_name="Ada")
    ReviewFactory(product=products[0], user=shopper, rating=4, title="Lovely")
    rules(is_active=True, min_redeem_points=100)
    give(shopper, 1500)
    order = place(shopper, cart_with(shopper, price="42.00"))
    cart_with(shopper, price="19.90")  # something in the cart
    return {"products": products, "shopper": shopper, "order": order}


def log_in(page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/account/login/")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login/"))


def storefront_pages(store) -> list[str]:
    product = store["products"][0]
    return [
        "/",
        "/products/",
        "/category/clothing/",
        "/category/dresses/?in_stock=true&min_price=1",
        product.get_absolute_url(),
        "/products/?search=dress",
        "/products/?search=zzzzqqq",
        "/pages/shipping/",
        "/pages/faq/",
        "/no-such-page/",
        "/orders/lookup/",
        "/account/login/",
        "/account/register/",
        "/account/password-reset/",
    ]


def account_pages(store) -> list[str]:
    return [
        "/cart/",
        "/checkout/",
        "/account/",
        "/account/points/",
        "/account/orders/",
        store["order"].get_absolute_url(),
    ]


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_no_storefront_page_is_wider_than_a_phone(page: Page, store):
    page.set_viewport_size(PHONE)
    wide = {url: overflow(page) for url in storefront_pages(store) if page.goto(url)}
    log_in(page)
    page.set_viewport_size(PHONE)
    wide |= {url: overflow(page) for url in account_pages(store) if page.goto(url)}
    assert {url: px for url, px in wide.items() if px > 0} == {}


def test_the_phone_header_leaves_the_screen_to_the_page(page: Page, store):
    page.set_viewport_size(PHONE)
    page.goto("/category/clothing/")
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 64
    # The search folds behind an icon, and opens in place with the field focused.
    expect(page.locator("#site-search")).to_be_hidden()
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#site-search")).to_be_focused()
    page.keyboard.type("silk")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"search=silk"))


def test_on_a_phone_the_first_product_shows_without_scrolling_and_the_filters_open_from_a_button(page: Page, store):
    page.set_viewport_size(PHONE)
    page.goto("/category/clothing/")
    first = page.locator(".grid .card").first
    expect(first).to_be_in_viewport()
    box = first.bounding_box()
    assert box["y"] + 120 <= PHONE["height"]  # its picture starts well inside the first screen
    expect(page.locator("#list-form")).to_be_hidden()
    page.get_by_role("button", name=re.compile("Filters")).click()
    expect(page.get_by_label("In stock only", exact=True)).to_be_visible()
    page.get_by_label("In stock only", exact=True).check()
    apply = page.get_by_role("button", name=re.compile(r"Show 4 products"))
    expect(apply).to_be_in_viewport()
    apply.click()
    expect(page).to_have_url(re.compile(r"in_stock=true"))
    expect(page.get_by_role("list", name="Active filters")).to_contain_text("In stock only")


def test_on_a_desktop_a_box_applies_at_once_and_a_chip_removes_it(page: Page, store):
    page.set_viewport_size(DESKTOP)
    page.goto("/category/clothing/")
    page.get_by_label("On sale", exact=True).check()
    expect(page).to_have_url(re.compile(r"on_sale=true"))
    page.get_by_label("Sort by").select_option("price")
    expect(page).to_have_url(re.compile(r"on_sale=true.*ordering=price|ordering=price.*on_sale=true"))
    page.get_by_role("link", name="Remove: on sale").click()
    expect(page).not_to_have_url(re.compile(r"on_sale"))
    expect(page).to_have_url(re.compile(r"ordering=price"))


def test_the_category_menu_works_with_the_keyboard_at_both_sizes(page: Page, store):
    page.set_viewport_size(DESKTOP)
    page.goto("/pages/shipping/")
    page.locator(".nav-bar .nav-top", has_text="Clothing").focus()
    expect(page.locator(".nav-bar").get_by_role("link", name="Dresses")).to_be_visible()  # the panel opened on focus
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_be_visible()

    page.set_viewport_size(PHONE)
    page.goto("/pages/shipping/")
    page.locator(".nav-drawer > summary").focus()
    page.keyboard.press("Enter")
    drawer = page.get_by_role("navigation", name="Shop by category").last
    expect(drawer).to_be_visible()
    drawer.locator("summary", has_text="Clothing").click()
    drawer.get_by_role("link", name="Dresses").click()
    expect(page).to_have_url(re.compile(r"/category/dresses/$"))
    page.locator(".nav-drawer > summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.locator(".drawer-panel")).to_be_hidden()


AXE_PAGES = [
    "/",
    "/category/clothing/",
    "/products/?search=dress",
    "product",
    "/cart/",
    "/checkout/",
    "pay",
    "/account/",
    "/account/points/",
    "/account/orders/",
    "/pages/faq/",
    "/no-such-page/",
]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_no_serious_or_critical_accessibility_violation(page: Page, store, size):
    log_in(page)
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    axe = Axe()
    found = {}
    for url in AXE_PAGES:
        if url == "product":
            url = store["products"][0].get_absolute_url()
        elif url == "pay":
            url = f"/orders/{store['order'].number}/pay/"
        page.goto(url)
        results = axe.run(page)
        serious = [
            f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[url] = serious
    assert found == {}
