"""A product with variants: its page offers the options, names a variant in its address, and adds it."""

import re
from decimal import Decimal

import pytest

from shop.cart.models import CartLine
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db


@pytest.fixture
def tee():
    # S/M/L × Red/Blue; M Blue sold out, L Blue never made; L Red costs more.
    return with_variants(
        name="Oxford tee",
        price=Decimal("20.00"),
        stock={("S", "Red"): 5, ("M", "Red"): 2, ("L", "Red"): 9, ("S", "Blue"): 4, ("M", "Blue"): 0},
        missing=[("L", "Blue")],
        prices={("L", "Red"): Decimal("24.00")},
        material="Cotton",
    )


def page(client, tee, query=""):
    response = client.get(tee.get_absolute_url() + query)
    assert response.status_code == 200
    return response.content.decode()


def test_without_a_choice_it_shows_the_options_the_price_range_and_no_stock_yet(client, tee):
    html = page(client, tee)
    assert 'name="size" value="s"' in html and 'name="colour" value="blue"' in html
    assert "From $20.00" in html
    assert "Choose your options to see the stock." in html
    assert "<dt>Material</dt><dd>Cotton</dd>" in html
    assert "#2e5fa3" in html  # the blue swatch


def test_a_variant_in_the_address_shows_its_price_stock_and_sku(client, tee):
    large_red = variant(tee, "L", "Red")
    html = page(client, tee, f"?variant={large_red.pk}")
    assert "$24.00" in html and large_red.sku in html
    assert re.search(r'id="opt-size-l"[^>]* checked', html) and re.search(r'id="opt-colour-red"[^>]* checked', html)
    assert not re.search(r'id="opt-size-s"[^>]* checked', html)
    assert "In stock" in html


def test_a_low_variant_says_how_many_are_left(client, tee):
    html = page(client, tee, "?size=m&colour=red")
    assert "Only 2 left in stock" in html
    assert '<option value="2">2</option>' in html and '<option value="3">' not in html


def test_it_marks_sold_out_and_missing_combinations(client, tee):
    html = page(client, tee, "?colour=blue")
    # With blue chosen: M is sold out, L does not exist, S is there.
    assert 'class="option option-sold_out"' in html and "(sold out)" in html
    assert 'for="opt-size-l" class="option option-missing"' in html
    assert 'for="opt-size-s" class="option option-available"' in html


def test_a_combination_that_does_not_exist_says_so_and_cannot_be_added(client, tee):
    html = page(client, tee, "?size=l&colour=blue")
    assert "This combination is not available" in html
    assert "data-add disabled" in html


def test_unknown_values_are_ignored_not_an_error(client, tee):
    html = page(client, tee, "?size=xxl&variant=999999&colour=%00")
    assert "Choose your options to see the stock." in html


def test_choosing_and_adding_without_javascript(client, tee):
    response = client.post("/cart/add/", {"product": tee.pk, "size": "m", "colour": "red", "show": "1"})
    assert response.status_code == 302
    assert response.url == f"{tee.get_absolute_url()}?variant={variant(tee, 'M', 'Red').pk}"
    response = client.post("/cart/add/", {"product": tee.pk, "size": "m", "colour": "red", "quantity": 2})
    assert response.status_code == 302
    line = CartLine.objects.get()
    assert (line.variant, line.quantity) == (variant(tee, "M", "Red"), 2)


def test_adding_without_a_full_choice_goes_back_to_the_page_with_the_choice_kept(client, tee):
    response = client.post("/cart/add/", {"product": tee.pk, "colour": "red", "quantity": 1}, follow=True)
    assert response.redirect_chain[0][0] == f"{tee.get_absolute_url()}?colour=red"
    assert "Choose a size." in response.content.decode()
    assert not CartLine.objects.exists()


def test_a_sold_out_variant_is_refused_by_the_cart(client, tee):
    response = client.post("/cart/add/", {"product": tee.pk, "size": "m", "colour": "blue", "quantity": 1})
    assert response.status_code == 409
    assert not CartLine.objects.exists()


def test_a_single_variant_product_page_is_as_before(client):
    from tests.factories import ProductFactory

    lamp = ProductFactory(name="Desk lamp", stock=4)
    html = client.get(lamp.get_absolute_url()).content.decode()
    assert f'name="product" value="{lamp.pk}"' in html
    assert "variant-data" not in html and "Only 4 left in stock" in html


def test_a_colours_picture_shows_for_each_size_in_that_colour(tee):
    from shop.catalog.models import ProductImage
    from shop.catalog.variants import picker

    ProductImage.objects.create(product=tee, variant=variant(tee, "S", "Blue"), image="products/blue.png")
    data = picker(tee)
    pictures = {tuple(sorted(v["values"].values())): v["image"] for v in data["variants"]}
    assert pictures[("blue", "m")].endswith("products/blue.png")
    assert pictures[("red", "s")] == ""


def test_with_the_page_cache_a_variants_stock_shows_as_it_is_now(client, tee, settings, django_assert_max_num_queries):
    from django.core.cache import cache
    from django.db.models import F

    from shop.catalog.models import Product, Variant

    settings.SHOP_PAGE_CACHE_SECONDS = 300
    cache.clear()
    medium_red = variant(tee, "M", "Red")
    assert "Only 2 left in stock" in page(client, tee, "?size=m&colour=red")
    with django_assert_max_num_queries(4):  # kept: the page and this choice's part, by tokens
        assert "Only 2 left in stock" in page(client, tee, f"?variant={medium_red.pk}")
    # A sale of one, as checkout takes it: the product's then the variant's stock.
    Product.objects.filter(pk=tee.pk).update(stock=F("stock") - 1)
    Variant.objects.filter(pk=medium_red.pk).update(stock=F("stock") - 1)
    assert "Only 1 left in stock" in page(client, tee, "?size=m&colour=red")
    Product.objects.filter(pk=tee.pk).update(stock=F("stock") - 1)
    Variant.objects.filter(pk=medium_red.pk).update(stock=F("stock") - 1)
    html = page(client, tee, "?size=m&colour=red")
    assert "Sold out" in html and "Only 1 left" not in html


def card_price(html: str, product) -> str:
    """The card's price paragraph, in words."""
    card = html.split(f'data-product="{product.pk}"', 1)[1].split("</li>", 1)[0]
    found = re.search(r'<p class="price">(.*?)</p>', card, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", found).split())


def test_a_card_says_from_the_lowest_price_when_sizes_cost_differently(client, tee):
    from tests.factories import ProductFactory

    plain = ProductFactory(price=Decimal("9.50"), category=tee.category)
    polo = with_variants(ProductFactory(sku="POLO", price=Decimal("30.00"), category=tee.category), colours=("Red",))
    cheap_small = with_variants(
        ProductFactory(sku="CHEAP", price=Decimal("30.00"), category=tee.category),
        sizes=("S", "M"),
        colours=("Red",),
        prices={("S", "Red"): Decimal("25.00")},  # below the product's own price
    )

    html = client.get(tee.category.get_absolute_url()).content.decode()

    assert card_price(html, tee) == "From $20.00"  # L costs 24.00
    assert card_price(html, cheap_small) == "From $25.00"
    assert card_price(html, polo) == "$30.00"  # every size at one price: no "From"
    assert card_price(html, plain) == "$9.50"


def test_an_inactive_dearer_variant_does_not_make_a_card_say_from(client, tee):
    from shop.catalog.models import Variant

    Variant.objects.filter(pk=variant(tee, "L", "Red").pk).update(is_active=False)
    html = client.get(tee.category.get_absolute_url()).content.decode()
    assert card_price(html, tee) == "$20.00"
