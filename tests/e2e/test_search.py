"""The header's search box suggests as you type (an ARIA combobox), in a real browser."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog():
    dresses = CategoryFactory(name="Dresses", slug="dresses")
    wrap = ProductFactory(
        name="Linen Wrap Dress With A Rather Long Name To Test Narrow Screens",
        slug="linen-wrap-dress",
        category=dresses,
        price=Decimal("89.00"),
        description="Breezy linen.",
    )
    ProductImageFactory(product=wrap, alt_text="Linen Wrap Dress")
    ProductFactory(name="Canvas Sneaker", slug="canvas-sneaker", description="Goes with a dress.")
    ProductFactory(name="Wool Blanket", slug="wool-blanket")
    return wrap


def search_box(page: Page):
    return page.get_by_role("combobox", name="Search products")


def test_typing_suggests_products_and_the_keyboard_chooses_one(page: Page, live_server, catalog, shot):
    page.goto("/")
    box = search_box(page)
    expect(box).to_have_attribute("aria-expanded", "false")
    box.click()
    box.press_sequentially("dres", delay=30)

    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", "site-search-listbox")
    options = listbox.get_by_role("option")
    expect(options.first).to_contain_text("Linen Wrap Dress")
    expect(options.first).to_contain_text("$89.00")
    expect(listbox.get_by_role("option", name=re.compile("Category Dresses"))).to_be_visible()
    expect(page.locator("#site-search-status")).to_have_text("3 suggestions")  # two products, one category
    shot("suggestions")

    box.press("ArrowDown")
    first = options.first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    box.press("ArrowUp")  # wraps to the last
    expect(options.last).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("dres")

    box.press("ArrowDown")  # opens again on the first
    expect(first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/product/linen-wrap-dress/$"))


def test_a_misspelt_query_offers_its_correction_and_enter_without_a_choice_searches(page: Page, live_server, catalog):
    page.goto("/")
    box = search_box(page)
    box.click()
    box.press_sequentially("dresss", delay=30)
    expect(page.get_by_role("option", name="Search for “dress”")).to_be_visible()
    box.press("Enter")  # nothing chosen: the form's own search, corrected on the page
    expect(page).to_have_url(re.compile(r"/products/\?search=dresss$"))
    expect(page.get_by_text("Showing results for “dress”.")).to_be_visible()
    expect(page.get_by_role("link", name="Search instead for “dresss”")).to_be_visible()


def test_at_390_px_the_suggestions_fit_the_screen(page: Page, live_server, catalog, shot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    toggle = page.get_by_role("button", name="Search")
    if toggle.count() and toggle.first.is_visible():
        toggle.first.click()  # on phones the search folds behind an icon
    box = search_box(page)
    box.click()
    box.press_sequentially("dres", delay=30)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    shot("suggestions-390")
    box_ = listbox.bounding_box()
    assert box_["x"] >= 0
    assert box_["x"] + box_["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
