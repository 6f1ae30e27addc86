"""Lists filter by attribute values (attr=size:m), with counts beside each value, and search finds them."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.catalog.filters import ProductFilter
from shop.catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory
from tests.variants import with_variants

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirts():
    tops = CategoryFactory(name="Tops", slug="tops")
    red_tee = with_variants(name="Red tee", sizes=("S", "M"), colours=("Red",), stock=3, category=tops)
    # Blue in M only, sold out; red in L.
    polo = with_variants(
        name="Polo",
        sizes=("M", "L"),
        colours=("Blue", "Red"),
        stock={("M", "Blue"): 0, ("L", "Red"): 4},
        missing=[("L", "Blue"), ("M", "Red")],
        category=tops,
        material="Cotton",
    )
    wool = with_variants(name="Jumper", sizes=("L",), colours=("Black",), stock=1, category=tops, material="Wool")
    lamp = ProductFactory(name="Desk lamp", category=tops, price=Decimal("30.00"))
    return {"tee": red_tee, "polo": polo, "jumper": wool, "lamp": lamp}


def listed(query: str) -> set[str]:
    filters = ProductFilter(dict_query(query), queryset=Product.objects.active())
    assert filters.is_valid(), filters.errors
    return set(filters.qs.values_list("name", flat=True))


def dict_query(query: str):
    from django.http import QueryDict

    return QueryDict(query)


def test_values_of_one_attribute_widen_and_attributes_narrow(shirts):
    assert listed("attr=colour:red") == {"Red tee", "Polo"}
    assert listed("attr=colour:red&attr=colour:black") == {"Red tee", "Polo", "Jumper"}
    assert listed("attr=colour:red&attr=size:s") == {"Red tee"}
    assert listed("attr=colour:blue,size:m") == {"Polo"}  # commas separate too


def test_a_variant_attribute_matches_one_variant_with_all_the_chosen_values(shirts):
    # The polo has blue (in M) and L (in red), but no blue L.
    assert listed("attr=colour:blue&attr=size:l") == set()


def test_in_stock_only_asks_the_chosen_variant_to_be_in_stock(shirts):
    assert listed("attr=colour:blue") == {"Polo"}
    assert listed("attr=colour:blue&in_stock=true") == set()


def test_a_product_attribute_filters_too(shirts):
    assert listed("attr=material:wool") == {"Jumper"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("attr=colour:pink", "Colour has no value “pink”"),
        ("attr=flavour:sweet", "There is no attribute “flavour”"),
        ("attr=colour", "There is no attribute “colour”"),
    ],
)
def test_an_unknown_value_is_a_clear_400(client, shirts, query, message):
    response = client.get(f"/products/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()
    api = client.get(f"/api/v1/products/?{query}")
    assert api.status_code == 400 and message in str(api.json())


def counts(query: str) -> dict[str, dict[str, tuple[int, bool]]]:
    filters = ProductFilter(dict_query(query), queryset=Product.objects.active())
    assert filters.is_valid()
    filters.qs  # noqa: B018 (runs the filters)
    return {f.slug: {v.slug: (v.count, v.chosen) for v in f.values} for f in filters.facets()}


def test_facets_count_the_products_of_the_list_for_each_value(shirts):
    facets = counts("")
    assert facets["colour"] == {"red": (2, False), "blue": (1, False), "black": (1, False)}
    assert facets["size"] == {"s": (1, False), "m": (2, False), "l": (2, False)}
    assert facets["material"] == {"cotton": (1, False), "wool": (1, False)}


def test_a_chosen_attributes_other_values_count_what_choosing_them_would_add(shirts):
    facets = counts("attr=colour:red")
    # Colour is counted without its own choice: blue would add the polo, black the jumper.
    assert facets["colour"] == {"red": (2, True), "blue": (1, False), "black": (1, False)}
    # Sizes among the red products only, in a red variant: the tee's S and M, the polo's L.
    assert facets["size"] == {"s": (1, False), "m": (1, False), "l": (1, False)}


def test_facets_with_in_stock_only_count_variants_in_stock(shirts):
    assert "blue" not in counts("in_stock=true")["colour"]


def test_facets_take_a_fixed_number_of_queries_whatever_the_products(shirts):
    def run():
        with CaptureQueriesContext(connection) as ctx:
            counts("attr=colour:red&attr=size:m")
        return len(ctx.captured_queries)

    few = run()
    for n in range(8):
        with_variants(name=f"Tee {n}", sizes=("S", "M", "L", "XL"), colours=("Red", "Blue", "White"))
    assert run() == few


def test_the_list_page_shows_facets_with_counts_and_chips(client, shirts):
    html = client.get("/products/?attr=colour:red").content.decode()
    assert 'value="colour:red" checked' in html
    assert "Colour: Red" in html  # the chip
    assert 'name="attr" value="size:s"' in html and "(1<span" in html
    assert "Red tee" in html and "Jumper" not in html


def test_search_matches_attribute_values(shirts):
    assert listed("search=red") == {"Red tee", "Polo"}  # the polo's red variant
    assert listed("search=blue polo") == {"Polo"}
    assert listed("search=wool") == {"Jumper"}


@pytest.mark.parametrize("query", ["search=polo", "search=red&attr=size:l", "search=tee&in_stock=true"])
def test_a_search_list_counts_its_facets_too(client, shirts, query):
    response = client.get(f"/products/?{query}")
    assert response.status_code == 200
    assert 'name="attr"' in response.content.decode()
    api = client.get(f"/api/v1/products/facets/?{query}")
    assert api.status_code == 200 and api.json()


def test_search_facets_count_only_the_found_products(shirts):
    facets = counts("search=polo")
    assert facets["colour"] == {"blue": (1, False), "red": (1, False)}
    assert facets["material"] == {"cotton": (1, False)}
