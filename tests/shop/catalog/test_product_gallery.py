"""The product page: a gallery when a product has several pictures, and review stars people can read."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shop.catalog.services import product_refresh_rating
from tests.factories import ProductFactory, ProductImageFactory, ReviewFactory

STORE_CSS = Path(__file__).resolve().parents[3] / "shop/core/static/shop/store.css"


class Elements(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def with_class(self, name: str) -> list[dict]:
        return [attrs for _tag, attrs in self.found if name in (attrs.get("class") or "").split()]


@pytest.mark.django_db
def test_several_pictures_make_a_gallery_of_links_to_each_picture(client):
    product = ProductFactory(name="Linen Shirt")
    images = [ProductImageFactory(product=product, alt_text=f"The shirt, view {n}", position=n) for n in range(3)]

    page = Elements(client.get(product.get_absolute_url()).content.decode())

    [main] = page.with_class("gallery-main")
    assert main["src"] == images[0].image.url and main["alt"] == "The shirt, view 0"
    thumbs = page.with_class("gallery-thumb")
    assert [t["href"] for t in thumbs] == [image.image.url for image in images]  # without JavaScript: the picture
    assert [t["aria-label"] for t in thumbs] == [f"Picture {n + 1} of 3: The shirt, view {n}" for n in range(3)]
    assert [t.get("aria-current") for t in thumbs] == ["true", None, None]
    assert [t["data-alt"] for t in thumbs] == [image.alt_text for image in images]
    assert [tag for tag, attrs in page.found if attrs.get("src", "").endswith("catalog/gallery.js")] == ["script"]


@pytest.mark.django_db
def test_one_picture_is_shown_alone(client):
    product = ProductFactory()
    ProductImageFactory(product=product, alt_text="The only view")

    page = Elements(client.get(product.get_absolute_url()).content.decode())

    assert [main["alt"] for main in page.with_class("gallery-main")] == ["The only view"]
    assert page.with_class("gallery-thumbs") == [] and page.with_class("gallery-thumb") == []


@pytest.mark.django_db
def test_a_reviews_stars_are_an_image_named_by_its_rating(client):
    product = ProductFactory()
    ReviewFactory(product=product, rating=3, title="Fine")
    product_refresh_rating(product_ids=[product.pk])

    html = client.get(product.get_absolute_url()).content.decode()

    [stars] = Elements(html).with_class("stars")
    assert stars["role"] == "img" and stars["aria-label"] == "3 out of 5 stars"
    assert "★★★☆☆" in html  # filled and empty stars differ in shape, not only in colour


def _luminance(hex_colour: str) -> float:
    if len(hex_colour) == 4:  # #fff
        hex_colour = "#" + "".join(c * 2 for c in hex_colour[1:])
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_computed_as_wcag_does():
    assert round(contrast("#ca8a04", "#f7f7f5"), 2) == 2.74  # the stars' old colour on the page
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0


@pytest.mark.parametrize("selector", [".rating", ".stars"])
def test_ratings_and_stars_are_readable_on_the_page_and_on_cards(selector):
    css = STORE_CSS.read_text()
    colours = re.findall(rf"(?m)^{re.escape(selector)} {{[^}}]*?color: (#[0-9a-fA-F]{{6}})", css)
    variables = dict(re.findall(r"--(bg|card): (#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b", css))

    assert colours, f"no colour for {selector}"
    for colour in colours:
        for background in (variables["bg"], variables["card"]):
            assert contrast(colour, background) >= 4.5, (selector, colour, background)
