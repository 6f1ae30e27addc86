"""Automatic promotions show their price on product cards, product pages and in the API."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from marketing.discounts.models import Promotion
from marketing.discounts.offers import AutomaticPromotionOffers
from shop.catalog.offers import cache_seconds
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dresses():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=clothing)
    return ProductFactory(name="Linen Dress", slug="linen-dress", category=dresses, price=Decimal("80.00"))


def weekend_sale(**fields) -> Promotion:
    fields = {"requires_code": False, **fields}
    promotion = Promotion.objects.create(
        name="Weekend: 10% off clothing", kind="percentage", value=Decimal("10"), scope="categories", **fields
    )
    promotion.categories.add(CategoryFactory._meta.model.objects.get(slug="clothing"))
    return promotion


def test_it_shows_the_promotion_price_on_the_category_and_product_pages(client, dresses):
    weekend_sale()
    category = client.get("/category/dresses/").content.decode()
    product = client.get("/product/linen-dress/").content.decode()
    for html in (category, product):
        assert "$72.00" in html
        assert "<s>$80.00</s>" in html
        assert "Weekend: 10% off clothing" in html


def test_the_offer_is_marked_as_its_promotion_for_the_page_script(client, dresses):
    sale = weekend_sale()
    for url in ("/category/dresses/", "/product/linen-dress/"):
        assert f'data-promotion="{sale.pk}"' in client.get(url).content.decode(), url


def test_it_gives_the_offer_in_the_api(api, dresses):
    weekend_sale()
    listed = api.get("/api/v1/products/").json()["results"][0]
    assert listed["offer"] == {"price": "72.00", "label": "Weekend: 10% off clothing"}
    assert api.get("/api/v1/products/linen-dress/").json()["offer"]["price"] == "72.00"


def test_it_shows_no_offer_for_code_only_or_customer_only_promotions(api, dresses):
    weekend_sale(requires_code=True)
    restricted = weekend_sale()
    restricted.customers.add(UserFactory())
    weekend_sale(first_order_only=True)
    assert api.get("/api/v1/products/linen-dress/").json()["offer"] is None


def test_it_shows_no_offer_before_the_promotion_starts_or_after_it_ends(api, dresses):
    now = timezone.now()
    weekend_sale(starts_at=now + dt.timedelta(hours=2))
    weekend_sale(starts_at=now - dt.timedelta(days=3), ends_at=now - dt.timedelta(days=1))
    assert api.get("/api/v1/products/linen-dress/").json()["offer"] is None


def test_cached_pages_expire_when_the_next_promotion_starts(dresses, settings):
    weekend_sale(starts_at=timezone.now() + dt.timedelta(seconds=90))
    assert 85 <= AutomaticPromotionOffers().seconds_until_change() <= 91
    assert cache_seconds(300) <= 91


def test_a_cached_page_shows_a_new_promotion_at_once(client, dresses, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    assert "$80.00" in client.get("/category/dresses/").content.decode()
    weekend_sale()
    assert "$72.00" in client.get("/category/dresses/").content.decode()


def test_the_cart_charges_the_price_the_page_showed(client, dresses):
    weekend_sale()
    client.post("/cart/add/", {"product": dresses.pk, "quantity": 1})
    priced = client.get("/cart/").context["priced"]
    assert priced.total.amount == Decimal("72.00")


def test_switching_a_promotion_off_in_bulk_removes_its_price_from_cached_pages(client, dresses, settings):
    from marketing.discounts.services import promotions_set_active

    settings.SHOP_PAGE_CACHE_SECONDS = 300
    sale = weekend_sale()
    assert "$72.00" in client.get("/product/linen-dress/").content.decode()
    promotions_set_active(promotion_ids=[sale.pk], active=False)
    assert "$72.00" not in client.get("/product/linen-dress/").content.decode()


def test_an_automatic_promotion_leaves_cached_pages_when_its_last_use_is_claimed(client, dresses, settings):
    from shop.orders.checkout import ShippingAddress, checkout_place
    from tests.factories import CartFactory, CartLineFactory

    settings.SHOP_PAGE_CACHE_SECONDS = 300
    weekend_sale(usage_limit=1)
    assert "$72.00" in client.get("/product/linen-dress/").content.decode()
    buyer = UserFactory()
    cart = CartFactory(user=buyer)
    CartLineFactory(cart=cart, product=dresses, quantity=1)
    address = ShippingAddress(name="A", line1="1 St", city="Austin", postal_code="78701", country="US")
    order, _created = checkout_place(
        cart=cart, user=buyer, email=buyer.email, address=address, shipping_method="standard"
    )
    assert order.discount_total == Decimal("8.00")
    assert "$72.00" not in client.get("/product/linen-dress/").content.decode()


def test_an_automatic_promotion_comes_back_on_cached_pages_when_its_use_is_released(client, dresses, settings):
    from marketing.discounts.services import redemptions_release
    from shop.orders.checkout import ShippingAddress, checkout_place
    from tests.factories import CartFactory, CartLineFactory

    settings.SHOP_PAGE_CACHE_SECONDS = 300
    weekend_sale(usage_limit=1)
    buyer = UserFactory()
    cart = CartFactory(user=buyer)
    CartLineFactory(cart=cart, product=dresses, quantity=1)
    address = ShippingAddress(name="A", line1="1 St", city="Austin", postal_code="78701", country="US")
    order, _created = checkout_place(
        cart=cart, user=buyer, email=buyer.email, address=address, shipping_method="standard"
    )
    assert "$72.00" not in client.get("/category/dresses/").content.decode()
    assert redemptions_release(order_id=order.pk) == 1  # the order expired unpaid
    assert "$72.00" in client.get("/category/dresses/").content.decode()


def _list_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_offers_cost_the_same_queries_for_3_cards_as_for_24(client, dresses):
    weekend_sale()
    client.get("/pages/shipping/")  # what every page shows (the menu, the footer's pages) is read once
    ProductFactory.create_batch(2, category=dresses.category)
    small = _list_queries(client, "/category/dresses/")
    ProductFactory.create_batch(21, category=dresses.category)
    assert _list_queries(client, "/category/dresses/") == small
    assert client.get("/category/dresses/").content.decode().count("Weekend: 10% off clothing") == 24


def test_offers_are_read_once_per_promotion_change_not_per_card_build(client, dresses, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    weekend_sale()
    other = ProductFactory(name="Silk Scarf", category=dresses.category, price=Decimal("30.00"))
    assert "$72.00" in client.get("/category/dresses/").content.decode()
    other.price = Decimal("20.00")
    other.save()
    # The scarf's card again: its product and images, and no promotion query (read for this version).
    assert _list_queries(client, "/category/dresses/") == 4  # + the count and the page's ids
    html = client.get("/category/dresses/").content.decode()
    assert "$18.00" in html
    assert "$72.00" in html


def test_cached_cards_show_a_promotion_when_it_starts(client, dresses, settings):
    import time

    settings.SHOP_PAGE_CACHE_SECONDS = 300
    starts = timezone.now() + dt.timedelta(seconds=2)
    weekend_sale(starts_at=starts)
    assert "$72.00" not in client.get("/category/dresses/").content.decode()  # cached until it starts
    time.sleep(max(0, (starts - timezone.now()).total_seconds()) + 1.1)
    assert "$72.00" in client.get("/category/dresses/").content.decode()
