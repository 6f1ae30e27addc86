"""Finding one's way: the category menu, the home tiles, and the list page's one filter form with chips."""

import importlib
from decimal import Decimal
from html import unescape

import pytest

from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    women = CategoryFactory(name="Women", slug="women", parent=clothing)
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=women)
    beauty = CategoryFactory(name="Beauty", slug="beauty")
    return {"clothing": clothing, "women": women, "dresses": dresses, "beauty": beauty}


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return unescape(response.content.decode())


def test_every_page_has_the_category_menu_with_sub_categories(client, tree):
    for url in ("/", "/cart/", "/pages/shipping/", "/account/login/"):
        html = page(client, url)
        bar = html.split('class="nav-bar"')[1].split("</nav>")[0]
        assert 'href="/category/clothing/"' in bar and 'href="/category/dresses/"' in bar, url
        drawer = html.split('class="drawer-nav"')[1].split("</nav>")[0]
        assert "<summary>Clothing</summary>" in drawer and 'href="/category/women/"' in drawer, url


def test_a_new_category_appears_in_the_menu_at_once(client, tree, django_capture_on_commit_callbacks):
    page(client, "/")
    with django_capture_on_commit_callbacks(execute=True):
        CategoryFactory(name="Garden", slug="garden")
    assert 'href="/category/garden/"' in page(client, "/").split('class="nav-bar"')[1]


def test_the_menu_costs_no_query_once_cached(client, tree, settings, django_assert_num_queries):
    from django.apps import apps

    importlib.import_module("shop.pages.migrations.0002_starter_pages").add_pages(apps, None)  # flushed by others
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    page(client, "/pages/shipping/")
    with django_assert_num_queries(1):  # the page itself; the menu and the footer's links come from the cache
        page(client, "/pages/shipping/")


def test_the_home_page_has_a_tile_per_top_category_with_its_count_and_a_picture(client, tree):
    dress = ProductFactory(category=tree["dresses"], stock=3, rating_count=4, rating_sum=16, stars_4=4)
    ProductImageFactory(product=dress)
    ProductFactory(category=tree["clothing"], stock=0)
    ProductFactory(category=tree["beauty"], is_active=False)
    html = page(client, "/")
    tiles = html.split('class="tiles"')[1].split("</ul>")[0]
    assert 'href="/category/clothing/"' in tiles and "2 products" in tiles
    assert dress.images.first().image.url in tiles
    assert 'href="/category/beauty/"' not in tiles  # nothing to buy there


def test_filters_and_sorting_are_one_form_with_one_button(client, tree):
    html = page(client, "/category/clothing/")
    assert html.count('<form method="get" id="list-form"') == 1
    assert 'name="ordering" form="list-form"' in html
    assert html.count('form="list-form" class="button primary apply"') == 1


def test_active_filters_are_chips_that_each_remove_one(client, tree):
    ProductFactory(category=tree["dresses"], price=Decimal("30.00"), stock=2)
    html = page(client, "/category/clothing/?min_price=20&in_stock=true&ordering=price")
    chips = html.split('class="chips"')[1].split("</ul>")[0]
    assert "From $20.00" in chips and "In stock only" in chips
    assert 'href="?in_stock=true&amp;ordering=price"' in chips or 'href="?in_stock=true&ordering=price"' in chips
    assert "Clear all" in chips and 'href="/category/clothing/?ordering=price"' in chips


def test_a_wrong_filter_value_is_an_error_not_a_chip_nor_a_500(client, tree):
    response = client.get("/category/clothing/?min_price=abc")
    assert response.status_code == 400
    html = unescape(response.content.decode())
    assert 'class="chips"' not in html and "Some filters could not be used" in html


def test_the_filter_panel_narrows_by_sub_category_not_the_whole_tree(client, tree):
    html = page(client, "/category/women/")
    refine = html.split('class="refine"')[1].split("</nav>")[0]
    assert 'href="/category/clothing/"' in refine  # the way up
    assert 'href="/category/dresses/"' in refine  # the way down
    assert 'href="/category/beauty/"' not in refine  # the rest is in the menu


def test_a_search_keeps_its_words_when_filters_change(client, tree):
    ProductFactory(category=tree["dresses"], name="Linen Dress", stock=2)
    html = page(client, "/products/?search=linen")
    form = html.split('id="list-form"')[1].split("</form>")[0]
    assert 'name="search" value="linen"' in form


def test_the_filters_button_counts_the_panels_filters_not_the_search(client, tree):
    html = page(client, "/products/?search=dress&in_stock=true")
    button = html.split('class="button filters-toggle"')[1].split("</a>")[0]
    assert '<span class="badge" aria-hidden="true">1</span>' in button
    assert "(1 active)" in button
