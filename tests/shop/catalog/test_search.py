"""Search that forgives (shop/catalog/search.py): the same on SQLite and PostgreSQL.

CI runs this file on both databases: every test here holds on each.
"""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.catalog import search
from shop.catalog.filters import ProductFilter
from shop.catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

pytestmark = pytest.mark.django_db

PRODUCTS = "/products/"
API = "/api/v1/products/"


def found(query: str, **params) -> list[str]:
    """The names the search lists, best first."""
    filters = ProductFilter({"search": query, **params}, queryset=Product.objects.active())
    assert filters.is_valid(), filters.errors
    return [p.name for p in filters.qs]


def names(response) -> list[str]:
    results = response.content.decode().split('<div class="no-results">')[0]
    return [unescape(n) for n in re.findall(r'<h3 class="card-title">(.*?)</h3>', results)]


@pytest.fixture
def shop():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=clothing)
    shoes = CategoryFactory(name="Shoes", slug="shoes")
    return {
        "wrap": ProductFactory(
            name="Red Wrap Dress", brand="Lumen", category=dresses, sku="DR-1", description="Light and airy."
        ),
        "midi": ProductFactory(
            name="Blue Midi Dress", brand="Fjord", category=dresses, sku="DR-2", description="For warm days."
        ),
        "sneaker": ProductFactory(
            name="Canvas Sneaker", brand="Kestrel", category=shoes, sku="SH-1", description="Goes with any dress."
        ),
        "boot": ProductFactory(
            name="Red Ankle Boot", brand="Northwind", category=shoes, sku="SH-2", description="Leather, resoled."
        ),
    }


# -- words, stems, corrections (no database) -----------------------------------------------------


@pytest.mark.parametrize(
    ("word", "stem"),
    [("dresses", "dress"), ("dress", "dress"), ("shoes", "shoe"), ("boxes", "box"), ("accessories", "accessor")],
)
def test_a_plural_is_cut_to_a_stem_that_finds_every_form(word, stem):
    assert search.stem(word) == stem


def test_words_are_lower_case_letters_and_digits():
    assert search.words("Women's  Water-Resistant SPF-30!") == ["women", "s", "water", "resistant", "spf", "30"]


def vocab(*texts):
    return search.Vocabulary.build(texts, [], [])


def test_a_misspelt_word_is_corrected_to_the_closest_catalog_word():
    words = vocab("Wrap Dress", "Midi Dress", "Canvas Sneaker")
    assert words.correct("dresss") == "dress"
    assert words.correct("sneeker") == "sneaker"
    assert words.correct("sprocket") is None  # too far
    assert words.correct("dres") is None  # a word being typed: "dress" starts with it
    assert words.correct("dresses") is None  # a plural of a known word


def test_short_words_and_numbers_are_never_corrected():
    words = vocab("Red hat", "Size 42")
    assert words.correct("rad") is None
    assert words.correct("43") is None


def test_the_more_frequent_of_two_equally_close_words_wins():
    words = vocab("Lamp", "Lamp", "Lamp", "Lame duck")
    assert words.correct("lamx") == "lamp"


# -- matching and ranking (the database's index) ----------------------------------------------------


def test_a_misspelt_word_finds_what_it_meant(shop):
    assert set(found("dresss")) == {"Red Wrap Dress", "Blue Midi Dress", "Canvas Sneaker"}


def test_a_plural_finds_the_singular_and_a_word_being_typed_finds_both(shop):
    assert set(found("dresses")) == set(found("dress")) == set(found("dres"))
    assert "Red Wrap Dress" in found("dresses")


def test_every_word_must_match_somewhere(shop):
    assert found("red dres") == ["Red Wrap Dress"]
    assert found("red dresss") == ["Red Wrap Dress"]
    assert found("red tractor") == []


def test_a_name_match_outranks_a_category_and_a_description_match(shop):
    ProductFactory(name="Plain Scarf", description="Never a dress.")
    ranked = found("dress")
    assert ranked[:2] == ["Blue Midi Dress", "Red Wrap Dress"] or ranked[:2] == ["Red Wrap Dress", "Blue Midi Dress"]
    assert set(ranked[2:]) == {"Canvas Sneaker", "Plain Scarf"}


