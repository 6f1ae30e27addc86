"""Catalog pages tell search engines and link previews what they show: canonical URL, robots,
description, Open Graph and Twitter card tags, and on product pages schema.org JSON-LD."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.catalog.models import Product
from shop.catalog.offers import Offer
from shop.catalog.services import product_refresh_rating, products_set_stock
from shop.core.money import Money
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, ReviewFactory
from tests.shop.seo.head import read_head

pytestmark = pytest.mark.django_db

HOST = "http://testserver"
HAS_BRAND = any(f.name == "brand" for f in Product._meta.get_fields())


class HalfPriceOffers:
    """An automatic promotion, as SHOP_PRODUCT_OFFERS providers give them: half price on everything."""

    def offers(self, products):
        return {p.pk: Offer(price=Money(p.price / 2, "USD"), label="Half price") for p in products}

    def seconds_until_change(self):
        return None


@pytest.fixture
def dresses():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    women = CategoryFactory(name="Women", slug="women", parent=clothing, description="")
    return CategoryFactory(name="Dresses", slug="dresses", parent=women, description="Dresses for every day.")


@pytest.fixture
def dress(dresses):
    extra = {"brand": "Oak & Ember"} if HAS_BRAND else {}
    product = ProductFactory(
        name="Linen Wrap Dress",
        slug="linen-wrap-dress",
        sku="DR-1",
        price=Decimal("89.00"),
        stock=12,
        category=dresses,
        description="Breezy linen,\n\ntie waist. " + "Soft and light. " * 20,
        **extra,
    )
    ProductImageFactory(product=product, alt_text="The dress from the front", position=0)
    ProductImageFactory(product=product, alt_text="The dress from the back", position=1)
    return product


def product_page(product, **extra):
    from django.test import Client

    return Client().get(product.get_absolute_url(), **extra)


# Product pages


def test_it_describes_a_product_for_link_previews(client, dress):
    head = read_head(client.get(dress.get_absolute_url()))

    url = f"{HOST}/product/linen-wrap-dress/"
    assert head.canonical == [url]
    assert head.one("robots") == "index, follow"
    assert head.one("og:type") == "product"
    assert head.one("og:url") == url
    assert head.one("og:title") == "Linen Wrap Dress"
    assert head.one("og:site_name") == "Bazaar"
    image = head.one("og:image")
    assert image.startswith(f"{HOST}/media/") and image.endswith(dress.images.order_by("position")[0].image.url)
    assert head.one("og:image:alt") == "The dress from the front"
    assert head.one("product:price:amount") == "89.00"
    assert head.one("product:price:currency") == "USD"
    assert head.one("twitter:card") == "summary_large_image"
    assert head.one("twitter:image") == image
    description = head.one("description")
    assert description.startswith("Breezy linen, tie waist. Soft and light.")  # one line
    assert len(description) <= 160 and description.endswith("…")
    assert head.one("og:description") == description == head.one("twitter:description")


def test_it_gives_search_engines_the_product_as_json_ld(client, dress):
    customers = [ReviewFactory(product=dress, rating=rating) for rating in (5, 4, 4)]
    product_refresh_rating(product_ids=[dress.pk])

    data = read_head(client.get(dress.get_absolute_url())).of_type("Product")

    assert data["@context"] == "https://schema.org"
    assert data["name"] == "Linen Wrap Dress"
    assert data["sku"] == "DR-1"
    assert data["url"] == f"{HOST}/product/linen-wrap-dress/"
    assert data["description"].startswith("Breezy linen, tie waist.")
    assert len(data["image"]) == 2 and all(url.startswith(f"{HOST}/media/") for url in data["image"])
    assert data["offers"] == {
        "@type": "Offer",
        "url": f"{HOST}/product/linen-wrap-dress/",
        "price": "89.00",
        "priceCurrency": "USD",
        "availability": "https://schema.org/InStock",
        "itemCondition": "https://schema.org/NewCondition",
    }
    assert data["aggregateRating"] == {
        "@type": "AggregateRating",
        "ratingValue": "4.33",
        "reviewCount": len(customers),
        "bestRating": 5,
        "worstRating": 1,
    }
    if HAS_BRAND:
        assert data["brand"] == {"@type": "Brand", "name": "Oak & Ember"}


def test_it_leaves_out_a_rating_and_a_brand_a_product_does_not_have(client):
    product = ProductFactory(description="")

    head = read_head(client.get(product.get_absolute_url()))

    data = head.of_type("Product")
    assert "aggregateRating" not in data and "brand" not in data and "image" not in data
    assert "og:image" not in head.meta
    assert head.one("twitter:card") == "summary"
    assert head.one("description") == f"{product.name} at Bazaar, with free returns within 30 days."


def test_it_gives_the_promotion_price_while_an_automatic_promotion_runs(client, dress, settings):
    settings.SHOP_PRODUCT_OFFERS = [f"{__name__}.HalfPriceOffers"]

    head = read_head(client.get(dress.get_absolute_url()))

    assert head.of_type("Product")["offers"]["price"] == "44.50"
    assert head.one("product:price:amount") == "44.50"


@pytest.mark.parametrize(
    ("stock", "schema", "og"),
    [(0, "OutOfStock", "out of stock"), (3, "LimitedAvailability", "in stock"), (50, "InStock", "in stock")],
)
def test_it_says_whether_the_product_can_be_bought(client, dress, stock, schema, og):
    Product.objects.filter(pk=dress.pk).update(stock=stock)

    head = read_head(client.get(dress.get_absolute_url()))

    assert head.of_type("Product")["offers"]["availability"] == f"https://schema.org/{schema}"
    assert head.one("product:availability") == og


def test_it_gives_the_breadcrumbs_as_json_ld(client, dress):
    data = read_head(client.get(dress.get_absolute_url())).of_type("BreadcrumbList")

    assert [(item["position"], item["name"], item["item"]) for item in data["itemListElement"]] == [
        (1, "Home", f"{HOST}/"),
        (2, "Clothing", f"{HOST}/category/clothing/"),
        (3, "Women", f"{HOST}/category/women/"),
        (4, "Dresses", f"{HOST}/category/dresses/"),
        (5, "Linen Wrap Dress", f"{HOST}/product/linen-wrap-dress/"),
    ]


def test_a_hostile_product_name_stays_text_in_the_json_ld(client):
    name = '</script><script>alert("x")</script><!-- & "quoted"'
    product = ProductFactory(name=name, slug="hostile")

    response = client.get(product.get_absolute_url())

    body = response.content.decode()
    assert "<script>alert" not in body and "</script><script>" not in body
    head = read_head(response)
    assert head.of_type("Product")["name"] == name
    assert head.of_type("BreadcrumbList")["itemListElement"][-1]["name"] == name
    assert head.one("og:title") == name


def test_pictures_kept_on_another_host_keep_their_own_address(client, dress, settings):
    settings.MEDIA_URL = "https://files.example/media/"

    head = read_head(client.get(dress.get_absolute_url()))

    assert head.one("og:image").startswith("https://files.example/media/")
    assert head.of_type("Product")["image"][0].startswith("https://files.example/media/")


def test_absolute_urls_name_the_host_the_page_was_asked_on_even_from_the_cache(dress, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    settings.ALLOWED_HOSTS = ["testserver", "shop.example"]

    first = read_head(product_page(dress))
    second = read_head(product_page(dress, HTTP_HOST="shop.example", secure=True))

    assert first.canonical == [f"{HOST}/product/linen-wrap-dress/"]
    assert second.canonical == ["https://shop.example/product/linen-wrap-dress/"]
    assert second.of_type("Product")["offers"]["url"] == "https://shop.example/product/linen-wrap-dress/"
    assert second.one("og:image").startswith("https://shop.example/media/")


# Lists


def test_the_home_page_is_the_store_itself(client):
    head = read_head(client.get(reverse("catalog:home")))

    assert head.canonical == [f"{HOST}/"]
    assert head.one("og:type") == "website"
    assert head.one("og:url") == f"{HOST}/"
    assert head.one("og:title") == "Bazaar"
    assert head.one("og:image") == f"{HOST}/static/shop/share.png"
    assert head.one("twitter:card") == "summary_large_image"
    assert head.one("robots") == "index, follow"
    assert head.one("description") == head.one("og:description") != ""


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("", "/products/"),
        ("?page=1", "/products/"),
        ("?page=2", "/products/?page=2"),
        ("?on_sale=true", "/products/"),  # a filtered list: the plain list
        ("?ordering=price&page=2", "/products/"),  # a sorted one too
    ],
)
def test_a_list_is_canonical_with_its_page_number_only(client, settings, query, canonical):
    settings.SHOP_PAGE_SIZE = 2
    ProductFactory.create_batch(3)

    response = client.get(f"/products/{query}")

    assert response.status_code == 200

    head = read_head(response)
    assert head.canonical == [f"{HOST}{canonical}"]
    assert head.one("og:url") == f"{HOST}{canonical}"
    assert head.one("robots") == "index, follow"
    assert head.one("og:type") == "website"
    assert head.one("og:image") == f"{HOST}/static/shop/share.png"


def test_a_category_page_is_described_by_its_description(client, dresses):
    ProductFactory(category=dresses)

    head = read_head(client.get(reverse("catalog:category", kwargs={"slug": "dresses"})))

    assert head.canonical == [f"{HOST}/category/dresses/"]
    assert head.one("description") == "Dresses for every day."
    assert head.one("og:title") == "Dresses"
    crumbs = head.of_type("BreadcrumbList")["itemListElement"]
    assert [item["name"] for item in crumbs] == ["Home", "Clothing", "Women", "Dresses"]


def test_a_category_without_a_description_gets_a_sentence_naming_it(client, dresses):
    head = read_head(client.get(reverse("catalog:category", kwargs={"slug": "women"})))

    assert head.one("description").startswith("Women at Bazaar")


def test_search_results_are_kept_out_of_the_index_but_their_links_are_followed(client):
    ProductFactory(name="Desk Lamp")

    head = read_head(client.get("/products/?search=lamp&ordering=price"))

    assert head.one("robots") == "noindex, follow"
    assert head.canonical == [f"{HOST}/products/?search=lamp"]
    assert "lamp" in head.one("description")


def test_a_list_that_cannot_be_shown_is_not_indexed(client):
    head = read_head(client.get("/products/?page=99"))

    assert head.one("robots") == "noindex"
    assert head.canonical == []


# Other pages


@pytest.mark.parametrize("url", ["/cart/", "/account/login/", "/account/register/", "/orders/lookup/"])
def test_the_visitors_own_pages_are_not_indexed(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert read_head(response).one("robots") == "noindex"


def test_a_category_pages_description_costs_no_query_of_its_own(client, dresses):
    """The description comes with the category tree the page reads anyway (not deferred, then read alone)."""
    ProductFactory(category=dresses)

    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("catalog:category", kwargs={"slug": "dresses"})).status_code == 200

    reads = [
        q["sql"]
        for q in captured
        if q["sql"].startswith('SELECT "catalog_category"."id", "catalog_category"."description"')
    ]
    assert reads == []


def test_the_head_tags_cost_no_query_whatever_a_product_has(client):
    plain = ProductFactory(description="")
    rich = ProductFactory(description="Rich.")
    for position in range(4):
        ProductImageFactory(product=rich, position=position)
    for rating in (1, 3, 5, 5):
        ReviewFactory(product=rich, rating=rating)
    product_refresh_rating(product_ids=[rich.pk])

    def count(product) -> int:
        client.get(product.get_absolute_url())  # the category tree cached, as it mostly is
        with CaptureQueriesContext(connection) as captured:
            assert client.get(product.get_absolute_url()).status_code == 200
        return len(captured)

    assert count(rich) == count(plain)


def test_the_product_data_follows_the_product_through_the_cache(client, dress, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    assert read_head(client.get(dress.get_absolute_url())).of_type("Product")["offers"]["price"] == "89.00"

    products_set_stock(product_ids=[dress.pk], stock=0)
    dress.refresh_from_db()
    dress.price = Decimal("79.00")
    dress.save()

    offers = read_head(client.get(dress.get_absolute_url())).of_type("Product")["offers"]
    assert offers["price"] == "79.00"
    assert offers["availability"] == "https://schema.org/OutOfStock"


@pytest.mark.skipif(not apps.is_installed("shop.pages"), reason="the content pages app is not installed")
def test_content_pages_are_indexed(client):
    from shop.pages.models import Page

    page = Page.objects.create(title="Size guide", slug="size-guide", body="<p>Measure twice.</p>")

    response = client.get(page.get_absolute_url())

    assert response.status_code == 200
    head = read_head(response)
    assert "robots" not in head.meta
    assert head.canonical == [f"{HOST}/pages/size-guide/"]
    assert read_head(client.get(page.get_absolute_url(), {"utm_source": "mail"})).canonical == head.canonical


def test_a_missing_product_is_not_indexed(client):
    response = client.get("/product/no-such-thing/")

    assert response.status_code == 404
    assert read_head(response).one("robots") == "noindex"
