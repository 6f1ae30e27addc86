"""Every 4xx answer of the API has one shape: {"detail": str, "code": str, "errors"?: {field: [str]}}.

Each answer here is also checked against the schema (its status documented, its body the `Error`
component).
"""

import pytest
from django.core.cache import cache

from loyalty import services as loyalty_services
from marketing.discounts.models import DiscountCode, Promotion
from tests.api.conformance import assert_conforms
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory
from tests.loyalty.helpers import cart_with

pytestmark = pytest.mark.django_db

CODE = "/api/v1/cart/discount-code/"
POINTS = "/api/v1/cart/points/"
REFERRAL = "/api/v1/loyalty/referral/"


def error(response, status: int, *, in_schema: bool = True) -> dict:
    assert response.status_code == status, response.content
    if in_schema:
        assert_conforms(response)
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert set(body) <= {"detail", "code", "errors"}
    return body


@pytest.fixture
def shopper(api_as, customer):
    CartLineFactory(cart=CartFactory(user=customer), product=ProductFactory(stock=10), quantity=2)
    return api_as(customer)


# --- a field called "code" no longer hides the error's code ------------------------------------


def test_a_blank_discount_code_is_a_field_error_under_errors(shopper):
    body = error(shopper.post(CODE, {"code": "  "}, format="json"), 400)

    assert body == {
        "detail": "code: This field may not be blank.",
        "code": "invalid",
        "errors": {"code": ["This field may not be blank."]},
    }


def test_an_unknown_discount_code_keeps_the_errors_code_and_names_the_field(shopper):
    body = error(shopper.post(CODE, {"code": "NOPE"}, format="json"), 404)

    assert body["code"] == "not_found"
    assert body["errors"] == {"code": [body["detail"]]}


def test_a_discount_code_that_does_not_apply_says_so_in_code(shopper):
    promotion = Promotion.objects.create(name="Big", kind="percentage", value=10, min_subtotal=1000)
    DiscountCode.objects.create(promotion=promotion, code="BIG")

    body = error(shopper.post(CODE, {"code": "BIG"}, format="json"), 400)

    assert body["code"] == "code_not_applicable"
    assert body["errors"]["code"] == [body["detail"]]


def test_too_many_unknown_codes_are_a_429_in_the_same_shape(shopper, settings):
    cache.clear()
    answers = [shopper.post(CODE, {"code": f"NOPE{i}"}, format="json") for i in range(30)]

    throttled = [a for a in answers if a.status_code == 429]
    assert throttled
    assert error(throttled[0], 429)["code"] == "rate_limited"


def test_a_referral_code_error_keeps_the_errors_code(api_as, customer):
    body = error(api_as(customer).post(REFERRAL, {"code": "x" * 13}, format="json"), 400)

    assert body["code"] == "invalid"
    assert "12" in body["errors"]["code"][0]


def test_an_unknown_referral_code_is_a_404_in_the_shape(api_as, customer):
    body = error(api_as(customer).post(REFERRAL, {"code": "NOSUCH"}, format="json"), 404)

    assert body["code"] == "not_found"
    assert body["detail"] == "That referral code does not exist."


def test_a_second_referral_is_a_409_in_the_shape(api_as, customer, stranger):
    loyalty_services.referral_attach(friend=stranger, code=loyalty_services.account_get(user=customer).referral_code)
    other = loyalty_services.account_get(user=UserFactory()).referral_code

    body = error(api_as(stranger).post(REFERRAL, {"code": other}, format="json"), 409)

    assert body["code"] == "conflict"


def test_points_errors_are_under_errors_points(api_as, customer):
    cart_with(customer)

    below_minimum = error(api_as(customer).post(POINTS, {"points": 1}, format="json"), 400)
    more_than_held = error(api_as(customer).post(POINTS, {"points": 100_000}, format="json"), 400)

    assert below_minimum["errors"]["points"] == [below_minimum["detail"]]
    assert more_than_held["errors"]["points"] == [more_than_held["detail"]]


# --- DRF's own errors, normalised --------------------------------------------------------------


def test_field_errors_are_listed_under_errors_with_a_summary_in_detail(api):
    body = error(api.post("/api/v1/auth/register/", {}, format="json"), 400)

    assert body["code"] == "invalid"
    assert body["errors"] == {"email": ["This field is required."], "password": ["This field is required."]}
    assert body["detail"] == "Some fields are not valid: email, password."


def test_nested_field_errors_are_dotted(api):
    address = {"name": "Ada", "line1": "1 Main", "city": "Austin", "postal_code": "1", "country": "XX"}
    response = api.post(
        "/api/v1/checkout/",
        {"email": "ada@example.org", "shipping_address": address},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    body = error(response, 400)
    assert list(body["errors"]) == ["shipping_address.country"]


def test_list_item_errors_are_dotted_with_their_index(api_as, staff):
    response = api_as(staff).post(
        "/api/v1/promotions/", {"name": "P", "kind": "percentage", "value": "5", "products": ["x"]}, format="json"
    )

    body = error(response, 400)
    assert "products" in body["errors"] or "products.0" in body["errors"]


def test_a_json_body_that_is_not_an_object_is_a_non_field_error(api):
    body = error(api.post("/api/v1/cart/items/", data="[1]", content_type="application/json"), 400)

    assert list(body["errors"]) == ["non_field_errors"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/account/", 401, "not_authenticated"),
        ("get", "/api/v1/products/nope/", 404, "not_found"),
        ("get", "/api/v1/products/?page=99", 404, "not_found"),
        ("delete", "/api/v1/auth/token/", 401, "not_authenticated"),
    ],
)
def test_drf_and_django_errors_have_the_shape(api, method, path, status, code):
    body = error(getattr(api, method)(path), status)

    assert body["code"] == code


def test_a_path_that_matches_no_route_is_a_404_in_the_shape(api):
    body = error(api.get("/api/v1/no/such/path/"), 404, in_schema=False)

    assert body["code"] == "not_found"


def test_a_bad_token_is_a_401_in_the_shape(api):
    api.credentials(HTTP_AUTHORIZATION="Token nope")

    body = error(api.get("/api/v1/products/"), 401)

    assert body["code"] == "authentication_failed"


def test_a_missing_permission_is_a_403_in_the_shape(api_as, customer):
    body = error(api_as(customer).get("/api/v1/promotions/"), 403)

    assert body["code"] == "permission_denied"


def test_a_malformed_json_body_is_a_400_in_the_shape(api):
    body = error(api.post("/api/v1/cart/items/", data="{", content_type="application/json"), 400)

    assert body["code"] == "parse_error"
