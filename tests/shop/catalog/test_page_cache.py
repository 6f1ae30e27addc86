"""Catalog pages are cached at the grain of what they show: fast when nothing changed, never stale."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shop.catalog import services
from shop.core import tokens
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300


@pytest.fixture
def lamp():
    product = ProductFactory(name="Brass Lamp", slug="brass-lamp", price=Decimal("40.00"), stock=12)
    ProductImageFactory(product=product)
    return product


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_it_serves_a_repeated_list_page_without_touching_the_catalog(client, lamp):
    first, _html = _queries(client, "/products/")
    second, html = _queries(client, "/products/")
    assert first >= 3
    assert second == 0
    assert "Brass Lamp" in html


def test_it_shows_a_new_price_at_once(client, lamp):
    client.get("/products/")
    client.get("/product/brass-lamp/")
    lamp.price = Decimal("35.00")
    lamp.save()
    assert "$35.00" in client.get("/products/").content.decode()
    assert "$35.00" in client.get("/product/brass-lamp/").content.decode()


def test_it_shows_stock_changed_by_a_bulk_update(client, lamp):
    client.get("/product/brass-lamp/")
    services.products_set_stock(product_ids=[lamp.pk], stock=0)
    assert "Out of stock" in client.get("/product/brass-lamp/").content.decode()


def test_it_hides_a_product_deactivated_in_bulk(client, lamp):
    assert "Brass Lamp" in client.get("/products/").content.decode()
    services.products_set_active(product_ids=[lamp.pk], active=False)
    assert "Brass Lamp" not in client.get("/products/").content.decode()
    assert client.get("/product/brass-lamp/").status_code == 404


def test_it_shows_a_new_review_and_a_renamed_category(client, lamp):
    client.get("/product/brass-lamp/")
    ReviewFactory(product=lamp, title="Warm light, solid base")
    assert "Warm light, solid base" in client.get("/product/brass-lamp/").content.decode()
    lamp.category.name = "Lighting"
    lamp.category.save()
    assert "Lighting" in client.get("/products/").content.decode()


def test_it_gives_each_visitor_their_own_csrf_token_on_a_cached_product_page(lamp):
    Client().get("/product/brass-lamp/")  # someone else fills the cache
    visitor = Client(enforce_csrf_checks=True)
    html = visitor.get("/product/brass-lamp/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = visitor.post("/cart/add/", {"product": lamp.pk, "quantity": 1, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert visitor.get("/cart/").context["priced"].item_count == 1


def test_it_offers_the_review_form_only_to_a_logged_in_customer_on_a_cached_page(client, lamp):
    anonymous = client.get("/product/brass-lamp/").content.decode()
    assert "Log in to write a review." in anonymous
    customer = Client()
    customer.force_login(UserFactory())
    html = customer.get("/product/brass-lamp/").content.decode()
    assert "Write a review" in html
    assert "Log in to write a review." not in html


def test_it_never_caches_a_bad_filter_or_a_missing_page(client, lamp):
    assert client.get("/products/?min_price=-1").status_code == 400
    assert client.get("/products/?min_price=-1").status_code == 400
    assert client.get("/products/?page=99").status_code == 404
    assert client.get("/category/nowhere/").status_code == 404


def test_it_caches_the_api_list_and_drops_it_when_a_price_changes(api, lamp):
    assert api.get("/api/v1/products/").data["results"][0]["price"] == "40.00"
    with CaptureQueriesContext(connection) as captured:
        api.get("/api/v1/products/")
    assert len(captured) == 0
    ProductFactory(name="New Rug", category=CategoryFactory())
    lamp.price = Decimal("38.50")
    lamp.save()
    results = api.get("/api/v1/products/").data["results"]
    assert {r["name"]: r["price"] for r in results} == {"Brass Lamp": "38.50", "New Rug": "19.99"}


def test_it_replaces_the_tokens_once_after_a_commit_however_many_writes():
    from shop.catalog import cache as catalog_cache

    products = ProductFactory.create_batch(3, stock=10)
    before = catalog_cache.token(catalog_cache.SHOWN)
    shared = cache.get(catalog_cache.token_key(catalog_cache.SHOWN))
    for product in products:  # as a checkout takes stock line by line, in one transaction
        services.products_set_stock(product_ids=[product.pk], stock=2)
    pending = [
        func
        for _sids, func, _robust in connection.run_on_commit
        if isinstance(func, tokens._AfterCommit) and func.order is catalog_cache._order
    ]
    assert len(pending) == 1  # one replacement of the catalog's tokens after commit, not one per write
    assert {f"catalog:token:product:{p.pk}" for p in products} <= pending[0].keys.keys()
    mine = catalog_cache.token(catalog_cache.SHOWN)
    assert mine != before  # this transaction reads a token of its own at once
    assert cache.get(catalog_cache.token_key(catalog_cache.SHOWN)) == shared  # the shared one waits for the commit
    services.products_set_stock(product_ids=[products[0].pk], stock=1)
    assert catalog_cache.token(catalog_cache.SHOWN) not in (before, mine)  # each write replaces it again


@pytest.mark.django_db(transaction=True)
def test_the_shared_token_is_replaced_when_the_transaction_commits_and_not_if_it_rolls_back():
    key = "catalog:token:test"
    shared = tokens.read([key])[key]
    with transaction.atomic():
        tokens.bump([key])
        assert cache.get(key) == shared  # other processes still read the old one until the commit
        mine = tokens.read([key])[key]
        assert mine != shared  # this transaction reads its own
        tokens.bump([key])
        assert tokens.read([key])[key] not in (shared, mine)  # replaced again at each write
    after = cache.get(key)
    assert after not in (None, shared, mine)  # replaced for everyone at the commit
    with transaction.atomic():
        try:
            with transaction.atomic():
                tokens.bump([key])
                raise RuntimeError
        except RuntimeError:
            pass
        assert tokens.read([key])[key] == after  # the rolled-back write's token went with it
    assert cache.get(key) == after
    tokens.bump([key])  # autocommit: at once
    assert cache.get(key) not in (None, after)
