"""POST /api/v1/cart/items/ by variant (or by product when it has one); cart lines show their variant."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.cart.models import Cart, CartLine
from shop.catalog.models import Product, Variant
from tests.api.conformance import assert_conforms
from tests.factories import CartFactory, CartLineFactory, ProductFactory, ProductImageFactory
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"


@pytest.fixture
def tee():
    return with_variants(
        slug="tee", name="Tee", price=Decimal("20.00"), prices={("L", "Red"): Decimal("24.00")}, stock=3
    )


@pytest.fixture
def lamp():
    return ProductFactory(slug="lamp", name="Lamp", sku="LAMP-1", price=Decimal("30.00"), stock=5)


def add(api, **body):
    return assert_conforms(api.post(ITEMS, body, format="json"))


def lines(cart) -> dict[str, int]:
    return {line.variant.sku: line.quantity for line in cart.lines.select_related("variant")}


# --- adding -------------------------------------------------------------------------------------


def test_it_adds_a_variant_by_its_id(api, tee):
    large_red = variant(tee, "L", "Red")

    response = add(api, variant=large_red.pk, quantity=2)

    assert response.status_code == 201, response.content
    line = response.json()["lines"][0]
    assert line["variant"] == {
        "id": large_red.pk,
        "sku": large_red.sku,
        "options": {"Colour": "Red", "Size": "L"},
        "stock": 3,
    }
    assert (line["product"]["slug"], line["quantity"], line["unit_price"], line["total"]) == (
        "tee",
        2,
        "24.00",
        "48.00",
    )
    assert lines(Cart.objects.get()) == {large_red.sku: 2}


def test_each_variant_has_its_own_line_and_a_repeat_adds_up(api, tee):
    small_blue, large_red = variant(tee, "S", "Blue"), variant(tee, "L", "Red")

    add(api, variant=small_blue.pk)
    add(api, variant=large_red.pk)
    body = add(api, variant=small_blue.pk, quantity=2).json()

    assert {line["variant"]["sku"]: line["quantity"] for line in body["lines"]} == {small_blue.sku: 3, large_red.sku: 1}
    assert body["item_count"] == 4
    assert lines(Cart.objects.get()) == {small_blue.sku: 3, large_red.sku: 1}


def test_it_takes_the_product_with_its_variant_when_they_match(api, tee):
    small_blue = variant(tee, "S", "Blue")

    assert add(api, product="tee", variant=small_blue.pk).status_code == 201

    assert lines(Cart.objects.get()) == {small_blue.sku: 1}


def test_it_refuses_a_variant_of_another_product(api, tee, lamp):
    response = add(api, product="lamp", variant=variant(tee, "S", "Blue").pk)

    assert response.status_code == 400
    assert "is not a variant of “lamp”" in response.json()["errors"]["variant"][0]
    assert not CartLine.objects.exists()


def test_it_adds_a_product_in_a_single_variant_by_product_as_always(api, lamp):
    response = add(api, product="lamp", quantity=2)

    assert response.status_code == 201, response.content
    line = response.json()["lines"][0]
    assert line["variant"] == {"id": lamp.variants.get().pk, "sku": "LAMP-1", "options": {}, "stock": 5}
    assert (line["product"]["slug"], line["quantity"], line["total"]) == ("lamp", 2, "60.00")
    assert lines(Cart.objects.get()) == {"LAMP-1": 2}


def test_it_asks_for_the_variant_of_a_product_with_several(api, tee):
    response = add(api, product="tee")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["variant"] == ["“tee” comes in several variants: choose one and send its id as `variant`."]
    assert not Cart.objects.exists()


@pytest.mark.parametrize("case", ["unknown", "inactive", "inactive product"])
def test_it_answers_404_for_a_variant_not_on_sale(api, tee, case):
    large_red = variant(tee, "L", "Red")
    pk = large_red.pk
    if case == "unknown":
        pk = Variant.objects.order_by("-pk").first().pk + 1
    elif case == "inactive":
        Variant.objects.filter(pk=pk).update(is_active=False)
    else:
        Product.objects.filter(pk=tee.pk).update(is_active=False)

    response = add(api, variant=pk)

    assert response.status_code == 404
    assert response.json()["errors"]["variant"] == [f"There is no variant {pk} on sale."]
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("value", [0, -1, "abc", 2**63, None, 1.5])
def test_it_answers_a_bad_variant_id_with_a_400(api, tee, value):
    response = add(api, variant=value)

    assert response.status_code == 400
    assert response.json()["errors"]["variant"]


def test_it_asks_for_a_variant_or_a_product(api):
    response = add(api, quantity=1)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "`variant`" in errors["variant"][0] and errors["product"] == errors["variant"]


def test_it_checks_the_variants_own_stock(api, tee):
    large_red = variant(tee, "L", "Red")  # 3 of it, 15 of the tee

    response = add(api, variant=large_red.pk, quantity=4)

    assert response.status_code == 409
    assert "Only 3 of “Tee” are in stock." in response.json()["detail"]
    assert not CartLine.objects.exists()


def test_the_cart_shows_each_lines_variant(api_as, customer, tee, lamp):
    cart = CartFactory(user=customer)
    CartLineFactory(cart=cart, product=tee, variant=variant(tee, "M", "Blue"), quantity=1)
    CartLineFactory(cart=cart, product=lamp, quantity=1)

    body = assert_conforms(api_as(customer).get(CART)).json()

    shown = {line["product"]["slug"]: line["variant"] for line in body["lines"]}
    assert shown["tee"]["options"] == {"Colour": "Blue", "Size": "M"}
    assert shown["lamp"] == {"id": lamp.variants.get().pk, "sku": "LAMP-1", "options": {}, "stock": 5}


def test_a_line_whose_variant_is_no_longer_sold_is_shown_apart(api_as, customer, tee):
    medium_blue = variant(tee, "M", "Blue")
    CartLineFactory(cart=CartFactory(user=customer), product=tee, variant=medium_blue, quantity=1)
    Variant.objects.filter(pk=medium_blue.pk).update(is_active=False)

    body = assert_conforms(api_as(customer).get(CART)).json()

    assert body["lines"] == []
    assert body["unavailable"][0]["variant"]["options"] == {"Colour": "Blue", "Size": "M"}


# --- query counts -------------------------------------------------------------------------------


def fill_cart(cart, n: int) -> None:
    for i in range(n):
        product = with_variants(sizes=("S", "M"), colours=("Red",), stock=50)
        ProductImageFactory(product=product)
        CartLineFactory(cart=cart, product=product, variant=variant(product, "SM"[i % 2], "Red"), quantity=1)
        CartLineFactory(cart=cart, product=ProductFactory(stock=50), quantity=1)  # and a plain one


def cart_queries(client) -> tuple[int, dict]:
    client.get(CART)  # what is read once per process (the promotions index)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(CART)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()


def test_it_shows_a_cart_of_variants_in_a_constant_number_of_queries(api_as, customer):
    cart = CartFactory(user=customer)
    client = api_as(customer)
    fill_cart(cart, 2)
    small, body = cart_queries(client)
    assert len(body["lines"]) == 4
    fill_cart(cart, 13)
    large, body = cart_queries(client)
    assert len(body["lines"]) == 30
    assert sum(1 for line in body["lines"] if line["variant"]["options"]) == 15

    # As a cart of plain products (tests/shop/cart/test_api_cart.py: 6) and the variants' options
    # with their attributes and values.
    assert small == large == 7
