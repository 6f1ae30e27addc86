"""The product gallery in a real browser: a thumbnail shows its picture in the main image, by
mouse or keyboard, and the page fits a phone."""

import pytest
from playwright.sync_api import expect

from tests.factories import ProductFactory, ProductImageFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shirt():
    product = ProductFactory(name="Linen Shirt", slug="linen-shirt")
    images = [ProductImageFactory(product=product, alt_text=f"The shirt, view {n + 1}", position=n) for n in range(3)]
    return product, [image.image.url for image in images]


def test_a_thumbnail_shows_its_picture(page, shirt, shot):
    product, urls = shirt
    page.goto(product.get_absolute_url())
    main = page.locator(".gallery-main")
    thumbs = page.get_by_role("list", name="Pictures of this product").get_by_role("button")
    expect(thumbs).to_have_count(3)

    thumbs.nth(2).click()

    expect(main).to_have_attribute("src", urls[2])
    expect(main).to_have_attribute("alt", "The shirt, view 3")
    expect(thumbs.nth(2)).to_have_attribute("aria-current", "true")
    expect(thumbs.nth(0)).not_to_have_attribute("aria-current", "true")
    assert page.url.endswith(product.get_absolute_url())  # shown in place, not opened
    shot("gallery third picture")

    thumbs.nth(1).focus()
    page.keyboard.press("Enter")
    expect(main).to_have_attribute("src", urls[1])
    thumbs.nth(0).focus()
    page.keyboard.press(" ")
    expect(main).to_have_attribute("src", urls[0])
    expect(thumbs.nth(0)).to_have_attribute("aria-current", "true")


def test_the_gallery_fits_a_phone(page, shirt, shot):
    product, urls = shirt
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(product.get_absolute_url())

    page.get_by_role("button", name="Picture 2 of 3: The shirt, view 2").click()

    expect(page.locator(".gallery-main")).to_have_attribute("src", urls[1])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator(".gallery-thumbs").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot("gallery on a phone")
