"""The cart reads a fixed number of queries, whatever the number of promotions and lines.

The hard case of issue "Fast where shoppers spend money": a logged-in member's cart with
a code applied, points in use, and many running automatic promotions of every scope (some
for chosen customers, some with usage limits, most for other products). Pricing runs the
discount engine, the referral and points adjusters, and the page adds the code and points
panels and the header's count. Each reads what pricing read (PricedCart.memo), the
promotions come from the index (marketing/discounts/index.py), the session from the cache.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import CartPoints
from marketing.discounts.models import CartCode, Promotion
from tests.factories import (
    CartFactory,
    CartLineFactory,
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    UserFactory,
)
from tests.loyalty.helpers import member_with
from tests.marketing.discounts.test_engine import code_for, promotion

pytestmark = pytest.mark.django_db

D = Decimal
CART_PAGE = "/cart/"
CART_API = "/api/v1/cart/"


@pytest.fixture
def member():
    return member_with(5_000)


def add_lines(cart, n: int, category) -> list:
    products = []
    for _ in range(n):
        product = ProductFactory(price=D("40.00"), stock=100, category=category)
        ProductImageFactory(product=product)
        CartLineFactory(cart=cart, product=product, quantity=1)
        products.append(product)
    return products


def add_promotions(n: int, *, cart_products, category, member, first: int = 0) -> None:
    """n running automatic promotions, mixed: whole order, products in the cart, the cart's category,
    other products, chosen customers (the member among them or not), a usage limit, one per customer."""
    elsewhere = ProductFactory(price=D("9.00"), stock=5)
    for i in range(first, first + n):
        common = {"name": f"Offer {i}", "requires_code": False, "value": D("0.10")}
        match i % 7:
            case 0:
                promotion(**common)
            case 1:
                promotion(**common, scope=Promotion.Scope.PRODUCTS, products=cart_products[:1])
            case 2:
                promotion(**common, scope=Promotion.Scope.CATEGORIES, categories=[category.parent])
            case 3:
                promotion(**common, scope=Promotion.Scope.PRODUCTS, products=[elsewhere])
            case 4:
                promotion(**common, customers=[member])
            case 5:
                promotion(**common, customers=[UserFactory()], usage_limit=1_000)
            case 6:
                promotion(**common, usage_limit_per_customer=5)


@pytest.fixture
def full_cart(member):
    """The member's cart: a code applied, 500 points on it, lines in a sub-category."""
    category = CategoryFactory(slug="pans", name="Pans", parent=CategoryFactory(slug="kitchen", name="Kitchen"))
    cart = CartFactory(user=member)
    products = add_lines(cart, 3, category)
    code = code_for(promotion(name="Welcome five", kind=Promotion.Kind.FIXED, value=D("5.00"), usage_limit=100), "FIVE")
    CartCode.objects.create(cart=cart, code=code)
    CartPoints.objects.create(cart=cart, points=500)
    return {"cart": cart, "products": products, "category": category}


@pytest.fixture(autouse=True)
def _no_shelves(settings):
    """The cart's own queries: the shelves below it (settings.SHOP_SHELVES) count theirs in their own tests."""
    settings.SHOP_SHELVES = {}


def queries_for(client, url):
    client.get(url)  # what is read once per process (the promotions index, the program's rules)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


def test_the_cart_page_reads_at_most_8_queries_with_5_or_50_promotions_and_3_or_30_lines(client, member, full_cart):
    client.force_login(member)
    add_promotions(5, cart_products=full_cart["products"], category=full_cart["category"], member=member)
    few, page = queries_for(client, CART_PAGE)
    html = page.content.decode()
    assert "FIVE" in html and "500 points" in html and "Offer 0" in html  # code, points and promotions shown

    add_promotions(45, cart_products=full_cart["products"], category=full_cart["category"], member=member, first=5)
    add_lines(full_cart["cart"], 27, full_cart["category"])
    many, page = queries_for(client, CART_PAGE)

    assert "Offer 49" in page.content.decode()
    assert few == many
    # user, cart, lines with products and categories, images, the code, the promotions' live
    # facts, the member's account with points on the cart and referral, their lots of points.
    assert many <= 8, many


def test_the_api_cart_reads_at_most_8_queries_with_5_or_50_promotions(api_as, member, full_cart):
    client = api_as(member)
    add_promotions(5, cart_products=full_cart["products"], category=full_cart["category"], member=member)
    few, response = queries_for(client, CART_API)
    kinds = {(a["source"], a["kind"]) for a in response.json()["adjustments"]}
    assert {("discounts", "discount"), ("loyalty-points", "points")} <= kinds

    add_promotions(45, cart_products=full_cart["products"], category=full_cart["category"], member=member, first=5)
    many, response = queries_for(client, CART_API)

    assert len([a for a in response.json()["adjustments"] if a["label"].startswith("Offer")]) > 5
    assert few == many <= 8, many


def test_a_change_to_promotions_is_on_the_next_cart_page(client, member, full_cart):
    client.force_login(member)
    client.get(CART_PAGE)
    promotion(name="Flash sale", requires_code=False, value=D("10"))

    assert "Flash sale" in client.get(CART_PAGE).content.decode()
