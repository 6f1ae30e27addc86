"""sitemap.xml: an index of sections (the store's lists, categories, products, content pages),
each with absolute URLs on the host asked, paged past `limit`, cached, in a fixed number of queries."""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.catalog.models import Product
from shop.seo.sitemaps import CategorySitemap
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
HOST = "http://testserver"


def locations(response) -> list[str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/xml"
    return [loc.text for loc in ET.fromstring(response.content).iterfind(".//s:loc", NS)]


def every_url(client, **extra) -> list[str]:
    """Every URL of the sitemap, following its index."""
    found = []
    for section in locations(client.get("/sitemap.xml", **extra)):
        path = section.split("://", 1)[1].split("/", 1)[1]
        found += locations(client.get(f"/{path}", **extra))
    return found


@pytest.fixture
def catalog():
    women = CategoryFactory(name="Women", slug="women")
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=women)
    shown = ProductFactory(slug="wrap-dress", category=dresses)
    hidden = ProductFactory(slug="retired-dress", category=dresses, is_active=False)
    return {"women": women, "dresses": dresses, "shown": shown, "hidden": hidden}


def test_it_lists_the_store_its_categories_and_its_active_products(client, catalog):
    urls = every_url(client)

    for path in ("/", "/products/", "/category/women/", "/category/dresses/", "/product/wrap-dress/"):
        assert f"{HOST}{path}" in urls
    assert f"{HOST}/product/retired-dress/" not in urls
    assert len(urls) == len(set(urls))


def test_it_builds_its_urls_on_the_host_asked(client, catalog, settings):
    settings.ALLOWED_HOSTS = ["shop.example"]

    urls = every_url(client, HTTP_HOST="shop.example", secure=True)

    assert urls and all(url.startswith("https://shop.example/") for url in urls)


def test_it_says_when_each_product_last_changed(client, catalog):
    when = timezone.now() - dt.timedelta(days=3)
    Product.objects.filter(pk=catalog["shown"].pk).update(updated_at=when)

    root = ET.fromstring(client.get("/sitemap-products.xml").content)

    [entry] = root.findall("s:url", NS)
    assert entry.find("s:loc", NS).text == f"{HOST}/product/wrap-dress/"
    assert dt.datetime.fromisoformat(entry.find("s:lastmod", NS).text) == when.replace(microsecond=0)
    index = ET.fromstring(client.get("/sitemap.xml").content)
    products = [s for s in index.findall("s:sitemap", NS) if s.find("s:loc", NS).text.endswith("-products.xml")]
    assert dt.datetime.fromisoformat(products[0].find("s:lastmod", NS).text) == when.replace(microsecond=0)


@pytest.mark.skipif(not apps.is_installed("shop.pages"), reason="the content pages app is not installed")
def test_it_lists_published_content_pages_only(client):
    from shop.pages.models import Page

    Page.objects.create(title="Shipping", slug="size-guide", body="<p>Fast.</p>")
    Page.objects.create(title="Draft", slug="draft-page", body="<p>Soon.</p>", is_published=False)

    urls = every_url(client)

    assert f"{HOST}/pages/size-guide/" in urls
    assert f"{HOST}/pages/draft-page/" not in urls


def test_a_large_section_is_split_into_pages(client, monkeypatch):
    monkeypatch.setattr(CategorySitemap, "limit", 2)
    CategoryFactory.create_batch(5)

    index = locations(client.get("/sitemap.xml"))

    pages = [url for url in index if "-categories.xml" in url]
    assert pages == [f"{HOST}/sitemap-categories.xml", *(f"{HOST}/sitemap-categories.xml?p={n}" for n in (2, 3))]
    assert [len(locations(client.get("/sitemap-categories.xml", {"p": n}))) for n in (1, 2, 3)] == [2, 2, 1]
    assert locations(client.get("/sitemap-categories.xml", {"p": "03"})) == locations(
        client.get("/sitemap-categories.xml", {"p": 3})
    )


@pytest.mark.parametrize("url", ["/sitemap-categories.xml?p=9", "/sitemap-categories.xml?p=x", "/sitemap-nothing.xml"])
def test_a_page_or_section_that_does_not_exist_is_not_found(client, url):
    assert client.get(url).status_code == 404


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ["/sitemap.xml", "/sitemap-products.xml", "/sitemap-categories.xml"])
def test_it_reads_the_same_number_of_queries_whatever_the_catalogs_size(client, url):
    ProductFactory.create_batch(2)
    few = queries(client, url)
    ProductFactory.create_batch(30)  # each in a category of its own

    assert queries(client, url) == few <= 2 * 4  # a count and a read (or latest change) a section at most


def test_it_is_cached_until_the_catalog_changes(client, catalog, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    first = client.get("/sitemap-products.xml").content

    assert queries(client, "/sitemap-products.xml") == 0
    assert client.get("/sitemap-products.xml").content == first

    ProductFactory(slug="new-dress", category=catalog["dresses"])

    assert f"{HOST}/product/new-dress/" in locations(client.get("/sitemap-products.xml"))


def test_the_cache_keeps_each_host_apart(client, catalog, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    settings.ALLOWED_HOSTS = ["testserver", "shop.example"]

    assert locations(client.get("/sitemap-store.xml"))[0] == f"{HOST}/"
    assert locations(client.get("/sitemap-store.xml", HTTP_HOST="shop.example"))[0] == "http://shop.example/"
