"""The discount engine's cost does not grow with the promotions staff add.

Candidates are found by scope in the promotions index (whole order, a product in the
cart, a category above one of its products), read once per change to promotions, so
pricing a cart reads the same number of queries with 1 or 50 running promotions, and
promotions for other products are never even weighed.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketing.discounts import engine
from marketing.discounts.models import CartCode, Promotion
from shop.cart.pricing import price_cart
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.marketing.discounts.test_engine import cart_of, code_for
from tests.marketing.discounts.test_engine import promotion as promotion_with_code

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def shop():
    home = CategoryFactory(name="Home", slug="home")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", parent=home)
    garden = CategoryFactory(name="Garden", slug="garden")
    pan = ProductFactory(price=D("30.00"), stock=100, category=kitchen)
    rake = ProductFactory(price=D("20.00"), stock=100, category=garden)
    elsewhere = [ProductFactory(price=D("9.00"), stock=100, category=garden) for _ in range(3)]
    return {"home": home, "kitchen": kitchen, "garden": garden, "pan": pan, "rake": rake, "elsewhere": elsewhere}


def promotion(**fields) -> Promotion:
    """An automatic promotion (no code), running from now."""
    return promotion_with_code(requires_code=False, **fields)


def add_promotions(shop, member, copies: int) -> None:
    """Each copy: one of every scope that applies, plus restricted ones and ones for other products."""
    for n in range(copies):
        promotion(name=f"Order {n}", value=D("1"))
        promotion(name=f"Pan {n}", value=D("1"), scope=Promotion.Scope.PRODUCTS, products=[shop["pan"]])
        promotion(name=f"Home {n}", value=D("1"), scope=Promotion.Scope.CATEGORIES, categories=[shop["home"]])
        promotion(name=f"Chosen {n}", value=D("1"), customers=[member])
        promotion(name=f"Others {n}", value=D("1"), customers=[UserFactory()])
        promotion(name=f"Not excluded {n}", value=D("1"), excluded_products=[shop["rake"]])
        promotion(name=f"Other product {n}", scope=Promotion.Scope.PRODUCTS, products=shop["elsewhere"][:1])


def queries_to_price(cart, member) -> int:
    price_cart(cart, customer=member)  # once first: what is read once per process is not the point
    with CaptureQueriesContext(connection) as queries:
        price_cart(cart, customer=member)
    return len(queries)


def loaded(cart):
    # As the storefront loads a cart: lines with their products and categories.
    return type(cart).objects.prefetch_related("lines__product__category").get(pk=cart.pk)


def test_pricing_reads_the_same_queries_with_7_or_70_running_promotions(shop):
    member = UserFactory()
    cart = cart_of(member, (shop["pan"], 1), (shop["rake"], 2))
    add_promotions(shop, member, copies=1)
    few = queries_to_price(loaded(cart), member)
    add_promotions(shop, member, copies=9)

    many = queries_to_price(loaded(cart), member)

    assert many == few
    # And all of them were weighed: the stackable ones that apply are all on the cart.
    priced = price_cart(loaded(cart), customer=member)
    labels = [a.label for a in priced.adjustments if a.source == "discounts"]
    for name in ("Order", "Pan", "Home", "Chosen", "Not excluded"):
        assert len([label for label in labels if label.startswith(name)]) == 10, name
    assert not [label for label in labels if label.startswith(("Others", "Other product"))]


def test_promotions_for_other_products_are_never_weighed(shop):
    member = UserFactory()
    cart = loaded(cart_of(member, (shop["pan"], 1)))
    for n in range(100):
        promotion(name=f"Elsewhere {n}", scope=Promotion.Scope.PRODUCTS, products=shop["elsewhere"])
        promotion(name=f"Garden {n}", scope=Promotion.Scope.CATEGORIES, categories=[shop["garden"]])
    promotion(name="Kitchen", scope=Promotion.Scope.CATEGORIES, categories=[shop["kitchen"]])
    promotion(name="Pan", scope=Promotion.Scope.PRODUCTS, products=[shop["pan"], *shop["elsewhere"]])
    priced = price_cart(cart, customer=member)

    found = engine.candidates(priced=priced, customer=member, kinds={Promotion.Kind.PERCENTAGE}, now=timezone.now())

    assert sorted(p.name for p in found) == ["Kitchen", "Pan"]


def test_a_category_promotion_reaches_products_of_its_sub_categories_only(shop):
    cart = loaded(cart_of(None, (shop["pan"], 1), (shop["rake"], 1)))
    promotion(name="Home", value=D("10"), scope=Promotion.Scope.CATEGORIES, categories=[shop["home"]])

    priced = price_cart(cart)

    (adjustment,) = [a for a in priced.adjustments if a.source == "discounts"]
    assert adjustment.amount.amount == D("-3.00")  # 10% of the pan (Home > Kitchen), not of the rake (Garden)


def test_both_discount_adjusters_and_the_code_share_one_read_of_the_code_and_the_promotions(shop):
    member = UserFactory()
    cart = loaded(cart_of(member, (shop["rake"], 1)))  # $20: shipping is charged, so both adjusters run
    promotion(name="Ten", value=D("10"), usage_limit=100)  # its uses are read live, with the cart
    promotion(name="Ship", kind=Promotion.Kind.FREE_SHIPPING, value=D("0"), usage_limit_per_customer=1)
    code = code_for(promotion_with_code(name="Five", value=D("5"), usage_limit=10), "FIVE")
    CartCode.objects.create(cart=cart, code=code)
    price_cart(cart, customer=member, shipping_method="standard")  # the index is read once per change

    with CaptureQueriesContext(connection) as queries:
        priced = price_cart(cart, customer=member, shipping_method="standard")

    sources = {a.source for a in priced.adjustments}
    assert {"discounts", "discounts-shipping"} <= sources  # both applied
    assert "Five (FIVE)" in {a.label for a in priced.adjustments}
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in sql if 'FROM "discounts_promotion"' in s]) == 1  # uses and limits of all three
    assert len([s for s in sql if 'FROM "discounts_cartcode"' in s]) == 1
    assert len([s for s in sql if "discounts_" in s]) == 2  # nothing else of the discounts app
