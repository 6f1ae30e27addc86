"""The benchmark's own views (BENCH_VIEWS): bench/web.py relies on what they change."""

from decimal import Decimal

import pytest
from django.test import RequestFactory

from shop.catalog import cache as catalog_cache
from shop.core.views import bench_change
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def change(product, kind):
    response = bench_change(RequestFactory().get(f"/bench/change/{product.slug}/", {"kind": kind}), product.slug)
    product.refresh_from_db()
    return response


def test_it_moves_the_price_by_a_cent_and_back():
    product = ProductFactory(price=Decimal("38.99"))
    assert change(product, "price").status_code == 200
    assert product.price == Decimal("38.98")
    change(product, "price")
    assert product.price == Decimal("38.99")


def test_it_takes_one_unit_as_checkout_does_and_gives_it_back():
    product = ProductFactory(stock=2)
    change(product, "take")
    assert product.stock == 1
    change(product, "restock")
    assert product.stock == 2


def test_it_refuses_to_take_what_is_not_in_stock():
    from shop.core.errors import ShopError

    product = ProductFactory(stock=0)
    with pytest.raises(ShopError):
        change(product, "take")
    product.refresh_from_db()
    assert product.stock == 0


@pytest.mark.parametrize(
    ("kind", "replaced"),
    [("price", catalog_cache.SHOWN), ("take", catalog_cache.STOCK), ("restock", catalog_cache.STOCK)],
)
def test_each_change_reaches_the_catalog_cache_as_the_store_writes_it(
    kind, replaced, django_capture_on_commit_callbacks
):
    product = ProductFactory(stock=50)
    before = catalog_cache.token(replaced)
    with django_capture_on_commit_callbacks(execute=True):
        change(product, kind)
    assert catalog_cache.token(replaced) != before
