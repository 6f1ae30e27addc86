"""A change drops only what shows it: a sale with plenty left drops nothing, a price edit one product's card."""

from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from shop.catalog import views
from shop.catalog.models import Product
from shop.orders.checkout import ShippingAddress, checkout_place
from tests.factories import (
    CartFactory,
    CartLineFactory,
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PAGES = ("/", "/products/", "/category/lighting/", "/product/brass-lamp/", "/product/oak-shelf/")


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    settings.SHOP_LOW_STOCK = 5
    # The catalog's own pages: the shelves other apps add (settings.SHOP_SHELVES) show other
    # products' cards, and their grain is tested with them (tests/marketing/recommendations).
    settings.SHOP_SHELVES = {}


@pytest.fixture
def lighting():
    return CategoryFactory(name="Lighting", slug="lighting")


@pytest.fixture
def lamp(lighting):
    product = ProductFactory(name="Brass Lamp", slug="brass-lamp", category=lighting, price=Decimal("40.00"), stock=50)
    ProductImageFactory(product=product)
    return product


@pytest.fixture
def shelf(lighting):
    product = ProductFactory(name="Oak Shelf", slug="oak-shelf", category=lighting, price=Decimal("90.00"), stock=50)
    ProductImageFactory(product=product)
    return product


def queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.content.decode()


def warm(client, *urls):
    for url in urls:
        client.get(url)


def buy(product, quantity: int):
    """A real paid-for sale: the checkout takes the stock with its guarded update."""
    buyer = UserFactory()
    cart = CartFactory(user=buyer)
    CartLineFactory(cart=cart, product=product, quantity=quantity)
    address = ShippingAddress(name="A", line1="1 St", city="Austin", postal_code="78701", country="US")
    checkout_place(cart=cart, user=buyer, email=buyer.email, address=address, shipping_method="standard")


def take_stock(product, quantity: int) -> int:
    """The checkout's own statement, on its own."""
    return Product.objects.filter(pk=product.pk, is_active=True, stock__gte=quantity).update(
        stock=F("stock") - quantity
    )


# -- sales --------------------------------------------------------------------------------------


def test_a_sale_that_leaves_plenty_in_stock_drops_no_cached_page(client, lamp, shelf):
    warm(client, *PAGES)
    buy(lamp, 3)
    lamp.refresh_from_db()
    assert lamp.stock == 47
    for url in PAGES:
        count, _html = queries(client, url)
        assert count == 0, url  # every page whole from the cache, not one card rebuilt


def test_a_sale_down_to_the_low_mark_shows_at_once(client, lamp, shelf):
    warm(client, *PAGES)
    buy(lamp, 45)  # 5 left: "Only 5 left"
    for url in ("/products/", "/category/lighting/", "/product/brass-lamp/"):
        assert "Only 5 left" in queries(client, url)[1], url
    # The shelf's page did not change: still whole from the cache.
    assert queries(client, "/product/oak-shelf/")[0] == 0


def test_each_sale_under_the_low_mark_shows_the_new_number(client, lamp):
    take_stock(lamp, 46)
    assert "Only 4 left" in queries(client, "/products/")[1]
    take_stock(lamp, 1)
    assert "Only 3 left" in queries(client, "/products/")[1]
    assert "Only 3 left in stock" in queries(client, "/product/brass-lamp/")[1]


def test_the_quantity_choice_follows_the_stock_under_ten(client, lamp, settings):
    client.get("/product/brass-lamp/")
    take_stock(lamp, 42)  # 8 left: above the low mark, but only 8 to choose from
    html = queries(client, "/product/brass-lamp/")[1]
    assert '<option value="8">8</option>' in html
    assert '<option value="9">' not in html


def test_selling_out_shows_at_once_and_leaves_the_in_stock_filter(client, lamp, shelf):
    warm(client, *PAGES, "/products/?in_stock=true")
    take_stock(lamp, 50)
    assert "Out of stock" in queries(client, "/product/brass-lamp/")[1]
    assert "Out of stock" in queries(client, "/products/")[1]
    assert "Brass Lamp" not in queries(client, "/products/?in_stock=true")[1]


def test_stock_given_back_shows_at_once(client, lamp):
    take_stock(lamp, 50)
    assert "Out of stock" in queries(client, "/products/")[1]
    # As an order that expired gives its stock back.
    Product.objects.filter(pk=lamp.pk).update(stock=F("stock") + 2)
    html = queries(client, "/products/")[1]
    assert "Out of stock" not in html
    assert "Only 2 left" in html
    assert "Brass Lamp" in queries(client, "/products/?in_stock=true")[1]


def test_the_guarded_stock_update_still_counts_the_rows_it_took(lamp):
    assert take_stock(lamp, 20) == 1
    assert take_stock(lamp, 31) == 0  # not enough left: nothing taken
    lamp.refresh_from_db()
    assert lamp.stock == 30


def test_the_api_shows_exact_stock_at_once_and_keeps_the_items(api, lamp, shelf):
    api.get("/api/v1/products/")
    take_stock(lamp, 1)
    with CaptureQueriesContext(connection) as captured:
        results = api.get("/api/v1/products/").data["results"]
    assert {r["slug"]: r["stock"] for r in results} == {"brass-lamp": 49, "oak-shelf": 50}
    assert len(captured) == 1  # the stock levels; the items and the page's ids come from the cache
    assert api.get("/api/v1/products/brass-lamp/").data["stock"] == 49


# -- edits --------------------------------------------------------------------------------------


def test_a_price_edit_rebuilds_that_product_s_card_only(client, lamp, shelf):
    warm(client, *PAGES)
    lamp.price = Decimal("35.00")
    lamp.save()
    with mock.patch.object(views, "_build_cards", wraps=views._build_cards) as build:
        for url in ("/products/", "/category/lighting/", "/"):
            assert "$35.00" in queries(client, url)[1]
    assert [call.args[0] for call in build.call_args_list] == [[lamp.pk]]  # built once, then shared
    assert "$35.00" in queries(client, "/product/brass-lamp/")[1]
    # The other product's page did not change.
    assert queries(client, "/product/oak-shelf/")[0] == 0


def test_a_new_image_or_review_rebuilds_that_product_only(client, lamp, shelf):
    warm(client, *PAGES)
    ProductImageFactory(product=lamp, position=0, alt_text="The lamp, lit")
    assert "The lamp, lit" in queries(client, "/product/brass-lamp/")[1]
    assert queries(client, "/product/oak-shelf/")[0] == 0
    assert queries(client, "/products/")[0] == 2  # the lamp's card only: its product, its images


# -- query counts -------------------------------------------------------------------------------


@pytest.fixture
def thirty(lighting):
    products = ProductFactory.create_batch(30, category=lighting)
    for product in products:
        ProductImageFactory(product=product)
    return sorted(products, key=lambda p: (p.created_at, p.pk), reverse=True)  # newest first, as listed


def test_a_list_with_nothing_cached_takes_a_fixed_number_of_queries(client, thirty):
    count, html = queries(client, "/products/")
    assert html.count('class="card"') == 24
    # The tree, the count, the page's ids, its products with their categories and images, the running
    # promotions and when they next change, the footer's content pages, the attributes (none: no facets).
    assert count == 9


def test_a_list_rebuilt_around_cached_cards_takes_two_queries(client, thirty):
    client.get("/products/")
    off_page = thirty[-1]  # on page 2: a change there still moves ids on page 1's list
    off_page.price = Decimal("1.00")
    off_page.save()
    count, html = queries(client, "/products/")
    assert html.count('class="card"') == 24
    assert count == 2  # the count and the page's ids: all 24 cards from the cache


def test_a_category_rebuilt_around_cached_cards_takes_two_queries(client, thirty):
    client.get("/category/lighting/")
    thirty[-1].price = Decimal("1.00")
    thirty[-1].save()
    assert queries(client, "/category/lighting/")[0] == 2  # the category and its ancestors come from the tree
