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
    assert response.json()["non_field_errors"][0]


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
    assert body["product"] == [body["detail"]]


def test_it_maps_a_model_validation_error_to_a_400_not_a_500():
    # A rule enforced only by a model's full_clean() must still reach the client as a 400.
    response = exception_handler(DjangoValidationError({"country": ["Bad."]}), {})

    assert response.status_code == 400
    assert response.data == {"detail": "Bad.", "code": "invalid"}
