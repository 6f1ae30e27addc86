"""Variants through the API: a product's detail, the lists' `attr` filter and variant_count, /products/facets/."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from shop.catalog.models import Product, Variant
from tests.api.conformance import assert_conforms
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
FACETS = "/api/v1/products/facets/"
NEW_FIELDS = {"variant_count", "product_type", "attributes", "options", "variants"}


def detail(api, slug: str) -> dict:
    response = assert_conforms(api.get(f"{URL}{slug}/"))
    assert response.status_code == 200, response.content
    return response.json()


def count_queries(api, url: str, params=None) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.fixture
def tee():
    """A tee in S, M, L and red, blue: L red at its own price, S red sold out, M blue pictured; cotton."""
    tee = with_variants(
        slug="tee",
        name="Tee",
        price=Decimal("20.00"),
        prices={("L", "Red"): Decimal("24.00")},
        stock={("S", "Red"): 0, ("M", "Blue"): 3, ("L", "Red"): 2, ("S", "Blue"): 1, ("M", "Red"): 1},
        missing=[("L", "Blue")],
        material="Cotton",
    )
    ProductImageFactory(product=tee, position=0, alt_text="the tee")
    ProductImageFactory(product=tee, position=1, alt_text="in blue", variant=variant(tee, "M", "Blue"))
    return tee


# --- detail ---------------------------------------------------------------------------------------


def test_it_shows_a_products_type_attributes_and_options(api, tee):
    body = detail(api, "tee")

    assert body["product_type"] == {"slug": "clothing", "name": "Clothing"}
    assert body["attributes"] == [
        {"attribute": "material", "name": "Material", "values": [{"slug": "cotton", "name": "Cotton", "swatch": ""}]}
    ]
    # Only the values its variants have (no XL, no black), in their order; attributes by name.
    assert body["options"] == [
        {
            "attribute": "colour",
            "name": "Colour",
            "values": [
                {"slug": "red", "name": "Red", "swatch": "#c0392b"},
                {"slug": "blue", "name": "Blue", "swatch": "#2e5fa3"},
            ],
        },
        {
            "attribute": "size",
            "name": "Size",
            "values": [{"slug": s, "name": s.upper(), "swatch": ""} for s in ("s", "m", "l")],
        },
    ]
    assert body["variant_count"] == 5


def test_it_shows_each_variant_with_its_options_price_stock_and_picture(api, tee):
    body = detail(api, "tee")

    by_options = {(v["options"]["size"], v["options"]["colour"]): v for v in body["variants"]}
    assert set(by_options) == {("s", "red"), ("s", "blue"), ("m", "red"), ("m", "blue"), ("l", "red")}
    large_red, small_red, medium_blue = by_options[("l", "red")], by_options[("s", "red")], by_options[("m", "blue")]
    assert large_red == {
        "id": variant(tee, "L", "Red").pk,
        "sku": variant(tee, "L", "Red").sku,
        "price": "24.00",
        "compare_at_price": None,
        "offer": None,
        "currency": "USD",
        "in_stock": True,
        "stock": 2,
        "options": {"size": "l", "colour": "red"},
        "image": None,
    }
    assert small_red["price"] == "20.00", "the product's price"
    assert (small_red["stock"], small_red["in_stock"]) == (0, False)
    assert medium_blue["image"]["alt"] == "in blue"
    assert medium_blue["image"]["url"].startswith("http://testserver/media/")


def test_it_leaves_out_inactive_variants_and_their_values(api, tee):
    Variant.objects.filter(pk=variant(tee, "L", "Red").pk).update(is_active=False)

    body = detail(api, "tee")

    assert len(body["variants"]) == body["variant_count"] == 4
    sizes = next(o for o in body["options"] if o["attribute"] == "size")
    assert [v["slug"] for v in sizes["values"]] == ["s", "m"]


def test_a_variant_on_sale_shows_its_own_former_price(api, tee):
    Variant.objects.filter(pk=variant(tee, "L", "Red").pk).update(compare_at_price=Decimal("30.00"))
    Product.objects.filter(pk=tee.pk).update(compare_at_price=Decimal("25.00"))

    by_sku = {v["sku"]: v for v in detail(api, "tee")["variants"]}

    assert by_sku[variant(tee, "L", "Red").sku]["compare_at_price"] == "30.00"
    assert by_sku[variant(tee, "S", "Red").sku]["compare_at_price"] == "25.00", "at the product's price: its"


# Today's fields of a product's detail, before variants.
TODAY = {
    "id",
    "sku",
    "slug",
    "name",
    "brand",
    "price",
    "compare_at_price",
    "currency",
    "on_sale",
    "in_stock",
    "stock",
    "rating",
    "rating_count",
    "rating_mean",
    "rating_distribution",
    "offer",
    "category",
    "image",
    "created_at",
    "description",
    "images",
    "breadcrumbs",
}


def test_a_product_in_a_single_variant_looks_as_it_always_did(api):
    lamp = ProductFactory(
        slug="lamp",
        sku="LAMP-1",
        name="Lamp",
        brand="Lumen",
        price=Decimal("30.00"),
        compare_at_price=Decimal("35.00"),
        stock=4,
        category=CategoryFactory(slug="lighting", name="Lighting"),
    )
    ProductImageFactory(product=lamp, alt_text="lit")

    body = detail(api, "lamp")

    assert set(body) == TODAY | NEW_FIELDS
    expected = {
        "id": lamp.pk,
        "sku": "LAMP-1",
        "slug": "lamp",
        "name": "Lamp",
        "brand": "Lumen",
        "price": "30.00",
        "compare_at_price": "35.00",
        "currency": "USD",
        "on_sale": True,
        "in_stock": True,
        "stock": 4,
        "rating": None,
        "rating_count": 0,
        "rating_mean": None,
        "offer": None,
        "category": {"slug": "lighting", "name": "Lighting", "path": "lighting"},
        "description": "A fine product.",
        "breadcrumbs": [{"slug": "lighting", "name": "Lighting", "path": "lighting"}],
    }
    assert {name: body[name] for name in expected} == expected
    assert body["image"]["alt"] == "lit" and [i["alt"] for i in body["images"]] == ["lit"]
    assert [bar["count"] for bar in body["rating_distribution"]] == [0, 0, 0, 0, 0]
    # And what is new says: one variant, nothing to choose.
    assert (body["product_type"], body["attributes"], body["options"], body["variant_count"]) == (None, [], [], 1)
    assert body["variants"] == [
        {
            "id": lamp.variants.get().pk,
            "sku": "LAMP-1",
            "price": "30.00",
            "compare_at_price": "35.00",
            "offer": None,
            "currency": "USD",
            "in_stock": True,
            "stock": 4,
            "options": {},
            "image": None,
        }
    ]


def test_a_products_list_item_is_its_detail_less_the_details(api, tee):
    lamp = ProductFactory(slug="lamp")

    items = {item["slug"]: item for item in assert_conforms(api.get(URL)).json()["results"]}

    for slug in ("tee", "lamp"):
        full = detail(api, slug)
        assert items[slug] == {name: full[name] for name in items[slug]}
    assert (items["tee"]["variant_count"], items["lamp"]["variant_count"]) == (5, 1)
    assert set(items["lamp"]) == TODAY - {"description", "images", "breadcrumbs"} | {"variant_count"}
    assert lamp.variants.count() == 1


def test_it_shows_a_product_with_2_or_12_variants_in_the_same_number_of_queries(api):
    parent = CategoryFactory()
    few = with_variants(
        sizes=("S",), colours=("Red", "Blue"), material="Cotton", category=CategoryFactory(parent=parent)
    )
    many = with_variants(
        sizes=("S", "M", "L", "XL"),
        colours=("Red", "Blue", "Black"),
        material="Wool",
        category=CategoryFactory(parent=parent),
    )
    ProductImageFactory(product=many, variant=many.variants.first())

    small, body = count_queries(api, f"{URL}{few.slug}/")
    assert len(body["variants"]) == 2
    large, body = count_queries(api, f"{URL}{many.slug}/")
    assert len(body["variants"]) == 12

    # the product with its category and type, its images, its variants, their options with their
    # attributes and values, the values describing it, the breadcrumb ancestors, running promotions.
    assert small == large == 7


def test_it_lists_products_with_variants_in_a_constant_number_of_queries(api):
    parent = CategoryFactory()
    for i in range(3):
        product = with_variants(category=CategoryFactory(parent=parent), sizes=("S", "M")[: 1 + i % 2])
        ProductImageFactory(product=product)
    small, body = count_queries(api, URL, {"page_size": 30})
    assert len(body["results"]) == 3

    for i in range(27):
        product = with_variants(category=CategoryFactory(parent=parent), sizes=("S", "M", "L")[: 1 + i % 3])
        ProductImageFactory(product=product)
    ProductFactory.create_batch(3)  # and plain ones
    large, body = count_queries(api, URL, {"page_size": 40})
    assert len(body["results"]) == 33
    assert {item["variant_count"] for item in body["results"]} == {1, 2, 4, 6}

    # count, the page's ids, products with their categories (and their variants counted), their images, promotions.
    assert small == large == 5


def test_a_cached_detail_shows_each_variants_stock_at_once(api, tee, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    medium_blue = variant(tee, "M", "Blue")
    Variant.objects.filter(pk=medium_blue.pk).update(stock=30)  # plenty: pages show no number for it
    Product.objects.filter(pk=tee.pk).update(stock=F("stock") + 27)
    tee.refresh_from_db()
    detail(api, "tee")
    # As checkout takes one: the variant and the product's summed stock (a sale no page shows:
    # the product's cached item is kept).
    Variant.objects.filter(pk=medium_blue.pk).update(stock=F("stock") - 1)
    Product.objects.filter(pk=tee.pk).update(stock=F("stock") - 1)

    body = detail(api, "tee")

    assert next(v for v in body["variants"] if v["id"] == medium_blue.pk)["stock"] == 29
    assert body["stock"] == tee.stock - 1


# --- lists filtered by attribute values --------------------------------------------------------------


@pytest.fixture
def shelf():
    """The tee's shop: a tee (above), a blue-only polo in M and L, a woollen jumper, a plain lamp."""
    tops = CategoryFactory(slug="tops", name="Tops")
    tee = with_variants(slug="tee", sizes=("S", "M"), colours=("Red",), category=tops, material="Cotton")
    polo = with_variants(
        slug="polo", sizes=("M", "L"), colours=("Blue",), stock={("M", "Blue"): 0, ("L", "Blue"): 2}, category=tops
    )
    jumper = with_variants(slug="jumper", sizes=("L",), colours=("Black",), material="Wool")
    lamp = ProductFactory(slug="lamp", category=tops)
    return {"tee": tee, "polo": polo, "jumper": jumper, "lamp": lamp}