def test_a_brand_match_outranks_a_description_match(shop):
    ProductFactory(name="Tote", brand="Sunday")
    ProductFactory(name="Hat", description="Wear it on a sunday.")
    assert found("sunday") == ["Tote", "Hat"]


def test_the_brand_finds_its_products(shop):
    assert found("kestrel") == ["Canvas Sneaker"]
    assert found("kestral") == ["Canvas Sneaker"]  # misspelt


def test_a_category_name_finds_everything_in_it_and_below(shop):
    assert set(found("clothing")) == {"Red Wrap Dress", "Blue Midi Dress"}
    assert set(found("shoes")) == {"Canvas Sneaker", "Red Ankle Boot"}
    assert found("red shoes") == ["Red Ankle Boot"]


def test_an_exact_sku_comes_first(shop):
    ProductFactory(name="Bag", description="Goes with SH-1 sneakers", sku="BG-1")
    assert found("sh-1")[0] == "Canvas Sneaker"
    assert found("SH-1") == found("sh-1")


def test_the_words_as_typed_when_asked(shop):
    assert found("dresss", exact="true") == []


def test_relevance_is_the_default_order_of_a_search_and_other_sorts_still_apply(shop):
    assert found("red", ordering="name") == ["Red Ankle Boot", "Red Wrap Dress"]
    assert found("red", ordering="relevance") == found("red")


def test_relevance_without_a_search_lists_the_newest(shop):
    filters = ProductFilter({"ordering": "relevance"}, queryset=Product.objects.active())
    assert filters.is_valid()
    assert list(filters.qs) == list(Product.objects.active().order_by("-created_at", "-id"))


def test_inactive_products_are_never_found_nor_corrected_to(shop):
    ProductFactory(name="Retired Gramophone", is_active=False)
    assert found("gramophone") == []
    assert search.prepare("gramophon").corrected is None


def test_the_index_follows_edits(shop):
    wrap = shop["wrap"]
    wrap.name = "Red Wrap Gown"
    wrap.save()
    assert "Red Wrap Gown" in found("gown")
    Product.objects.filter(pk=wrap.pk).update(brand="Halcyon")
    assert found("halcyon") == ["Red Wrap Gown"]
    wrap.delete()
    assert found("halcyon") == []


def test_odd_input_is_only_text(shop):
    for query in ['"', "dress*", "dress:*", "a & b | !c", "NEAR(dress)", "'; DROP TABLE x; --", "-dress", "()"]:
        found(query)  # no database error


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own indexes")
def test_postgresql_finds_matches_through_its_indexes(shop):
    # All products (on a table this small the planner would rather read the active ones by their index).
    filters = ProductFilter({"search": "red dresss"}, queryset=Product.objects.all())
    assert filters.is_valid()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = filters.qs.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "catalog_product_search" in plan  # the GIN index of the text
    assert "catalog_product_sku_upper" in plan  # the exact SKU


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own index")
def test_sqlite_keeps_its_full_text_table_through_triggers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'catalog_product_fts_%'")
        assert {row[0] for row in cursor.fetchall()} == {
            "catalog_product_fts_insert",
            "catalog_product_fts_update",
            "catalog_product_fts_delete",
        }


# -- the storefront -------------------------------------------------------------------------------


def test_a_corrected_search_says_what_it_showed_and_offers_the_words_as_typed(client, shop):
    response = client.get(PRODUCTS, {"search": "dresss"})
    body = response.content.decode()

    assert response.status_code == 200
    assert set(names(response)) == {"Red Wrap Dress", "Blue Midi Dress", "Canvas Sneaker"}
    assert "Showing results for “<strong>dress</strong>”." in body
    assert 'href="?search=dresss&amp;exact=true"' in body
    assert "Search instead for “dresss”" in body


def test_the_words_as_typed_find_nothing_and_the_page_asks_did_you_mean(client, shop):
    response = client.get(PRODUCTS, {"search": "dresss", "exact": "true"})
    body = response.content.decode()

    assert names(response) == []
    assert "Did you mean" in body
    assert 'href="?search=dress">“dress”</a>' in body


def test_a_search_lists_the_best_match_first_and_the_sort_menu_says_relevance(client, shop):
    ProductFactory(name="Plain Scarf", description="Never a dress.")
    response = client.get(PRODUCTS, {"search": "dress"})
    body = response.content.decode()

    assert names(response)[-2:] in (["Canvas Sneaker", "Plain Scarf"], ["Plain Scarf", "Canvas Sneaker"])
    assert '<option value="relevance" selected>' in body


