"""API plumbing: the OpenAPI schema and docs, and errors that stay readable 4xx, never 500s."""

import re

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command

from shop.core.api import exception_handler
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


# --- schema and docs ----------------------------------------------------------------------------


def test_it_builds_the_schema_without_warnings_or_errors(tmp_path):
    out = tmp_path / "schema.yaml"

    # --fail-on-warn turns every drf-spectacular warning (an unresolvable field, a
    # serializer it had to guess) into an error; --validate checks the OpenAPI spec.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = yaml.safe_load(out.read_text())
    assert schema["info"]["title"] == "Bazaar API"
    assert {
        "/api/v1/products/",
        "/api/v1/products/{slug}/",
        "/api/v1/products/{product_slug}/reviews/",
        "/api/v1/categories/",
        "/api/v1/cart/",
        "/api/v1/cart/items/",
        "/api/v1/cart/items/{line_id}/",
        "/api/v1/auth/token/",
        "/api/v1/auth/register/",
        "/api/v1/account/",
        "/api/v1/account/addresses/",
        "/api/v1/account/addresses/{id}/",
    } <= set(schema["paths"])


def test_it_serves_the_schema(api):
    response = api.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    product_list = schema["paths"]["/api/v1/products/"]["get"]
    assert {"search", "category", "min_price", "max_price", "in_stock", "ordering", "page", "page_size"} <= {
        p["name"] for p in product_list["parameters"]
    }
    cart = schema["paths"]["/api/v1/cart/"]["get"]
    assert "X-Cart-Token" in {p["name"] for p in cart["parameters"]}


def test_it_documents_money_as_decimal_strings(api):
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    price = schema["components"]["schemas"]["Product"]["properties"]["price"]
    assert price["type"] == "string"
    assert price.get("format") == "decimal"


def test_it_serves_the_docs_page_with_local_assets_only(api):
    response = api.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        # Every script, stylesheet and icon comes from our own static files, so the
        # docs work offline and under a strict Content-Security-Policy.
        assert asset.startswith(f"/{settings.STATIC_URL.strip('/')}/"), asset
        assert finders.find(asset.split("/", 2)[2]), f"{asset} is not a static file we ship"


def test_it_points_the_docs_at_our_schema(api):
    html = api.get("/api/v1/docs/").content.decode()

    assert "/api/v1/schema/" in html


# --- unknown paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/nope", "/api/v2/products/", "/api/v1/products/a/b/c/"])
def test_it_answers_an_unknown_api_path_with_a_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "/api/v1/docs/" in response.json()["detail"]