def slugs(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["slug"] for item in assert_conforms(response).json()["results"]}


def test_it_filters_a_list_by_attribute_values(api, shelf):
    assert slugs(api.get(URL, {"attr": "size:m"})) == {"tee", "polo"}
    assert slugs(api.get(URL, {"attr": ["size:m", "size:l"]})) == {"tee", "polo", "jumper"}
    assert slugs(api.get(URL, {"attr": ["size:m", "colour:blue"]})) == {"polo"}
    assert slugs(api.get(URL, {"attr": "size:s,colour:blue"})) == set(), "no blue S"
    assert slugs(api.get(URL, {"attr": "material:wool"})) == {"jumper"}
    assert slugs(api.get(URL, {"attr": "size:m", "in_stock": "true"})) == {"tee"}, "the polo's M is sold out"
    assert slugs(api.get(URL, {"attr": "size:m", "category": "tops"})) == {"tee", "polo"}


@pytest.mark.parametrize(
    ("value", "words"),
    [("fabric:silk", "no attribute “fabric”"), ("size:xxl", "Size has no value “xxl”"), ("size", "attribute:value")],
)
def test_it_answers_an_unknown_attribute_or_value_with_a_400_that_names_it(api, shelf, value, words):
    for url in (URL, FACETS):
        response = assert_conforms(api.get(url, {"attr": value}))

        assert response.status_code == 400, response.content
        assert words in response.json()["errors"]["attr"][0]


