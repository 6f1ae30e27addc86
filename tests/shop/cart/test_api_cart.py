"""GET /api/v1/cart/, POST /api/v1/cart/items/, PATCH/DELETE /api/v1/cart/items/<id>/."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shop.cart.models import Cart, CartLine
from tests.factories import CartFactory, CartLineFactory, ProductFactory, ProductImageFactory

pytestmark = pytest.mark.django_db

CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"


def item_url(line_id) -> str:
    return f"{ITEMS}{line_id}/"


@pytest.fixture
def teapot():
    return ProductFactory(slug="teapot", name="Teapot", price=Decimal("19.99"), stock=5)


@pytest.fixture
def owner_line(customer, teapot):
    """A line in the owner's cart: two teapots."""
    return CartLineFactory(cart=CartFactory(user=customer), product=teapot, quantity=2)


def token_client(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_CART_TOKEN=str(token))
    return client


# --- anonymous carts ----------------------------------------------------------------------------


def test_it_gives_a_new_visitor_an_empty_cart_without_creating_one(api):
    response = api.get(CART)

    assert response.status_code == 200
    body = response.json()
    assert body["lines"] == []
    assert body["token"] is None
    assert (body["subtotal"], body["total"], body["item_count"]) == ("0.00", "0.00", 0)
    assert not Cart.objects.exists()


def test_it_creates_an_anonymous_cart_and_returns_its_token(api, teapot):
    response = api.post(ITEMS, {"product": "teapot", "quantity": 2}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    cart = Cart.objects.get()
    assert cart.user is None
    assert body["token"] == str(cart.token)
    assert [(line.product, line.quantity) for line in cart.lines.all()] == [(teapot, 2)]


def test_it_reopens_an_anonymous_cart_by_its_token_header(api, teapot):
    token = api.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json").json()["token"]

    client = token_client(token)  # no cookies: only the header
    client.post(ITEMS, {"product": "teapot", "quantity": 2}, format="json")
    body = client.get(CART).json()

    assert [(line["product"]["slug"], line["quantity"]) for line in body["lines"]] == [("teapot", 3)]
    assert Cart.objects.count() == 1


def test_it_keeps_an_anonymous_cart_in_the_session_cookie(api, teapot):
    api.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json")

    body = api.get(CART).json()

    assert [line["quantity"] for line in body["lines"]] == [1]


def test_it_treats_a_malformed_cart_token_as_no_cart(teapot):
    response = token_client("not-a-uuid").get(CART)

    assert response.status_code == 200
    assert response.json()["lines"] == []


def test_it_prices_lines_with_decimal_strings_and_a_currency(api):
    ProductFactory(slug="cup", price=Decimal("3.33"), stock=10)
    ProductFactory(slug="saucer", price=Decimal("0.10"), stock=10)
    api.post(ITEMS, {"product": "cup", "quantity": 3}, format="json")

    body = api.post(ITEMS, {"product": "saucer", "quantity": 7}, format="json").json()

    assert body["currency"] == "USD"
    assert [(line["unit_price"], line["total"]) for line in body["lines"]] == [("3.33", "9.99"), ("0.10", "0.70")]
    assert (body["subtotal"], body["total"], body["item_count"]) == ("10.69", "10.69", 10)


# --- CSRF for cookie-held carts -----------------------------------------------------------------


def test_it_needs_csrf_to_change_a_cart_held_by_the_session_cookie(teapot):
    client = APIClient(enforce_csrf_checks=True)
    first = client.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json")
    assert first.status_code == 201  # no cookie yet: nothing another site could ride on

    forged = client.post(ITEMS, {"product": "teapot", "quantity": 3}, format="json")

    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"]
    assert CartLine.objects.get().quantity == 1


def test_it_accepts_a_cookie_held_cart_change_with_a_csrf_token(teapot):
    client = APIClient(enforce_csrf_checks=True)
    client.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json")
    secret = "a" * 32
    client.cookies["csrftoken"] = secret

    response = client.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json", HTTP_X_CSRFTOKEN=secret)

    assert response.status_code == 201, response.content
    assert CartLine.objects.get().quantity == 2


def test_it_does_not_need_csrf_when_the_cart_token_header_is_sent(teapot):
    client = APIClient(enforce_csrf_checks=True)
    token = client.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json").json()["token"]

    response = client.post(ITEMS, {"product": "teapot", "quantity": 1}, format="json", HTTP_X_CART_TOKEN=token)

    assert response.status_code == 201
    assert CartLine.objects.get().quantity == 2


# --- logged-in carts and the three personas -----------------------------------------------------


def test_it_gives_a_logged_in_customer_their_own_cart(api_as, customer, owner_line):
    body = api_as(customer).get(CART).json()

    assert body["token"] is None  # a customer's cart is never reachable by token
    assert [(line["id"], line["quantity"]) for line in body["lines"]] == [(owner_line.pk, 2)]
    assert (body["subtotal"], body["total"]) == ("39.98", "39.98")


def test_it_adds_to_a_logged_in_customers_cart(api_as, customer, teapot):
    response = api_as(customer).post(ITEMS, {"product": "teapot"}, format="json")

    assert response.status_code == 201
    assert response.json()["token"] is None
    cart = Cart.objects.get()
    assert cart.user == customer
    assert [(line.product, line.quantity) for line in cart.lines.all()] == [(teapot, 1)]


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_it_never_shows_the_owners_cart_to_another_customer_or_staff(request, api_as, owner_line, persona):
    response = api_as(request.getfixturevalue(persona)).get(CART)

    assert response.status_code == 200
    assert response.json()["lines"] == []


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_it_answers_404_when_another_user_changes_the_owners_line(request, api_as, owner_line, persona):
    client = api_as(request.getfixturevalue(persona))
    CartLineFactory(cart=CartFactory(user=request.getfixturevalue(persona)), product=owner_line.product)

    patched = client.patch(item_url(owner_line.pk), {"quantity": 5}, format="json")
    deleted = client.delete(item_url(owner_line.pk))

    assert patched.status_code == 404
    assert deleted.status_code == 404
    assert patched.json()["detail"]
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_answers_404_when_an_anonymous_cart_changes_the_owners_line(api, owner_line):
    own_token = api.post(ITEMS, {"product": owner_line.product.slug}, format="json").json()["token"]
    client = token_client(own_token)

    assert client.patch(item_url(owner_line.pk), {"quantity": 5}, format="json").status_code == 404
    assert client.delete(item_url(owner_line.pk)).status_code == 404
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_answers_404_when_there_is_no_cart_at_all(api, owner_line):
    assert api.patch(item_url(owner_line.pk), {"quantity": 1}, format="json").status_code == 404
    assert api.delete(item_url(owner_line.pk)).status_code == 404
    assert CartLine.objects.filter(pk=owner_line.pk).exists()


def test_it_never_opens_a_customers_cart_with_its_token(owner_line):
    client = token_client(owner_line.cart.token)

    assert client.get(CART).json()["lines"] == []
    assert client.patch(item_url(owner_line.pk), {"quantity": 5}, format="json").status_code == 404
    assert client.delete(item_url(owner_line.pk)).status_code == 404
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_never_opens_another_anonymous_cart_for_a_logged_in_customer(stranger, teapot):
    anonymous_line = CartLineFactory(cart=CartFactory(user=None), product=teapot, quantity=1)
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=stranger).key}",
        HTTP_X_CART_TOKEN=str(anonymous_line.cart.token),
    )

    assert client.get(CART).json()["lines"] == []
    assert client.patch(item_url(anonymous_line.pk), {"quantity": 4}, format="json").status_code == 404
    anonymous_line.refresh_from_db()
    assert anonymous_line.quantity == 1