def test_it_answers_an_unknown_storefront_path_with_html(api):
    response = api.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- malformed requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/token/", "/api/v1/auth/register/", "/api/v1/cart/items/", "/api/v1/products/x/reviews/"]
)
def test_it_answers_malformed_json_with_a_readable_400(api_as, customer, path):
    ProductFactory(slug="x")

    response = api_as(customer).post(path, data='{"email": "a@example.org",', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("body", ["[1, 2]", "null", '"text"', "42"])
def test_it_answers_json_that_is_not_an_object_with_a_400(api, body):
    ProductFactory(slug="teapot")

    response = api.post("/api/v1/cart/items/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"][0]


def test_it_answers_an_unsupported_content_type_with_a_415(api):
    response = api.post("/api/v1/auth/token/", data="email=a", content_type="text/plain")

    assert response.status_code == 415
    assert "text/plain" in response.json()["detail"]


def test_it_answers_a_wrong_method_with_a_json_405(api):
    response = api.put("/api/v1/cart/", {}, format="json")

    assert response.status_code == 405
    assert response.json()["detail"]


def test_it_answers_a_domain_error_with_its_code_and_field(api):
    response = api.post("/api/v1/cart/items/", {"product": "nope"}, format="json")

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert body["errors"] == {"product": [body["detail"]]}


def test_it_maps_a_model_validation_error_to_a_400_not_a_500():
    # A rule enforced only by a model's full_clean() must still reach the client as a 400.
    response = exception_handler(DjangoValidationError({"country": ["Bad."]}), {})

    assert response.status_code == 400
    assert response.data == {"detail": "Bad.", "code": "invalid", "errors": {"country": ["Bad."]}}


# --- input that used to reach the database: 4xx, never 500 -------------------------------------


def long_email(length: int) -> str:
    """A valid address of `length` characters (Django accepts up to 320; the column holds 254)."""
    local, labels = "a" * 64, []
    left = length - len(local) - len("@") - len(".com")
    while left > 63:
        labels.append("b" * min(63, left - 2))  # leaves at least one character after the dot
        left -= len(labels[-1]) + 1
    email = f"{local}@{'.'.join([*labels, 'c' * left])}.com"
    assert len(email) == length
    return email


@pytest.mark.parametrize("value", ["100%", "%", "50%off", "%(slug)s", "%s"])
def test_it_answers_a_category_with_a_percent_sign_with_a_400(api, value):
    response = api.get("/api/v1/products/", {"category": value})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["category"] == [f"There is no category “{value}”."]


def test_the_storefront_lists_with_a_percent_sign_in_the_category_without_a_500(client):
    response = client.get("/products/", {"category": "100%"})

    assert response.status_code in (200, 400)
    assert "There is no category “100%”." in response.content.decode()


@pytest.mark.parametrize("points", [10**28, 2**31, -5, 0, 1.5, "many", "", None, [1], {"a": 1}])
def test_it_answers_points_out_of_range_or_not_a_whole_number_with_a_400(api_as, customer, points):
    from tests.loyalty.helpers import cart_with

    cart_with(customer)

    response = api_as(customer).post("/api/v1/cart/points/", {"points": points}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["points"]


@pytest.mark.parametrize("length", [255, 300, 320])
def test_the_api_refuses_an_email_longer_than_the_column_at_registration(api, length):
    response = api.post(
        "/api/v1/auth/register/", {"email": long_email(length), "password": "a long enough Pa55word"}, format="json"
    )

    assert response.status_code == 400
    assert "254" in response.json()["errors"]["email"][0]


def test_the_api_accepts_an_email_of_254_characters_at_registration(api):
    response = api.post(
        "/api/v1/auth/register/", {"email": long_email(254), "password": "a long enough Pa55word"}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize("length", [255, 320])
def test_the_api_refuses_an_email_longer_than_the_column_at_checkout(api, length):
    body = {
        "email": long_email(length),
        "shipping_address": {"name": "Ada", "line1": "1 Main", "city": "Austin", "postal_code": "1", "country": "US"},
    }

    response = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 400
    assert "254" in response.json()["errors"]["email"][0]


def test_the_api_refuses_an_email_longer_than_the_column_at_login(api):
    response = api.post("/api/v1/auth/token/", {"email": long_email(300), "password": "x"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["email"]


@pytest.mark.parametrize(
    ("form_path", "data", "field"),
    [
        ("shop.accounts.forms.RegisterForm", {"password": "a long enough Pa55word"}, "email"),
        ("shop.accounts.forms.EmailLoginForm", {"password": "x"}, "username"),
        ("shop.orders.forms.LookupForm", {"number": "ABC"}, "email"),
        ("shop.orders.forms.CheckoutForm", {}, "email"),
        ("shop.accounts.views.PasswordResetForm", {}, "email"),
    ],
)
def test_the_web_forms_refuse_an_email_longer_than_the_column(form_path, data, field):
    module, name = form_path.rsplit(".", 1)
    form_class = getattr(__import__(module, fromlist=[name]), name)
    form = form_class(data={**data, field: long_email(300)})

    assert not form.is_valid()
    assert "at most 254 characters" in " ".join(form.errors[field])


def test_the_registration_page_explains_an_email_that_is_too_long(client):
    response = client.post("/account/register/", {"email": long_email(300), "password": "a long enough Pa55word"})

    assert response.status_code == 400
    assert "at most 254 characters" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/account/addresses/99999999999999999999/",
        "/api/v1/promotions/99999999999999999999/",
        "/api/v1/orders/%00/",
        "/api/v1/products/%00/",
        "/api/v1/categories/%00/",
    ],
)
def test_it_answers_a_path_value_no_row_can_have_with_a_404(api_as, staff, path):
    response = api_as(staff).get(path)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_answers_a_cart_line_id_beyond_any_row_with_a_404(api):
    ProductFactory(slug="teapot", stock=5)
    token = api.post("/api/v1/cart/items/", {"product": "teapot"}, format="json").json()["token"]

    response = api.patch(
        "/api/v1/cart/items/99999999999999999999/", {"quantity": 1}, format="json", HTTP_X_CART_TOKEN=token
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "NaN"},
        {"max_price": "Infinity"},
        {"min_price": "-Infinity"},
        {"min_price": "1e400"},
        {"max_price": "99999999999999999999999999999"},
        {"min_price": "0.001"},
        {"search": "tea\x00pot"},
        {"category": "tea\x00pot"},
        {"ordering": "\x00"},
    ],
)
def test_it_answers_filters_out_of_range_with_a_400(api, params):
    response = api.get("/api/v1/products/", params)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(params)


@pytest.mark.parametrize("params", [{"page": str(10**30)}, {"page": "-1"}, {"page": "\x00"}])
def test_it_answers_a_page_out_of_range_with_a_404(api, params):
    response = api.get("/api/v1/products/", params)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_caps_a_huge_page_size(api):
    ProductFactory()

    response = api.get("/api/v1/products/", {"page_size": str(10**30)})

    assert response.status_code == 200


@pytest.mark.parametrize("quantity", [10**20, 2**31, 1000, 0, -1, 1.5, "x"])
def test_it_answers_a_cart_quantity_out_of_range_with_a_400(api, quantity):
    ProductFactory(slug="teapot", stock=5)

    response = api.post("/api/v1/cart/items/", {"product": "teapot", "quantity": quantity}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["quantity"]


def test_the_cart_page_refuses_a_huge_quantity_with_a_400(client):
    product = ProductFactory(stock=5)

    response = client.post("/cart/add/", {"product": product.pk, "quantity": str(10**20)})

    assert response.status_code == 400
    assert "Quantity must be a whole number from 1 to 999." in response.content.decode()


@pytest.mark.parametrize("pk", [str(10**20), "²", "1\x00"])
def test_the_cart_page_answers_a_product_id_no_row_can_have_with_a_404(client, pk):
    response = client.post("/cart/add/", {"product": pk, "quantity": "1"})

    assert response.status_code == 404


@pytest.mark.parametrize("action", ["", "remove/"])
def test_the_cart_page_answers_a_line_id_beyond_any_row_with_a_404(client, action):
    product = ProductFactory(stock=5)
    client.post("/cart/add/", {"product": product.pk, "quantity": "1"})

    response = client.post(f"/cart/lines/{10**20}/{action}", {"quantity": "1"})

    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 151, "line1": "1", "city": "A", "postal_code": "1", "country": "US"},
        {"full_name": "A\x00da", "line1": "1", "city": "A", "postal_code": "1", "country": "US"},
        {"full_name": "Ada", "line1": "1", "city": "A", "postal_code": "1" * 500, "country": "US"},
    ],
)
def test_it_answers_long_or_nul_strings_in_an_address_with_a_400(api_as, customer, body):
    response = api_as(customer).post("/api/v1/account/addresses/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]


@pytest.mark.parametrize("exc", [OverflowError("Python int too large to convert to SQLite INTEGER"), None])
def test_a_value_the_database_cannot_hold_is_a_400_not_a_500(exc):
    from django.db import DataError

    exc = exc or DataError("value too long for type character varying(254)")

    response = exception_handler(exc, {"view": None})

    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert "out of range" in response.data["detail"]


DEEP = '{"message": ' + "[" * 50_000 + "]" * 50_000 + "}"  # deeper than Python's JSON decoder recurses
SMALL_DEEP = '{"events": ' + "[" * 1_900 + "]" * 1_900 + "}"  # as deep, under the page endpoints' size limits


@pytest.mark.parametrize(
    "path", ["/api/v1/assistant/messages/", "/api/v1/cart/items/", "/api/v1/auth/token/", "/api/v1/cart/points/"]
)
def test_it_answers_json_nested_too_deeply_with_a_400_not_a_500(api_as, customer, path):
    response = api_as(customer).post(path, data=DEEP, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/analytics/collect/", "/marketing/push/subscribe/"])
def test_the_pages_json_endpoints_refuse_json_nested_too_deeply_with_a_4xx(client, customer, path):
    client.force_login(customer)
    assert len(SMALL_DEEP) < 4_000

    response = client.post(path, data=SMALL_DEEP, content_type="application/json", HTTP_ORIGIN="http://testserver")

    assert 400 <= response.status_code < 500, response.content


def test_a_stripe_event_nested_too_deeply_is_malformed_not_a_crash():
    from shop.payments.webhooks import MalformedEvent, parse_event

    with pytest.raises(MalformedEvent):
        parse_event(DEEP.encode())
