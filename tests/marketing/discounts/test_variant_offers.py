"""A product in sizes and colours shows each variant's price after automatic promotions, at the
variant's own price, on its page, in the page's data and in the API, and the cart charges exactly that."""

import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from marketing.discounts import offers as discount_offers
from marketing.discounts.models import Promotion
from shop.catalog import offers
from shop.catalog.models import Variant
from tests.factories import CategoryFactory, ProductFactory
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def tee():
    """S and M at the product's 20.00, L at its own 24.00 (red only)."""
    shirts = CategoryFactory(name="Shirts", slug="shirts")
    return with_variants(
        ProductFactory(name="Oxford tee", slug="oxford-tee", sku="TEE", price=D("20.00"), category=shirts),
        sizes=("S", "M", "L"),
        colours=("Red",),
        prices={("L", "Red"): D("24.00")},
    )


def sale(**fields) -> Promotion:
    fields = {"name": "Shirt week", "kind": "percentage", "value": D("25"), "requires_code": False, **fields}
    promotion = Promotion.objects.create(scope="categories", **fields)
    promotion.categories.add(CategoryFactory._meta.model.objects.get(slug="shirts"))
    return promotion


def page(client, tee, query="") -> str:
    response = client.get(tee.get_absolute_url() + query)
    assert response.status_code == 200
    return response.content.decode()


def buy_box(html: str) -> str:
    """The price paragraph of the options' part, in words."""
    found = re.search(r"<p class=\"price big\" data-variant-price>(.*?)</p>", html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", found).split())


def picker_data(html: str) -> dict:
    found = re.search(r'<script id="variant-data" type="application/json">(.*?)</script>', html, re.S).group(1)
    return {v["sku"]: v for v in json.loads(found)["variants"]}


def test_a_chosen_variant_at_its_own_price_shows_its_own_offer_with_its_price_struck(client, tee):
    sale()
    large = variant(tee, "L", "Red")

    html = page(client, tee, f"?variant={large.pk}")

    assert buy_box(html).startswith("$18.00 was $24.00 Shirt week")  # 25% of 24.00, not of the product's 20.00
    assert "<s>$24.00</s>" in html and "Taken off in the cart" not in html


def test_a_variant_at_the_products_price_shows_the_products_offer(client, tee):
    sale()
    assert buy_box(page(client, tee, "?size=s&colour=red")).startswith("$15.00 was $20.00")


def test_without_a_choice_the_range_starts_at_the_lowest_price_after_offers(client, tee):
    sale()
    assert buy_box(page(client, tee)).startswith("From $15.00")


def test_the_pages_data_gives_each_variant_its_offer_for_the_script(client, tee):
    sale(kind="fixed", value=D("5.00"))

    data = picker_data(page(client, tee))

    assert (data["TEE-RED-L"]["offer"], data["TEE-RED-L"]["offer_text"]) == ("19.00", "$19.00")
    assert (data["TEE-RED-S"]["offer"], data["TEE-RED-S"]["price_text"]) == ("15.00", "$20.00")


def test_without_a_promotion_a_variant_shows_its_price_alone(client, tee):
    large = variant(tee, "L", "Red")
    html = page(client, tee, f"?variant={large.pk}")
    assert buy_box(html) == "$24.00"
    assert picker_data(html)["TEE-RED-L"]["offer"] == ""


def test_one_price_for_every_variant_shows_the_offer_and_that_price_struck():
    shirts = CategoryFactory(name="Shirts", slug="shirts")
    polo = with_variants(ProductFactory(slug="polo", sku="POLO", price=D("40.00"), category=shirts), colours=("Red",))
    sale()
    assert buy_box(page(Client(), polo)).startswith("$30.00 was $40.00 Shirt week")


def test_the_api_gives_each_variant_its_offer(api, tee):
    sale()

    variants = {v["sku"]: v for v in api.get("/api/v1/products/oxford-tee/").json()["variants"]}

    assert variants["TEE-RED-L"]["offer"] == {"price": "18.00", "label": "Shirt week"}
    assert variants["TEE-RED-M"]["offer"] == {"price": "15.00", "label": "Shirt week"}
    assert variants["TEE-RED-L"]["price"] == "24.00"  # before the offer, as documented


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "percentage", "value": D("25")},
        {"kind": "percentage", "value": D("50"), "max_discount": D("11")},  # the cap bites at 24.00, not at 20.00
        {"kind": "fixed", "value": D("22.00")},  # more than S and M cost: they are free, L is 2.00
    ],
)
def test_the_cart_charges_each_variant_the_offer_its_page_and_the_api_showed(api, tee, fields):
    sale(**fields)
    shown = api.get("/api/v1/products/oxford-tee/").json()["variants"]

    for each in shown:
        shopper = Client()  # a cart of its own
        shopper.post(reverse("cart:add"), {"product": tee.pk, **each["options"], "quantity": 1})
        charged = shopper.get(reverse("cart:detail")).context["priced"].total.amount
        assert charged == D(each["offer"]["price"]), each["sku"]


def test_variants_at_one_price_are_priced_once(monkeypatch):
    """The engine runs once per distinct price: a product in 24 sizes and colours at two prices, twice."""
    shirts = CategoryFactory(name="Shirts", slug="shirts")
    big = with_variants(
        ProductFactory(slug="big", sku="BIG", price=D("10.00"), category=shirts),
        sizes=("S", "M", "L", "XL"),
        colours=("Red", "Blue", "Black", "White"),
        prices={(size, colour): D("12.00") for size in ("L", "XL") for colour in ("Red", "Blue")},
    )
    sale()
    real, prices = discount_offers._offer, []

    def counted(candidates, line, price):
        prices.append(str(price.amount))
        return real(candidates, line, price)

    monkeypatch.setattr(discount_offers, "_offer", counted)
    found = offers.variant_offers(big, Variant.objects.filter(product=big))

    assert sorted(prices) == ["10.00", "12.00"]
    assert len(found) == 16 and {str(offer.price.amount) for offer in found.values()} == {"7.50", "9.00"}


def test_a_card_says_from_the_lowest_price_after_the_offer(client, tee):
    sale()
    html = client.get("/category/shirts/").content.decode()
    card = html.split(f'data-product="{tee.pk}"', 1)[1].split("</li>", 1)[0]
    price = " ".join(re.sub(r"<[^>]+>", " ", re.search(r'<p class="price">(.*?)</p>', card, re.S).group(1)).split())
    assert price.startswith("From $15.00 Shirt week")  # 25% off S and M's 20.00; L's 18.00 is dearer
