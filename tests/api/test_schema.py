"""The schema says what the API does: nullable fields, the one error shape, each operation's 4xx answers."""

import pytest

from tests.api.conformance import assert_conforms, schema
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

ERROR = "#/components/schemas/Error"
WEBHOOK = "/api/v1/payments/stripe/webhook/"


def operations():
    for path, item in schema()["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def documented(method: str, path: str) -> set[int]:
    return {int(status) for status in schema()["paths"][path][method]["responses"]}


def test_the_error_component_has_detail_and_code_and_optional_field_errors():
    error = schema()["components"]["schemas"]["Error"]

    assert set(error["required"]) == {"detail", "code"}
    assert error["properties"]["errors"]["additionalProperties"]["items"]["type"] == "string"


def test_every_4xx_of_every_operation_is_the_error_component():
    for path, method, operation in operations():
        if path == WEBHOOK:
            continue  # Stripe's endpoint, not ours to shape: `detail` only
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR}, (method, path, status)


def test_every_operation_documents_its_4xx_answers():
    for path, method, operation in operations():
        statuses = {int(s) for s in operation["responses"]}
        assert any(400 <= s < 500 for s in statuses), (method, path)
        if path != WEBHOOK:
            assert 401 in statuses, (method, path)  # a token that is not valid, anywhere
        if "{" in path:
            assert 404 in statuses, (method, path)
        if method in ("post", "put", "patch"):
            assert 400 in statuses, (method, path)
            assert path == WEBHOOK or 403 in statuses, (method, path)  # CSRF for session clients


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/api/v1/products/", {400, 401, 404}),  # bad filter, bad token, page past the end
        ("get", "/api/v1/products/{slug}/", {401, 404}),
        ("post", "/api/v1/auth/token/", {400, 401, 403, 429}),  # throttled
        ("post", "/api/v1/auth/register/", {400, 409, 429}),
        ("get", "/api/v1/promotions/", {401, 403}),  # staff only
        ("post", "/api/v1/checkout/", {400, 402, 403, 409, 503}),  # declared by the view
        ("post", "/api/v1/orders/{number}/pay/", {400, 402, 404, 503}),
        ("post", "/api/v1/cart/items/", {400, 404, 409}),
        ("patch", "/api/v1/cart/items/{line_id}/", {400, 404, 409}),
        ("post", "/api/v1/cart/points/", {400, 401}),
        ("post", "/api/v1/cart/discount-code/", {400, 404, 429}),
        ("post", "/api/v1/loyalty/referral/", {400, 404, 409}),
        ("post", "/api/v1/products/{product_slug}/reviews/", {400, 401, 404, 409}),
        ("delete", "/api/v1/promotions/{id}/", {401, 403, 404, 409}),
    ],
)
def test_it_documents_the_answers_each_operation_gives(method, path, statuses):
    assert statuses <= documented(method, path)


def test_a_read_without_parameters_documents_no_400():
    assert 400 not in documented("get", "/api/v1/account/")
    assert 403 not in documented("get", "/api/v1/account/")  # logged in is all it takes


def test_the_stripe_webhook_is_documented_without_a_token():
    operation = schema()["paths"][WEBHOOK]["post"]

    assert operation["security"] == []
    assert {200, 400} == documented("post", WEBHOOK)


# --- nullable fields ----------------------------------------------------------------------------


def test_a_top_categorys_parent_is_documented_as_nullable(api):
    CategoryFactory(slug="kitchen")

    response = api.get("/api/v1/categories/kitchen/")

    assert response.json()["parent"] is None
    assert schema()["components"]["schemas"]["Category"]["properties"]["parent"]["nullable"] is True
    assert_conforms(response)


def test_an_unrated_products_rating_is_documented_as_nullable(api):
    ProductFactory(slug="teapot")

    response = api.get("/api/v1/products/teapot/")

    assert response.json()["rating"] is None
    assert schema()["components"]["schemas"]["Product"]["properties"]["rating"]["nullable"] is True
    assert_conforms(response)
    assert_conforms(api.get("/api/v1/products/"))
    assert_conforms(api.get("/api/v1/categories/"))


def test_a_sub_categorys_parent_is_its_slug(api):
    CategoryFactory(slug="pots", parent=CategoryFactory(slug="kitchen"))

    response = api.get("/api/v1/categories/pots/")

    assert response.json()["parent"] == "kitchen"
    assert_conforms(response)
