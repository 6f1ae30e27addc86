"""POST/DELETE /api/v1/cart/discount-code/ and the staff's /api/v1/promotions/ (with code batches)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from marketing.discounts.models import CartCode, CodeBatch, DiscountCode, Promotion, Redemption
from shop.cart.models import Cart
from tests.factories import CartFactory, CartLineFactory, CategoryFactory, ProductFactory
from tests.shop.orders.test_api_orders import make_order

pytestmark = pytest.mark.django_db

CODE = "/api/v1/cart/discount-code/"
ITEMS = "/api/v1/cart/items/"
PROMOTIONS = "/api/v1/promotions/"


def promotion_url(promotion) -> str:
    return f"{PROMOTIONS}{promotion.pk}/"


def codes_url(promotion) -> str:
    return f"{PROMOTIONS}{promotion.pk}/codes/"


@pytest.fixture
def teapot():
    return ProductFactory(slug="teapot", name="Teapot", price=Decimal("25.00"), stock=10)


@pytest.fixture
def ten_off():
    promotion = Promotion.objects.create(name="Ten off", kind="percentage", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="SAVE10")
    return promotion


@pytest.fixture
def token_client(api, teapot):
    """An API client holding an anonymous cart (two teapots, $50.00) by its token header only."""
    token = api.post(ITEMS, {"product": "teapot", "quantity": 2}, format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_X_CART_TOKEN=token)
    return client


@pytest.fixture
def customer_client(api_as, customer, teapot):
    """The customer's token client; their cart holds two teapots ($50.00)."""
    CartLineFactory(cart=CartFactory(user=customer), product=teapot, quantity=2)
    return api_as(customer)


def discounts(body) -> list[tuple[str, str]]:
    return [(a["label"], a["amount"]) for a in body["adjustments"] if a["kind"] == "discount"]


# --- applying and removing a code ---------------------------------------------------------------


