"""The reviews API: photos, editing and deleting one's own, helpful votes, reports, what the author
alone sees, and the products' rating figures."""

import io

import pytest
from PIL import Image

from shop.catalog import services
from shop.catalog.models import Review, ReviewReport
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/products/teapot/reviews/"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.SHOP_REVIEWS_PREMODERATION = False
    settings.SHOP_RATING_PRIOR_MEAN = 4.0
    settings.SHOP_RATING_PRIOR_WEIGHT = 10


@pytest.fixture
def product():
    return ProductFactory(slug="teapot")


def jpeg(name="p.jpg") -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (300, 300), (10, 120, 200)).save(out, "JPEG")
    out.seek(0)
    out.name = name
    return out


def test_a_review_with_photos_is_created_from_a_multipart_form(api_as, customer, product):
    response = api_as(customer).post(
        URL, {"rating": 5, "title": "Pretty", "photos": [jpeg(), jpeg()]}, format="multipart"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["photos"]) == 2 and body["photos"][0]["thumbnail"].endswith("-thumb.jpg")
    assert (body["status"], body["verified"], body["helpful_count"]) == ("published", False, 0)


def test_a_file_that_is_not_a_picture_is_a_400_with_a_message(api_as, customer, product):
    fake = io.BytesIO(b"%PDF-1.4 not a picture")
    fake.name = "cat.jpg"

    response = api_as(customer).post(URL, {"rating": 5, "photos": [fake]}, format="multipart")

    assert response.status_code == 400
    assert "not a picture we can use" in response.json()["errors"]["photos"][0]
    assert not Review.objects.exists()


def test_too_many_photos_are_refused(api_as, customer, product):
    response = api_as(customer).post(URL, {"rating": 5, "photos": [jpeg() for _ in range(4)]}, format="multipart")

    assert response.status_code == 400
    assert "at most 3" in response.json()["errors"]["photos"][0]


def test_a_form_past_the_servers_file_limit_is_a_400_in_the_apis_shape(api_as, customer, product):
    # DATA_UPLOAD_MAX_NUMBER_FILES is 10: Django refuses the body while DRF parses it.
    response = api_as(customer).post(URL, {"rating": 5, "photos": [jpeg() for _ in range(11)]}, format="multipart")

    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert not Review.objects.exists()


def test_only_its_author_edits_or_deletes_a_review(api_as, customer, stranger, product):
    review = services.review_create(product=product, user=customer, rating=2)
    url = f"{URL}{review.pk}/"

    assert api_as(stranger).patch(url, {"rating": 5}, format="json").status_code == 403
    assert api_as(stranger).delete(url).status_code == 403
    edited = api_as(customer).patch(url, {"rating": 5, "title": "Grew on me"}, format="json")
    assert edited.status_code == 200 and edited.json()["rating"] == 5
    product.refresh_from_db()
    assert (product.rating_count, product.rating_sum) == (1, 5)
    assert api_as(customer).delete(url).status_code == 204
    assert not Review.objects.exists()


def test_the_author_alone_sees_the_state_of_a_pending_review(settings, api, api_as, customer, stranger, product):
    settings.SHOP_REVIEWS_PREMODERATION = True
    services.review_create(product=product, user=customer, rating=4)

    mine = api_as(customer).get(URL).json()["results"]
    assert [(r["status"], r["moderation_note"]) for r in mine] == [("pending", "")]
    assert api_as(stranger).get(URL).json()["count"] == 0
    assert api.get(URL).json()["count"] == 0


def test_a_member_votes_once_and_takes_it_back(api_as, customer, stranger, product):
    review = services.review_create(product=product, user=stranger, rating=4)
    url = f"{URL}{review.pk}/helpful/"

    assert api_as(customer).post(url).json() == {"helpful_count": 1, "voted": True}
    again = api_as(customer).post(url)
    assert again.status_code == 409 and "already" in again.json()["detail"]
    own = api_as(stranger).post(url)
    assert own.status_code == 400 and "own review" in own.json()["detail"]
    assert api_as(customer).delete(url).json() == {"helpful_count": 0, "voted": False}
    assert api_as(customer).delete(url).status_code == 404


def test_a_member_reports_once_with_a_reason(api, api_as, customer, stranger, product):
    review = services.review_create(product=product, user=stranger, rating=1)
    url = f"{URL}{review.pk}/report/"

    assert api.post(url, {"reason": "spam"}, format="json").status_code in (401, 403)
    assert api_as(customer).post(url, {"reason": "nonsense"}, format="json").status_code == 400
    created = api_as(customer).post(url, {"reason": "spam", "comment": "An advert"}, format="json")
    assert created.status_code == 201 and created.json()["reason"] == "spam"
    assert api_as(customer).post(url, {"reason": "fraud"}, format="json").status_code == 409
    assert ReviewReport.objects.count() == 1


def test_votes_are_throttled(settings, api_as, customer, product):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "review_votes": "2/hour"},
    }
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        reviews = [services.review_create(product=product, user=UserFactory(), rating=4) for _ in range(3)]
        client = api_as(customer)
        codes = [client.post(f"{URL}{r.pk}/helpful/").status_code for r in reviews]
    finally:
        from django.conf import settings as live

        SimpleRateThrottle.THROTTLE_RATES = live.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert codes == [200, 200, 429]


def test_products_show_the_bayesian_rating_its_count_and_distribution(api, product):
    for rating in (5, 5, 4, 1):
        services.review_create(product=product, user=UserFactory(), rating=rating)

    body = api.get("/api/v1/products/teapot/").json()

    assert (body["rating"], body["rating_mean"], body["rating_count"]) == ("3.93", "3.75", 4)
    assert [(row["stars"], row["count"]) for row in body["rating_distribution"]] == [
        (5, 2),
        (4, 1),
        (3, 0),
        (2, 0),
        (1, 1),
    ]
    listed = api.get("/api/v1/products/").json()["results"][0]
    assert listed["rating"] == "3.93" and listed["rating_distribution"][0]["count"] == 2