# --- changing lines -----------------------------------------------------------------------------


def test_it_changes_a_lines_quantity(api_as, customer, owner_line):
    response = api_as(customer).patch(item_url(owner_line.pk), {"quantity": 5}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["lines"][0]["total"] == "99.95"
    owner_line.refresh_from_db()
    assert owner_line.quantity == 5


def test_it_removes_a_line(api_as, customer, owner_line):
    response = api_as(customer).delete(item_url(owner_line.pk))

    assert response.status_code == 200
    assert response.json()["lines"] == []
    assert not CartLine.objects.filter(pk=owner_line.pk).exists()


def test_it_answers_404_for_a_line_id_that_does_not_exist(api_as, customer, owner_line):
    response = api_as(customer).patch(item_url(owner_line.pk + 1000), {"quantity": 1}, format="json")

    assert response.status_code == 404


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, "abc", 1.5, None, True, 1000])
def test_it_rejects_a_bad_quantity_when_adding(api_as, customer, teapot, quantity):
    response = api_as(customer).post(ITEMS, {"product": "teapot", "quantity": quantity}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"]["quantity"][0]
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, "abc", 1.5, None, 1000])
def test_it_rejects_a_bad_quantity_when_changing(api_as, customer, owner_line, quantity):
    response = api_as(customer).patch(item_url(owner_line.pk), {"quantity": quantity}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"]["quantity"][0]
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_refuses_more_than_the_stock_when_adding(api_as, customer, teapot):
    response = api_as(customer).post(ITEMS, {"product": "teapot", "quantity": 6}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert "Only 5" in body["errors"]["quantity"][0]
    assert not CartLine.objects.exists()


def test_it_counts_what_is_already_in_the_cart_against_the_stock(api_as, customer, owner_line):
    response = api_as(customer).post(ITEMS, {"product": "teapot", "quantity": 4}, format="json")

    assert response.status_code == 409
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_refuses_more_than_the_stock_when_changing(api_as, customer, owner_line):
    response = api_as(customer).patch(item_url(owner_line.pk), {"quantity": 6}, format="json")

    assert response.status_code == 409
    assert response.json()["errors"]["quantity"][0]
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_refuses_more_of_a_product_no_longer_sold(api_as, customer, owner_line, teapot):
    teapot.is_active = False
    teapot.save()

    response = api_as(customer).patch(item_url(owner_line.pk), {"quantity": 3}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "product_unavailable"
    assert "no longer sold" in response.json()["errors"]["product"][0]
    owner_line.refresh_from_db()
    assert owner_line.quantity == 2


def test_it_says_when_a_product_is_out_of_stock(api, teapot):
    teapot.stock = 0
    teapot.save()

    response = api.post(ITEMS, {"product": "teapot"}, format="json")

    assert response.status_code == 409
    assert "out of stock" in response.json()["detail"]


@pytest.mark.parametrize("slug", ["no-such-product", "retired"])
def test_it_answers_404_for_an_unknown_or_inactive_product(api, slug):
    ProductFactory(slug="retired", is_active=False)

    response = api.post(ITEMS, {"product": slug, "quantity": 1}, format="json")

    assert response.status_code == 404
    assert slug in response.json()["errors"]["product"][0]
    assert not CartLine.objects.exists()


def test_it_needs_a_product(api):
    response = api.post(ITEMS, {"quantity": 1}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["product"][0]


# --- query counts -------------------------------------------------------------------------------


def fill_cart(cart: Cart, n: int) -> None:
    for _ in range(n):
        product = ProductFactory(stock=50)
        ProductImageFactory.create_batch(2, product=product)
        CartLineFactory(cart=cart, product=product, quantity=2)


def cart_queries(client) -> tuple[int, dict]:
    # Once first: new products in new categories make the promotions index be read again
    # (once per change, not per cart).
    client.get(CART)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(CART)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()


def test_it_shows_a_customers_cart_in_a_constant_number_of_queries(api_as, customer):
    cart = CartFactory(user=customer)
    client = api_as(customer)
    fill_cart(cart, 3)
    client.get(CART)  # adjusters read their settings once, then from the cache
    small, body = cart_queries(client)
    assert len(body["lines"]) == 3
    fill_cart(cart, 27)
    large, body = cart_queries(client)
    assert len(body["lines"]) == 30
    assert body["lines"][0]["product"]["image"].startswith("http://testserver/")

    # token, cart, lines with products and categories, product images, discount code, the member's
    # loyalty (account, points on the cart, a referral's welcome discount). No automatic promotion
    # has a usage limit or chosen customers, so none is read live (tests/test_cart_queries.py).
    assert small == large == 6


def test_it_shows_an_anonymous_cart_in_a_constant_number_of_queries():
    cart = CartFactory(user=None)
    client = token_client(cart.token)
    fill_cart(cart, 3)
    small, _body = cart_queries(client)
    fill_cart(cart, 27)
    large, body = cart_queries(client)

    assert len(body["lines"]) == 30
    assert small == large == 4  # cart, lines with products and categories, product images, discount code


def test_adding_to_an_anonymous_cart_reads_it_once():
    """As a shopper's add-to-cart through the API: the cart is found without its lines, the line
    changed, then the lines read once for the answer (not once to find the cart and again to answer)."""
    cart = CartFactory(user=None)
    client = token_client(cart.token)
    fill_cart(cart, 3)
    product = ProductFactory(stock=50)
    client.get(CART)  # what is read once per process

    with CaptureQueriesContext(connection) as ctx:
        response = client.post(ITEMS, {"product": product.slug, "quantity": 1}, format="json")

    assert response.status_code == 201 and len(response.json()["lines"]) == 4
    reads = [q["sql"] for q in ctx.captured_queries if 'FROM "cart_cartline"' in q["sql"] and "JOIN" in q["sql"]]
    assert len(reads) == 1, reads  # the lines with their products, once
    # the product; the cart; in the change's savepoint (2) the cart's lock, its line of that product,
    # the insert, the cart touched; for the answer the lines with products, their images, the code.
    assert len(ctx.captured_queries) == 11, "\n".join(q["sql"][:70] for q in ctx.captured_queries)