def test_it_applies_a_code_to_an_anonymous_token_cart(token_client, ten_off):
    response = token_client.post(CODE, {"code": " save10 "}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert discounts(body) == [("Ten off (SAVE10)", "-5.00")]
    assert (body["subtotal"], body["total"]) == ("50.00", "45.00")
    assert body["token"]
    assert CartCode.objects.get().cart == Cart.objects.get(token=body["token"])


def test_it_applies_a_code_to_a_customers_cart(customer_client, customer, ten_off):
    response = customer_client.post(CODE, {"code": "SAVE10"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert discounts(body) == [("Ten off (SAVE10)", "-5.00")]
    assert body["total"] == "45.00"
    assert body["token"] is None
    assert CartCode.objects.get().cart.user == customer
    assert customer_client.get("/api/v1/cart/").json()["total"] == "45.00"  # the code stays on the cart


def test_a_new_code_replaces_the_one_on_the_cart(customer_client, ten_off):
    other = Promotion.objects.create(name="Five dollars", kind="fixed", value=Decimal("5"))
    DiscountCode.objects.create(promotion=other, code="FIVE")
    customer_client.post(CODE, {"code": "SAVE10"}, format="json")

    body = customer_client.post(CODE, {"code": "five"}, format="json").json()

    assert discounts(body) == [("Five dollars (FIVE)", "-5.00")]
    assert CartCode.objects.get().code.code == "FIVE"


@pytest.mark.parametrize("persona", ["token_client", "customer_client"])
def test_it_removes_the_code(request, persona, ten_off):
    client = request.getfixturevalue(persona)
    client.post(CODE, {"code": "SAVE10"}, format="json")

    response = client.delete(CODE)

    assert response.status_code == 200
    body = response.json()
    assert discounts(body) == []
    assert body["total"] == "50.00"
    assert not CartCode.objects.exists()
    assert client.delete(CODE).status_code == 200  # removing again is harmless


def test_a_cookie_cart_needs_the_csrf_token(teapot, ten_off):
    client = APIClient(enforce_csrf_checks=True)
    client.post(ITEMS, {"product": "teapot"}, format="json")  # no cookie yet: the cart is made
    assert "sessionid" in client.cookies

    response = client.post(CODE, {"code": "SAVE10"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not CartCode.objects.exists()


# --- refusals -----------------------------------------------------------------------------------


def test_an_unknown_code_is_a_404(customer_client, ten_off):
    response = customer_client.post(CODE, {"code": "NOPE"}, format="json")

    assert response.status_code == 404
    message = "We don't know the code “NOPE”. Check its spelling."
    assert response.json() == {"detail": message, "code": "not_found", "errors": {"code": [message]}}
    assert not CartCode.objects.exists()


def test_an_empty_code_is_a_400(customer_client):
    response = customer_client.post(CODE, {"code": "  "}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["code"] == ["This field may not be blank."]


def _now():
    return timezone.now()


REASONS = {
    "inactive": ({"is_active": False}, {}, "This code is no longer valid."),
    "not_started": ({"starts_at": _now() + timedelta(days=3)}, {}, "This code can be used from "),
    "expired": (
        {"starts_at": _now() - timedelta(days=9), "ends_at": _now() - timedelta(days=2)},
        {},
        "This code expired on ",
    ),
    "used_up": ({"usage_limit": 1, "times_used": 1}, {}, "This offer has been fully claimed."),
    "code_already_used": ({}, {"max_uses": 1, "times_used": 1}, "This code has already been used."),
    "minimum_not_met": (
        {"min_subtotal": Decimal("80")},
        {},
        "Spend $30.00 more to use this code (minimum $80.00).",
    ),
    "minimum_quantity_not_met": ({"min_quantity": 5}, {}, "Add 3 more eligible item(s) to use this code."),
    "buy_x_get_y_short": (
        {"kind": "bxgy", "value": Decimal("100"), "buy_quantity": 2, "get_quantity": 1},
        {},
        "Buy 2 and get 1: add 1 more eligible item(s).",
    ),
}


@pytest.mark.parametrize("reason", REASONS)
def test_each_refusal_is_a_400_with_its_reason(customer_client, reason):
    promotion_fields, code_fields, message = REASONS[reason]
    promotion = Promotion.objects.create(
        **{"name": "Deal", "kind": "percentage", "value": Decimal("10"), **promotion_fields}
    )
    DiscountCode.objects.create(promotion=promotion, code="DEAL", **code_fields)

    response = customer_client.post(CODE, {"code": "deal"}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "code_not_applicable"
    assert body["detail"].startswith(message)
    assert not CartCode.objects.exists()


def test_a_code_for_other_products_is_refused(customer_client):
    promotion = Promotion.objects.create(name="Mugs", kind="percentage", value=Decimal("10"), scope="products")
    promotion.products.add(ProductFactory())
    DiscountCode.objects.create(promotion=promotion, code="MUGS")

    response = customer_client.post(CODE, {"code": "MUGS"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "This code does not apply to the products in your cart."


def test_a_code_for_chosen_customers_is_refused_to_others(customer_client, stranger):
    promotion = Promotion.objects.create(name="VIP", kind="percentage", value=Decimal("10"))
    promotion.customers.add(stranger)
    DiscountCode.objects.create(promotion=promotion, code="VIP")

    response = customer_client.post(CODE, {"code": "VIP"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "This code is not available for your account."


def test_a_restricted_code_asks_an_anonymous_cart_to_log_in(token_client):
    promotion = Promotion.objects.create(name="Welcome", kind="percentage", value=Decimal("10"), first_order_only=True)
    DiscountCode.objects.create(promotion=promotion, code="WELCOME")

    response = token_client.post(CODE, {"code": "WELCOME"}, format="json")

    assert response.status_code == 400
    message = "Log in to use this code."
    assert response.json() == {"detail": message, "code": "code_not_applicable", "errors": {"code": [message]}}


def test_a_code_that_does_not_combine_with_the_automatic_offer_is_refused(customer_client):
    Promotion.objects.create(
        name="Summer sale", kind="percentage", value=Decimal("20"), requires_code=False, stackable=False, priority=5
    )
    promotion = Promotion.objects.create(name="Ten off", kind="percentage", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="SAVE10")

    response = customer_client.post(CODE, {"code": "SAVE10"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "This code cannot be combined with the offer already applied."


def test_a_code_on_an_empty_cart_is_refused(api, ten_off):
    response = api.post(CODE, {"code": "SAVE10"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "This code does not apply to the products in your cart."
    assert not Cart.objects.exists()


# --- guessing -----------------------------------------------------------------------------------


def test_guessing_codes_is_rate_limited_per_address(settings, api, teapot, ten_off):
    settings.DISCOUNT_CODE_ATTEMPTS = (3, 900)
    guesser = APIClient(REMOTE_ADDR="203.0.113.7")
    for guess in ("AAAA", "BBBB", "CCCC"):
        assert guesser.post(CODE, {"code": guess}, format="json").status_code == 404

    refused = guesser.post(CODE, {"code": "SAVE10"}, format="json")  # even a real code, now

    assert refused.status_code == 429
    message = "Too many wrong codes. Wait 15 minutes and try again."
    assert refused.json() == {"detail": message, "code": "rate_limited", "errors": {"code": [message]}}
    neighbour = APIClient(REMOTE_ADDR="203.0.113.8")
    assert neighbour.post(CODE, {"code": "DDDD"}, format="json").status_code == 404


def test_guessing_codes_is_rate_limited_per_customer_wherever_they_are(settings, api_as, customer, teapot):
    settings.DISCOUNT_CODE_ATTEMPTS = (2, 900)
    CartLineFactory(cart=CartFactory(user=customer), product=teapot)
    first = api_as(customer)
    for guess in ("AAAA", "BBBB"):
        first.post(CODE, {"code": guess}, format="json", REMOTE_ADDR="203.0.113.7")

    elsewhere = api_as(customer).post(CODE, {"code": "CCCC"}, format="json", REMOTE_ADDR="198.51.100.1")

    assert elsewhere.status_code == 429


def test_refusals_of_known_codes_do_not_count_as_guesses(settings, customer_client):
    settings.DISCOUNT_CODE_ATTEMPTS = (2, 900)
    promotion = Promotion.objects.create(name="Big", kind="fixed", value=Decimal("5"), min_subtotal=Decimal("500"))
    DiscountCode.objects.create(promotion=promotion, code="BIG")

    statuses = [customer_client.post(CODE, {"code": "BIG"}, format="json").status_code for _ in range(4)]

    assert statuses == [400, 400, 400, 400]


# --- promotions (staff) -------------------------------------------------------------------------


@pytest.fixture
def staff_api(api_as, staff):
    return api_as(staff)


def promotion_input(**overrides) -> dict:
    return {"name": "Spring sale", "kind": "percentage", "value": "15.00", **overrides}


def test_staff_create_a_promotion_with_categories(staff_api):
    dresses, shoes = CategoryFactory(), CategoryFactory()

    response = staff_api.post(
        PROMOTIONS,
        promotion_input(scope="categories", categories=[dresses.pk, shoes.pk], times_used=99, usage_limit=100),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["times_used"] == 0  # read-only
    assert sorted(body["categories"]) == sorted([dresses.pk, shoes.pk])
    promotion = Promotion.objects.get(pk=body["id"])
    assert (promotion.name, promotion.kind, promotion.value, promotion.usage_limit) == (
        "Spring sale",
        "percentage",
        Decimal("15.00"),
        100,
    )
    assert set(promotion.categories.all()) == {dresses, shoes}
    assert promotion.times_used == 0


def test_staff_list_promotions_paginated(staff_api, ten_off):
    response = staff_api.get(PROMOTIONS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert body["results"][0]["name"] == "Ten off"
    assert body["results"][0]["value"] == "10.00"


def test_staff_read_edit_and_delete_a_promotion(staff_api, ten_off):
    assert staff_api.get(promotion_url(ten_off)).json()["name"] == "Ten off"

    edited = staff_api.patch(promotion_url(ten_off), {"value": "12.50", "is_active": False}, format="json")
    assert edited.status_code == 200, edited.content
    ten_off.refresh_from_db()
    assert (ten_off.value, ten_off.is_active) == (Decimal("12.50"), False)

    assert staff_api.put(promotion_url(ten_off), promotion_input(), format="json").status_code == 405
    assert staff_api.delete(promotion_url(ten_off)).status_code == 204
    assert not Promotion.objects.exists()
    assert not DiscountCode.objects.exists()


def test_a_used_promotion_cannot_be_deleted(staff_api, ten_off, customer):
    Redemption.objects.create(
        promotion=ten_off, order=make_order(user=customer), customer=customer, amount=Decimal("5"), currency="USD"
    )

    response = staff_api.delete(promotion_url(ten_off))

    assert response.status_code == 409
    assert "turn it off" in response.json()["detail"]
    assert Promotion.objects.filter(pk=ten_off.pk).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"value": "150"}, "value", "A percentage is at most 100."),
        ({"value": "-1"}, "value", "Ensure this value is greater than or equal to 0."),
        ({"kind": "fixed", "value": "0"}, "value", "Give the discount: a value above 0."),
        ({"kind": "bxgy", "value": "100"}, "buy_quantity", "Buy X, get Y needs how many to buy (at least 1)."),
        (
            {"kind": "bxgy", "value": "100", "buy_quantity": 2},
            "get_quantity",
            "Buy X, get Y needs how many come discounted (at least 1).",
        ),
        (
            {"starts_at": "2030-01-10T00:00:00Z", "ends_at": "2030-01-09T00:00:00Z"},
            "ends_at",
            "The end must come after the start.",
        ),
        ({"scope": "products"}, "products", "Choose at least one product, or apply the promotion to the whole order."),
        ({"categories": [999999]}, "categories", 'Invalid pk "999999" - object does not exist.'),
    ],
)
def test_staff_get_a_readable_400_for_an_invalid_promotion(staff_api, overrides, field, message):
    response = staff_api.post(PROMOTIONS, promotion_input(**overrides), format="json")

    assert response.status_code == 400
    assert response.json()["errors"][field] == [message]
    assert not Promotion.objects.exists()


def test_a_usage_limit_below_the_uses_made_is_a_400_not_a_500(staff_api):
    promotion = Promotion.objects.create(name="Used", kind="fixed", value=Decimal("5"), times_used=3)

    response = staff_api.patch(promotion_url(promotion), {"usage_limit": 2}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["usage_limit"] == ["It has been used 3 times already: the limit cannot be lower."]
    assert staff_api.patch(promotion_url(promotion), {"usage_limit": 3}, format="json").status_code == 200


def test_an_edit_is_checked_against_the_stored_values(staff_api):
    promotion = Promotion.objects.create(name="Forty", kind="fixed", value=Decimal("140"))
    starts = promotion.starts_at

    to_percentage = staff_api.patch(promotion_url(promotion), {"kind": "percentage"}, format="json")
    ends_first = staff_api.patch(
        promotion_url(promotion), {"ends_at": (starts - timedelta(hours=1)).isoformat()}, format="json"
    )

    assert to_percentage.json()["errors"]["value"] == ["A percentage is at most 100."]
    assert ends_first.json()["errors"]["ends_at"] == ["The end must come after the start."]
    promotion.refresh_from_db()
    assert (promotion.kind, promotion.ends_at) == ("fixed", None)


def test_staff_make_a_batch_of_single_use_codes(staff_api, staff, ten_off):
    response = staff_api.post(codes_url(ten_off), {"count": 5, "prefix": "vip-"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    batch = CodeBatch.objects.get()
    assert (body["batch"], body["promotion"], body["count"], body["prefix"], body["length"]) == (
        batch.pk,
        ten_off.pk,
        5,
        "VIP-",
        8,
    )
    assert len(set(body["codes"])) == 5
    assert all(code.startswith("VIP-") and len(code) == 12 for code in body["codes"])
    stored = DiscountCode.objects.filter(batch=batch)
    assert sorted(stored.values_list("code", flat=True)) == sorted(body["codes"])
    assert set(stored.values_list("max_uses", flat=True)) == {1}
    assert batch.created_by == staff


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"count": 0}, "count"), ({"count": 3, "prefix": "no spaces"}, "prefix"), ({"count": 3, "length": 4}, "length")],
)
def test_a_bad_batch_is_a_400(staff_api, ten_off, payload, field):
    response = staff_api.post(codes_url(ten_off), payload, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][field]
    assert not CodeBatch.objects.exists()


def test_a_batch_for_an_unknown_promotion_is_a_404(staff_api):
    assert staff_api.post(f"{PROMOTIONS}999999/codes/", {"count": 1}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "list"),
        ("post", "list"),
        ("get", "detail"),
        ("patch", "detail"),
        ("delete", "detail"),
        ("post", "codes"),
    ],
)
def test_customers_get_403_and_anonymous_clients_401_on_promotions(api, api_as, customer, ten_off, method, path):
    url = {"list": PROMOTIONS, "detail": promotion_url(ten_off), "codes": codes_url(ten_off)}[path]
    payload = {"count": 1} if path == "codes" else promotion_input()

    as_customer = getattr(api_as(customer), method)(url, payload, format="json")
    anonymous = getattr(api, method)(url, payload, format="json")

    assert as_customer.status_code == 403
    assert anonymous.status_code == 401
    assert Promotion.objects.get().name == "Ten off"
    assert not CodeBatch.objects.exists()


def _make_promotions(n: int) -> None:
    category, product, customer_ = CategoryFactory(), ProductFactory(), CartFactory().user
    for i in range(n):
        promotion = Promotion.objects.create(name=f"Promotion {i}", kind="percentage", value=Decimal("5"))
        promotion.categories.add(category)
        promotion.products.add(product)
        promotion.excluded_products.add(ProductFactory())
        promotion.customers.add(customer_)


def _count_list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(PROMOTIONS)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_promotion_list_costs_the_same_number_of_queries_for_2_or_12(staff_api):
    _make_promotions(2)
    few = _count_list_queries(staff_api)
    _make_promotions(10)
    many = _count_list_queries(staff_api)

    assert staff_api.get(PROMOTIONS).json()["count"] == 12
    assert many == few


def test_the_schema_documents_the_endpoints(api):
    paths = api.get("/api/v1/schema/", {"format": "json"}).json()["paths"]

    assert set(paths["/api/v1/cart/discount-code/"]) == {"post", "delete"}
    # 401 (a token that is not valid) and 403 (a session without its CSRF token) as for every write.
    assert set(paths["/api/v1/cart/discount-code/"]["post"]["responses"]) == {"200", "400", "401", "403", "404", "429"}
    assert set(paths["/api/v1/promotions/"]) == {"get", "post"}
    assert set(paths["/api/v1/promotions/{id}/"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v1/promotions/{id}/codes/"]) == {"post"}
