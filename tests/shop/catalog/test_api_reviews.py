"""GET/POST /api/v1/products/<slug>/reviews/."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.catalog.models import Review
from tests.factories import ProductFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return ProductFactory(slug="teapot")


URL = "/api/v1/products/teapot/reviews/"


def test_it_lists_a_products_reviews_newest_first(api, product):
    ReviewFactory(product=product, rating=5, title="Old")
    ReviewFactory(product=product, rating=2, title="New")
    ReviewFactory(rating=1, title="Another product")

    response = api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["title"] for r in body["results"]] == ["New", "Old"]


def test_it_names_the_author_without_their_email(api, product):
    ReviewFactory(product=product, user=UserFactory(email="ann@example.org", first_name="Ann", last_name="Lee"))
    ReviewFactory(product=product, user=UserFactory(email="nameless@example.org", first_name="", last_name=""))

    results = api.get(URL).json()["results"]

    assert sorted(r["author"] for r in results) == ["Ann L", "—"]
    assert "example.org" not in str(results)


def test_it_answers_reviews_of_an_unknown_or_inactive_product_with_404(api):
    ProductFactory(slug="retired", is_active=False)

    assert api.get("/api/v1/products/nope/reviews/").status_code == 404
    assert api.get("/api/v1/products/retired/reviews/").status_code == 404


def review_queries(api, page_size: int) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(URL, {"page_size": page_size})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


def test_it_lists_reviews_in_a_constant_number_of_queries(api, product):
    ReviewFactory.create_batch(3, product=product)
    small, small_n = review_queries(api, 3)
    ReviewFactory.create_batch(27, product=product)
    large, large_n = review_queries(api, 30)

    assert (small_n, large_n) == (3, 30)
    # the product, count, reviews with their authors, their photos.
    assert small == large == 4


def test_it_needs_a_login_to_review(api, product):
    response = api.post(URL, {"rating": 5}, format="json")

    assert response.status_code in (401, 403)
    assert not Review.objects.exists()


def test_it_saves_a_review_and_updates_the_products_rating(api_as, customer, stranger, product):
    first = api_as(customer).post(URL, {"rating": 5, "title": "Lovely", "body": "Pours well."}, format="json")
    second = api_as(stranger).post(URL, {"rating": 2}, format="json")

    assert first.status_code == 201, first.content
    assert first.json()["title"] == "Lovely"
    assert second.status_code == 201, second.content
    review = Review.objects.get(pk=first.json()["id"])
    assert (review.user, review.product, review.rating, review.body) == (customer, product, 5, "Pours well.")
    product.refresh_from_db()
    assert product.rating_count == 2
    assert product.rating_avg == Decimal("3.50")
    listed = api_as(customer).get("/api/v1/products/teapot/").json()
    # The plain mean, and the rating shown: the Bayesian average with the prior 3.0 weighing 10 reviews.
    assert (listed["rating_mean"], listed["rating"], listed["rating_count"]) == ("3.50", "3.08", 2)


def test_it_rounds_the_average_rating_to_two_places(api_as, product):
    for rating in (4, 3, 3):
        assert api_as(UserFactory()).post(URL, {"rating": rating}, format="json").status_code == 201

    product.refresh_from_db()
    assert product.rating_avg == Decimal("3.33")
    assert api_as(UserFactory()).get("/api/v1/products/teapot/").json()["rating_mean"] == "3.33"


def test_it_allows_one_review_per_customer_and_product(api_as, customer, product):
    client = api_as(customer)
    assert client.post(URL, {"rating": 5}, format="json").status_code == 201

    response = client.post(URL, {"rating": 1}, format="json")

    assert response.status_code == 409
    assert "already reviewed" in response.json()["detail"]
    assert list(Review.objects.values_list("rating", flat=True)) == [5]
    product.refresh_from_db()
    assert (product.rating_count, product.rating_avg) == (1, Decimal("5.00"))


@pytest.mark.parametrize("rating", [0, 6, -1, "five", None, 4.5])
def test_it_rejects_a_rating_outside_one_to_five(api_as, customer, product, rating):
    response = api_as(customer).post(URL, {"rating": rating}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"]["rating"][0]
    assert not Review.objects.exists()


def test_it_rejects_a_review_of_an_unknown_product(api_as, customer):
    response = api_as(customer).post("/api/v1/products/nope/reviews/", {"rating": 5}, format="json")

    assert response.status_code == 404
    assert not Review.objects.exists()


def test_it_ignores_an_author_or_product_sent_in_the_body(api_as, customer, stranger, product):
    other = ProductFactory(slug="kettle")

    response = api_as(customer).post(
        URL, {"rating": 4, "user": stranger.pk, "product": other.pk, "author": "Someone"}, format="json"
    )

    assert response.status_code == 201
    review = Review.objects.get()
    assert (review.user, review.product) == (customer, product)