def test_it_refuses_too_many_attribute_values(api, shelf):
    response = assert_conforms(api.get(URL, {"attr": ["size:m"] * 31}))

    assert response.status_code == 400
    assert "at most 30" in response.json()["errors"]["attr"][0]


# --- facets -------------------------------------------------------------------------------------


def facets(api, params=None) -> dict:
    response = assert_conforms(api.get(FACETS, params or {}))
    assert response.status_code == 200, response.content
    return {f["attribute"]: {v["slug"]: (v["count"], v["chosen"]) for v in f["values"]} for f in response.json()}


def test_facets_count_the_products_having_each_value(api, shelf):
    assert facets(api) == {
        "colour": {"red": (1, False), "blue": (1, False), "black": (1, False)},
        "material": {"cotton": (1, False), "wool": (1, False)},
        "size": {"s": (1, False), "m": (2, False), "l": (2, False)},
    }


def test_facets_follow_the_lists_filters(api, shelf):
    in_tops = facets(api, {"category": "tops"})
    assert in_tops["size"] == {"s": (1, False), "m": (2, False), "l": (1, False)}
    assert "wool" not in in_tops["material"]

    # Sizes counted without their own choice (what choosing another would add), colours with it.
    chosen = facets(api, {"attr": "size:m"})
    assert chosen["size"] == {"s": (1, False), "m": (2, True), "l": (2, False)}
    assert chosen["colour"] == {"red": (1, False), "blue": (1, False)}

    in_stock = facets(api, {"attr": "size:m", "in_stock": "true"})
    assert in_stock["colour"] == {"red": (1, False)}, "the polo's M is sold out"


