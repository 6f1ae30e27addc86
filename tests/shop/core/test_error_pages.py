"""The store's own error pages: in its style, with a way on, never Django's debug page."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import include, path

from config import urls as site_urls
from tests.factories import ProductFactory


def _forbidden(request):
    raise PermissionDenied


def _suspicious(request):
    raise SuspiciousOperation("a forged request")


def _broken(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("test-errors/403/", _forbidden),
    path("test-errors/400/", _suspicious),
    path("test-errors/500/", _broken),
    path("api/v1/test-errors/500/", _broken),
    path("", include(site_urls.urlpatterns)),
]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _page(response) -> str:
    return response.content.decode()


def test_a_missing_page_is_the_stores_404_with_search_and_links_home(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = _page(response)
    assert "We could not find that page" in html
    assert 'role="search"' in html and 'name="search"' in html
    assert 'href="/"' in html and 'class="site-header"' in html  # the store's header and way home
    assert "URLconf" not in html and "Using the URLconf" not in html  # never the list of the site's URLs


def test_a_missing_api_path_answers_in_the_apis_error_shape(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_forbidden_page_says_the_cart_and_orders_are_safe(client):
    response = client.get("/test-errors/403/")
    assert response.status_code == 403
    assert "This page is not open to you" in _page(response)


def test_a_bad_request_is_the_stores_400(client):
    response = client.get("/test-errors/400/")
    assert response.status_code == 400
    assert "We could not understand that request" in _page(response)


def test_a_forged_host_header_gets_the_stores_400(client):
    response = client.get("/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert "We could not understand that request" in _page(response)


def test_a_server_error_is_a_standalone_page_that_reads_nothing(django_assert_num_queries):
    client = Client(raise_request_exception=False)
    with django_assert_num_queries(0):
        response = client.get("/test-errors/500/")
    assert response.status_code == 500
    html = _page(response)
    assert "Something went wrong on our side" in html and 'href="/"' in html
    assert "RuntimeError" not in html and "a bug" not in html


def test_a_server_error_in_the_api_is_json():
    response = Client(raise_request_exception=False).get("/api/v1/test-errors/500/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


def test_a_form_without_its_security_token_says_how_to_go_on():
    product = ProductFactory(stock=5)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    assert response.status_code == 403
    html = _page(response)
    assert "Please send that form again" in html and "reload the page" in html
