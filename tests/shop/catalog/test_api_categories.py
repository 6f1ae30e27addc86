"""GET /api/v1/categories/ and /api/v1/categories/<slug>/."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/categories/"


def test_it_lists_categories_in_tree_order_with_parents(api):
    garden = CategoryFactory(slug="garden", name="Garden")
    clothing = CategoryFactory(slug="clothing", name="Clothing")
    women = CategoryFactory(slug="women", name="Women", parent=clothing)
    CategoryFactory(slug="dresses", name="Dresses", parent=women)
    CategoryFactory(slug="tools", name="Tools", parent=garden)

    response = api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [(c["path"], c["depth"], c["parent"]) for c in body["results"]] == [
        ("clothing", 0, None),
        ("clothing/women", 1, "clothing"),
        ("clothing/women/dresses", 2, "women"),
        ("garden", 0, None),
        ("garden/tools", 1, "garden"),
    ]


def test_it_shows_one_category_by_slug(api):
    CategoryFactory(slug="women", name="Women", parent=CategoryFactory(slug="clothing"))

    response = api.get(f"{URL}women/")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Women"
    assert body["parent"] == "clothing"
    assert body["path"] == "clothing/women"


def test_it_answers_an_unknown_category_with_a_json_404(api):
    response = api.get(f"{URL}no-such-thing/")

    assert response.status_code == 404
    assert response.json()["detail"]


def test_it_answers_a_page_past_the_end_with_a_readable_404(api):
    CategoryFactory()

    response = api.get(URL, {"page": 9999})

    assert response.status_code == 404
    assert "pages run from 1" in response.json()["detail"]


def make_tree(roots: int) -> None:
    for _ in range(roots):
        root = CategoryFactory()
        CategoryFactory(parent=CategoryFactory(parent=root))


def list_queries(api, page_size: int) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(URL, {"page_size": page_size})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


def test_it_lists_categories_in_a_constant_number_of_queries(api):
    make_tree(1)
    small, small_n = list_queries(api, 3)
    make_tree(9)
    large, large_n = list_queries(api, 30)

    assert (small_n, large_n) == (3, 30)
    # count, categories with their parents.
    assert small == large == 2


def test_it_does_not_let_anyone_write_categories(api_as, staff):
    category = CategoryFactory(slug="fixed", name="Fixed")
    client = api_as(staff)

    assert client.post(URL, {"slug": "new", "name": "New"}, format="json").status_code == 405
    assert client.patch(f"{URL}fixed/", {"name": "Changed"}, format="json").status_code == 405
    assert client.delete(f"{URL}fixed/").status_code == 405
    category.refresh_from_db()
    assert category.name == "Fixed"