def test_facets_give_names_and_swatches(api, shelf):
    response = api.get(FACETS)

    colour = next(f for f in response.json() if f["attribute"] == "colour")
    assert colour["name"] == "Colour"
    assert colour["values"][0] == {"slug": "red", "name": "Red", "swatch": "#c0392b", "count": 1, "chosen": False}


def test_facets_are_empty_for_a_store_without_attributes(api):
    ProductFactory()

    assert assert_conforms(api.get(FACETS)).json() == []


def test_facets_take_a_constant_number_of_queries(api, shelf):
    small, _body = count_queries(api, FACETS, {"attr": "size:m"})
    for _ in range(10):
        with_variants(sizes=("S", "M", "L", "XL"), colours=("Red", "Blue", "White"), material="Wool")
    large, body = count_queries(api, FACETS, {"attr": "size:m"})

    assert next(f for f in body if f["attribute"] == "size")["values"][1]["count"] == 12
    # The counts for the list and for the chosen attribute, and the attributes with their values
    # (read once and cached when the page cache is on; here, off, read again at each use).
    assert small == large


def test_facets_show_a_sale_that_sells_a_size_out_at_once(api, shelf, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    assert facets(api, {"in_stock": "true"})["size"]["l"] == (2, False)
    large_blue = variant(shelf["polo"], "L", "Blue")

    Variant.objects.filter(pk=large_blue.pk).update(stock=F("stock") - 2)

    assert facets(api, {"in_stock": "true"})["size"]["l"] == (1, False)
