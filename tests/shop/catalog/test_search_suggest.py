"""GET /api/v1/products/suggest/: what the search box offers as you type; and the brand where staff edit it."""

import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.catalog import csv_io
from shop.catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/suggest/"


@pytest.fixture
def shop():
    dresses = CategoryFactory(name="Dresses", slug="dresses")
    wrap = ProductFactory(name="Red Wrap Dress", slug="red-wrap-dress", category=dresses, price=Decimal("89.00"))
    ProductImageFactory(product=wrap)
    ProductFactory(name="Canvas Sneaker", description="Goes with any dress.", price=Decimal("49.50"))
    return {"dresses": dresses, "wrap": wrap}


def test_it_suggests_products_categories_and_the_correction(api, shop):
    response = api.get(URL, {"q": "dresss"})

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "dresss"
    assert body["corrected"] == "dress"
    first = body["products"][0]
    assert first["name"] == "Red Wrap Dress"
    assert first["url"] == "http://testserver/product/red-wrap-dress/"
    assert first["price"] == "89.00"
    assert first["currency"] == "USD"
    assert first["image"].startswith("http://testserver/media/products/")
    assert [p["name"] for p in body["products"]] == ["Red Wrap Dress", "Canvas Sneaker"]
    assert body["categories"] == [{"name": "Dresses", "slug": "dresses", "url": "http://testserver/category/dresses/"}]


def test_a_word_being_typed_is_not_corrected(api, shop):
    body = api.get(URL, {"q": "dres"}).json()
    assert body["corrected"] is None
    assert body["products"][0]["name"] == "Red Wrap Dress"


def test_at_most_eight_products(api):
    ProductFactory.create_batch(12, name="Linen Towel")
    assert len(api.get(URL, {"q": "linen"}).json()["products"]) == 8


def test_nothing_found_is_an_empty_answer(api, shop):
    body = api.get(URL, {"q": "tractor"}).json()
    assert body == {"query": "tractor", "corrected": None, "products": [], "categories": []}


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}])
def test_a_missing_or_too_long_query_is_a_400_in_the_error_shape(api, params):
    response = api.get(URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "q" in body["errors"]


def test_it_needs_no_login_and_is_throttled_for_anonymous_clients(api, shop):
    from shop.catalog.api import SuggestThrottle

    SuggestThrottle.THROTTLE_RATES = {**SuggestThrottle.THROTTLE_RATES, "suggest": "3/minute"}
    try:
        codes = [api.get(URL, {"q": "dress"}).status_code for _ in range(4)]
    finally:
        SuggestThrottle.THROTTLE_RATES = {k: v for k, v in SuggestThrottle.THROTTLE_RATES.items() if k != "suggest"}
    assert codes == [200, 200, 200, 429]


def test_it_takes_a_fixed_number_of_queries(api):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(URL, {"q": "wrap dres"})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["products"])

    api.get(URL, {"q": "warm up"})
    ProductImageFactory(product=ProductFactory(name="Wrap Dress 1"))
    small, n = count()
    assert n == 1
    for i in range(10):
        ProductImageFactory(product=ProductFactory(name=f"Wrap Dress {i + 2}"))
    large, n = count()
    assert n == 8
    assert large == small


def test_it_is_cached_briefly_and_a_catalog_change_shows_at_once(api, shop, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    api.get(URL, {"q": "dress"})
    with CaptureQueriesContext(connection) as ctx:
        api.get(URL, {"q": "dress"})
    assert len(ctx.captured_queries) == 0
    shop["wrap"].name = "Red Wrap Gown"
    shop["wrap"].save()
    names = [p["name"] for p in api.get(URL, {"q": "gown"}).json()["products"]]
    assert names == ["Red Wrap Gown"]


def test_the_schema_documents_it_with_its_errors(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/products/suggest/"]["get"]
    assert {"200", "400", "429"} <= set(operation["responses"])
    assert operation["parameters"][0]["name"] == "q"
    assert operation["parameters"][0]["required"] is True
    ordering = next(p for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"] if p["name"] == "ordering")
    assert "relevance" in ordering["schema"]["enum"]


# -- the brand where staff edit it ----------------------------------------------------------------------


def test_the_admin_searches_and_filters_products_by_brand(admin_client):
    ProductFactory(name="Tote", brand="Halcyon")
    ProductFactory(name="Hat", brand="Bramble")

    searched = admin_client.get("/admin/catalog/product/", {"q": "halcyon"}).content.decode()
    assert "Tote" in searched and ">Hat<" not in searched
    filtered = admin_client.get("/admin/catalog/product/", {"brand": "Bramble"}).content.decode()
    assert ">Hat<" in filtered and "Tote" not in filtered


HEADER = "sku,name,slug,category,price,compare_at_price,stock,is_active,is_featured,description"


def test_the_csv_exports_and_imports_the_brand():
    CategoryFactory(slug="bags")
    result = csv_io.import_products(io.BytesIO(f"{HEADER},brand\nT-1,Tote,,bags,10.00,,1,,,,Halcyon\n".encode()))
    assert result.ok, result.errors
    assert Product.objects.get(sku="T-1").brand == "Halcyon"

    out = io.StringIO()
    csv_io.export_products(Product.objects.all(), out)
    assert out.getvalue().splitlines()[1].endswith(",Halcyon,,,,,,")  # then product_type and the variant columns


def test_a_csv_without_the_brand_column_keeps_each_brand():
    category = CategoryFactory(slug="bags")
    ProductFactory(sku="T-1", brand="Halcyon", category=category)
    result = csv_io.import_products(io.BytesIO(f"{HEADER}\nT-1,Tote,,bags,12.00,,1,,,\n".encode()))
    assert result.ok, result.errors
    product = Product.objects.get(sku="T-1")
    assert (product.price, product.brand) == (Decimal("12.00"), "Halcyon")


def test_a_csv_with_a_brand_too_long_is_refused_whole_with_the_row_and_column():
    CategoryFactory(slug="bags")
    text = f"{HEADER},brand\nT-1,Tote,,bags,10.00,,1,,,,Fine\nT-2,Bag,,bags,10.00,,1,,,,{'x' * 101}\n"
    result = csv_io.import_products(io.BytesIO(text.encode()))
    assert not result.ok
    assert [(line, column) for line, column, _message in result.errors] == [(3, "brand")]
    assert not Product.objects.exists()