def test_no_results_offers_the_categories_named_and_popular_products(client, shop):
    boot = shop["boot"]
    boot.rating_score, boot.rating_count, boot.rating_sum, boot.stars_5 = 5, 3, 15, 3
    boot.save()
    response = client.get(PRODUCTS, {"search": "dresses purple"})
    body = response.content.decode()

    assert names(response) == []
    assert "No products match" in body
    assert "Try fewer filters" not in body  # none is set
    categories = body.split('id="try-categories-title"')[1].split("</nav>")[0]
    assert 'href="/category/dresses/"' in categories
    popular = body.split('id="popular-title"')[1]
    assert popular.index("Red Ankle Boot") < popular.index("Red Wrap Dress")  # best rated first


def test_no_results_without_a_named_category_offers_the_top_ones(client, shop):
    body = client.get(PRODUCTS, {"search": "tractor"}).content.decode()
    categories = body.split('id="try-categories-title"')[1].split("</nav>")[0]
    assert 'href="/category/clothing/"' in categories
    assert 'href="/category/shoes/"' in categories
    assert 'href="/category/dresses/"' not in categories


def test_no_results_with_filters_set_offers_to_clear_them(client, shop):
    response = client.get(PRODUCTS, {"search": "dress", "max_price": "1", "ordering": "price"})
    body = response.content.decode()

    assert names(response) == []
    assert "Try fewer filters" in body
    assert 'href="/products/?search=dress&amp;ordering=price"' in body


def test_a_search_page_takes_a_fixed_number_of_queries(client):
    dresses = CategoryFactory(name="Dresses", slug="dresses")

    def count(query):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(PRODUCTS, {"search": query})
        assert response.status_code == 200
        return len(ctx.captured_queries), names(response)

    client.get("/")  # what every page reads once (the footer's links) out of the count
    for i in range(3):
        ProductImageFactory(product=ProductFactory(name=f"Wrap Dress {i}", category=dresses))
    small, listed = count("dresss")
    assert len(listed) == 3

    for i in range(20):
        ProductImageFactory(product=ProductFactory(name=f"Midi Dress {i}", category=dresses, brand=f"B{i}"))
    large, listed = count("dresss")
    assert len(listed) == 23

    assert large == small
    nothing, listed = count("tractor")  # popular products instead
    assert listed == []
    assert nothing <= small + 2  # + the popular products' ids and the top categories


def test_a_search_page_is_cached_like_any_list(client, shop, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    client.get(PRODUCTS, {"search": "dresss"})
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(PRODUCTS, {"search": "dresss"})
    assert "Showing results for" in response.content.decode()
    assert len(ctx.captured_queries) <= 1  # the assembled page from the cache (the footer's pages aside)


# -- the API ------------------------------------------------------------------------------------------


def slugs(response):
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_the_api_searches_the_same_way(api, shop):
    assert slugs(api.get(API, {"search": "dresss"}))[-1] == shop["sneaker"].slug  # description only: last
    assert set(slugs(api.get(API, {"search": "dresss"}))) == {shop[k].slug for k in ("wrap", "midi", "sneaker")}
    assert slugs(api.get(API, {"search": "kestral"})) == [shop["sneaker"].slug]
    assert slugs(api.get(API, {"search": "red", "ordering": "name"})) == [shop["boot"].slug, shop["wrap"].slug]


def test_the_api_shows_the_brand(api, shop):
    item = api.get(f"{API}{shop['wrap'].slug}/").json()
    assert item["brand"] == "Lumen"
    assert api.get(API, {"search": "lumen"}).json()["results"][0]["brand"] == "Lumen"


def test_the_api_searches_in_a_fixed_number_of_queries(api):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(API, {"search": "dresss"})
        return len(ctx.captured_queries), len(slugs(response))

    for i in range(3):
        ProductFactory(name=f"Wrap Dress {i}")
    api.get(API)  # what the first request reads once, out of the count
    small, n = count()
    assert n == 3
    for i in range(20):
        ProductImageFactory(product=ProductFactory(name=f"Midi Dress {i}"))
    large, n = count()
    assert n == 23
    assert large == small
