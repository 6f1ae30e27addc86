"""GET /api/v1/products/ and /api/v1/products/<slug>/: listing, filters, sorting, detail."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [p["slug"] for p in response.json()["results"]]


# --- shape --------------------------------------------------------------------------------------


def test_it_lists_active_products_paginated(api):
    ProductFactory(slug="on-show")
    ProductFactory(slug="hidden", is_active=False)

    response = api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert slugs(response) == ["on-show"]


def test_it_gives_money_as_decimal_strings_with_a_currency(api, settings):
    settings.SHOP_CURRENCY = "EUR"
    ProductFactory(slug="sale", price=Decimal("19.99"), compare_at_price=Decimal("25.00"))

    product = api.get(URL).json()["results"][0]

    assert product["price"] == "19.99"
    assert product["compare_at_price"] == "25.00"
    assert product["currency"] == "EUR"
    assert product["on_sale"] is True


def test_it_shows_the_first_image_and_the_category(api):
    product = ProductFactory(slug="pictured", category=CategoryFactory(slug="hats", name="Hats"))
    ProductImageFactory(product=product, position=1, alt_text="second")
    ProductImageFactory(product=product, position=0, alt_text="first")

    item = api.get(URL).json()["results"][0]

    assert item["image"]["alt"] == "first"
    assert item["image"]["url"].startswith("http://testserver/")
    assert item["category"] == {"slug": "hats", "name": "Hats", "path": "hats"}


def test_it_shows_no_image_when_a_product_has_none(api):
    ProductFactory()

    assert api.get(URL).json()["results"][0]["image"] is None


def test_it_links_the_next_page(api):
    ProductFactory.create_batch(3)

    body = api.get(URL, {"page_size": 2}).json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert "page=2" in body["next"]
    assert body["previous"] is None


def test_it_answers_a_page_past_the_end_with_a_readable_404(api):
    ProductFactory()

    response = api.get(URL, {"page": 9999})

    assert response.status_code == 404
    assert "pages run from 1" in response.json()["detail"]


def test_it_answers_a_non_numeric_page_with_a_404_not_a_500(api):
    ProductFactory()

    response = api.get(URL, {"page": "abc"})

    assert response.status_code == 404
    assert response.json()["detail"]


def test_it_caps_the_page_size(api):
    ProductFactory.create_batch(3)

    body = api.get(URL, {"page_size": 100000}).json()

    assert len(body["results"]) == 3  # capped at max_page_size, not an error


# --- query counts -------------------------------------------------------------------------------


def make_listed_products(n: int) -> None:
    parent = CategoryFactory()
    for i in range(n):
        product = ProductFactory(category=CategoryFactory(parent=parent), compare_at_price=Decimal("30.00"))
        ProductImageFactory(product=product)
        if i % 2:
            ProductImageFactory(product=product, alt_text="")  # falls back to the product's name


def count_queries(client, url, params) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def test_it_lists_products_in_a_constant_number_of_queries(api):
    make_listed_products(3)
    small, body = count_queries(api, URL, {"page_size": 3})
    assert len(body["results"]) == 3

    make_listed_products(27)
    large, body = count_queries(api, URL, {"page_size": 30})
    assert len(body["results"]) == 30

    # count, the page's ids, products with their categories, their images, running promotions
    # (nothing cached: the ids and each product's item are cached apart, shop/catalog/cache.py).
    assert small == large == 5


def test_it_filters_by_category_in_a_constant_number_of_queries(api):
    root = CategoryFactory(slug="root")
    for _ in range(3):
        ProductImageFactory(product=ProductFactory(category=CategoryFactory(parent=root)))
    small, _body = count_queries(api, URL, {"category": "root", "page_size": 30})

    for _ in range(27):
        ProductImageFactory(product=ProductFactory(category=CategoryFactory(parent=root)))
    large, body = count_queries(api, URL, {"category": "root", "page_size": 30})

    assert body["count"] == 30
    # the category, count, the page's ids, products with their categories, their images, promotions.
    assert small == large == 6


def test_it_shows_a_product_in_a_constant_number_of_queries(api):
    few = ProductFactory(category=CategoryFactory(parent=CategoryFactory()))
    ProductImageFactory.create_batch(2, product=few)
    many = ProductFactory(category=CategoryFactory(parent=CategoryFactory(parent=CategoryFactory())))
    ProductImageFactory.create_batch(12, product=many)

    small, _body = count_queries(api, f"{URL}{few.slug}/", {})
    large, body = count_queries(api, f"{URL}{many.slug}/", {})

    assert len(body["images"]) == 12
    # the product with its category, its images, its variant, the breadcrumb ancestors, running promotions
    # (a product with variant options: tests/shop/catalog/test_api_variants.py).
    assert small == large == 5


# --- filters ------------------------------------------------------------------------------------


def test_it_includes_sub_categories_in_a_category(api):
    clothing = CategoryFactory(slug="clothing")
    women = CategoryFactory(slug="women", parent=clothing)
    dresses = CategoryFactory(slug="dresses", parent=women)
    ProductFactory(slug="coat", category=clothing)
    ProductFactory(slug="blouse", category=women)
    ProductFactory(slug="gown", category=dresses)
    ProductFactory(slug="drill", category=CategoryFactory(slug="tools"))
    # A sibling whose slug starts like "women" must not leak in through the path prefix.
    ProductFactory(slug="watch", category=CategoryFactory(slug="womens-watches", parent=clothing))

    assert set(slugs(api.get(URL, {"category": "clothing"}))) == {"coat", "blouse", "gown", "watch"}
    assert set(slugs(api.get(URL, {"category": "women"}))) == {"blouse", "gown"}
    assert slugs(api.get(URL, {"category": "dresses"})) == ["gown"]


def test_it_filters_by_price_range_inclusive(api):
    for price in ["5.00", "9.99", "10.00", "20.00", "20.01"]:
        ProductFactory(slug=f"p-{price}", price=Decimal(price))

    got = slugs(api.get(URL, {"min_price": "10", "max_price": "20.00", "ordering": "price"}))
    assert got == ["p-10.00", "p-20.00"]
    assert slugs(api.get(URL, {"min_price": "20.01"})) == ["p-20.01"]
    assert slugs(api.get(URL, {"max_price": "5", "ordering": "price"})) == ["p-5.00"]


def test_it_filters_to_products_in_stock(api):
    ProductFactory(slug="plenty", stock=3)
    ProductFactory(slug="sold-out", stock=0)

    assert slugs(api.get(URL, {"in_stock": "true"})) == ["plenty"]
    assert set(slugs(api.get(URL, {"in_stock": "false"}))) == {"plenty", "sold-out"}


def test_it_filters_to_products_on_sale(api):
    ProductFactory(slug="discounted", price=Decimal("10.00"), compare_at_price=Decimal("12.00"))
    ProductFactory(slug="full-price")

    assert slugs(api.get(URL, {"on_sale": "true"})) == ["discounted"]


def test_it_matches_every_search_word(api):
    ProductFactory(slug="scarf", name="Red wool scarf")
    ProductFactory(slug="shirt", name="Red cotton shirt")
    ProductFactory(slug="hat", name="Blue hat", description="Made of WOOL, dyed red")
    ProductFactory(slug="mitt", name="Green wool mitten")

    assert set(slugs(api.get(URL, {"search": "red wool"}))) == {"scarf", "hat"}
    assert slugs(api.get(URL, {"search": "  RED   cotton "})) == ["shirt"]
    assert slugs(api.get(URL, {"search": "red plastic"})) == []


def test_it_finds_a_product_by_its_exact_sku(api):
    ProductFactory(slug="widget", sku="WX-100")
    ProductFactory(slug="other", sku="WX-1000")

    assert slugs(api.get(URL, {"search": "wx-100"})) == ["widget"]


def test_it_combines_filters(api):
    shoes = CategoryFactory(slug="shoes")
    ProductFactory(slug="match", name="Trail runner", category=shoes, price=Decimal("80.00"), stock=2)
    ProductFactory(slug="too-dear", name="Trail runner pro", category=shoes, price=Decimal("180.00"), stock=2)
    ProductFactory(slug="sold-out", name="Trail runner lite", category=shoes, price=Decimal("60.00"), stock=0)
    ProductFactory(slug="elsewhere", name="Trail runner", price=Decimal("80.00"), stock=2)

    response = api.get(URL, {"search": "trail", "category": "shoes", "max_price": "100", "in_stock": "true"})

    assert slugs(response) == ["match"]


# --- sorting ------------------------------------------------------------------------------------


@pytest.fixture
def sortable():
    now = timezone.now()
    rows = [
        # slug, name, price, rating, reviews, age in days
        ("b", "Banana", "2.50", "4.00", 3, 3),
        ("a", "apple", "10.00", None, 0, 1),
        ("c", "Cherry", "1.25", "2.50", 2, 2),
        ("d", "Date", "7.00", "4.00", 9, 0),
    ]
    for slug, name, price, rating, count, age in rows:
        ProductFactory(
            slug=slug,
            name=name,
            price=Decimal(price),
            # The API's rating is the Bayesian score; the counts add up (a check constraint).
            rating_score=Decimal(rating) if rating else None,
            rating_count=count,
            rating_sum=int(Decimal(rating or 0) * count),
            **({"stars_4": count} if rating == "4.00" else {"stars_2": count // 2, "stars_3": count // 2}),
            created_at=now - timedelta(days=age),
        )


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["c", "b", "d", "a"]),
        ("-price", ["a", "d", "b", "c"]),
        ("-created", ["d", "a", "c", "b"]),
        # Rated products first, ties by number of reviews; unrated ones last.
        ("-rating", ["d", "b", "c", "a"]),
        # Lowest rated first, but unrated products still last.
        ("rating", ["c", "b", "d", "a"]),
    ],
)
def test_it_sorts_by_each_key(api, sortable, ordering, expected):
    assert slugs(api.get(URL, {"ordering": ordering})) == expected


def test_it_sorts_by_name(api, sortable):
    by_name = slugs(api.get(URL, {"ordering": "name"}))
    by_name_desc = slugs(api.get(URL, {"ordering": "-name"}))

    assert by_name_desc == list(reversed(by_name))
    assert by_name.index("b") < by_name.index("c") < by_name.index("d")


def test_it_sorts_newest_first_by_default(api, sortable):
    assert slugs(api.get(URL)) == ["d", "a", "c", "b"]


def test_it_gives_rating_as_a_decimal_string_or_null(api, sortable):
    by_slug = {p["slug"]: p for p in api.get(URL).json()["results"]}

    assert by_slug["b"]["rating"] == "4.00"
    assert by_slug["b"]["rating_count"] == 3
    assert by_slug["a"]["rating"] is None


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "-1"}, "min_price"),
        ({"max_price": "-0.01"}, "max_price"),
        ({"min_price": "abc"}, "min_price"),
        ({"max_price": "1e999"}, "max_price"),
        ({"min_price": "NaN"}, "min_price"),
        ({"min_price": "20", "max_price": "10"}, "max_price"),
        ({"category": "no-such-category"}, "category"),
        ({"ordering": "sku"}, "ordering"),
        ({"ordering": "price; DROP TABLE"}, "ordering"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_it_rejects_bad_filter_input_with_a_message_per_field(api, params, field):
    ProductFactory()

    response = api.get(URL, params)

    assert response.status_code == 400, response.content
    messages = response.json()["errors"][field]
    assert messages and all(isinstance(m, str) and m for m in messages)


def test_it_names_the_unknown_category(api):
    response = api.get(URL, {"category": "nope"})

    assert "nope" in response.json()["errors"]["category"][0]


# --- detail -------------------------------------------------------------------------------------


def test_it_shows_a_product_with_images_description_and_breadcrumbs(api):
    clothing = CategoryFactory(slug="clothing", name="Clothing")
    dresses = CategoryFactory(slug="dresses", name="Dresses", parent=CategoryFactory(slug="women", parent=clothing))
    product = ProductFactory(slug="gown", category=dresses, description="Silk.", price=Decimal("120.50"))
    ProductImageFactory(product=product, position=2, alt_text="back")
    ProductImageFactory(product=product, position=1, alt_text="")

    response = api.get(f"{URL}gown/")

    assert response.status_code == 200
    body = response.json()
    assert body["price"] == "120.50"
    assert body["currency"] == "USD"
    assert body["description"] == "Silk."
    assert [i["alt"] for i in body["images"]] == [product.name, "back"]
    assert [c["slug"] for c in body["breadcrumbs"]] == ["clothing", "women", "dresses"]


def test_it_answers_an_unknown_product_with_a_json_404(api):
    response = api.get(f"{URL}no-such-thing/")

    assert response.status_code == 404
    assert response.json()["detail"]


def test_it_hides_an_inactive_product(api):
    ProductFactory(slug="retired", is_active=False)

    assert api.get(f"{URL}retired/").status_code == 404


def test_it_does_not_let_anyone_write_products(api_as, staff):
    product = ProductFactory(slug="fixed", price=Decimal("19.99"))
    client = api_as(staff)

    assert client.post(URL, {"slug": "new", "name": "New"}, format="json").status_code == 405
    assert client.patch(f"{URL}fixed/", {"price": "0.01"}, format="json").status_code == 405
    assert client.delete(f"{URL}fixed/").status_code == 405
    product.refresh_from_db()
    assert product.price == Decimal("19.99")
