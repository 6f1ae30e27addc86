"""The reviews' part of an erasure: stars and words stay, the name and the pictures go."""

import pytest
from django.core.files.storage import default_storage

from shop.accounts.privacy import customer_erase
from shop.catalog import services
from shop.catalog.models import Product, Review, ReviewPhoto, ReviewReport
from shop.catalog.privacy import ReviewData
from tests.factories import ProductFactory, UserFactory
from tests.marketing.adboard.helpers import photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(customer):
    customer.first_name, customer.last_name = "Olive", "Owner"
    customer.save()
    product = ProductFactory()
    return services.review_create(
        product=product, user=customer, rating=5, title="Lovely", body="Warm.", photos=[photo()]
    )


def test_it_keeps_the_review_and_the_products_rating(review, customer):
    customer_erase(user=customer, requested_by="self")

    kept = Review.objects.get(pk=review.pk)
    assert (kept.rating, kept.title, kept.body, kept.status) == (5, "Lovely", "Warm.", "published")
    assert Product.objects.get(pk=review.product_id).rating_count == 1


def test_it_deletes_the_pictures_and_their_files(review, customer, django_capture_on_commit_callbacks):
    files = [name for p in review.photos.all() for name in (p.image.name, p.thumbnail.name)]
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(user=customer, requested_by="self")

    assert not ReviewPhoto.objects.filter(review=review).exists()
    assert not any(default_storage.exists(name) for name in files)


def test_it_shows_the_review_without_a_name(review, customer, client, settings, django_capture_on_commit_callbacks):
    settings.SHOP_PAGE_CACHE_SECONDS = 300  # the product page is cached with the author's name on it
    assert "Olive" in client.get(review.product.get_absolute_url()).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(user=customer, requested_by="self")

    api = client.get(f"/api/v1/products/{review.product.slug}/reviews/").json()
    page = client.get(review.product.get_absolute_url()).content.decode()

    assert api["results"][0]["author"] == "—"
    assert "Olive" not in page and "Lovely" in page


def test_it_blanks_the_comments_on_reports(customer):
    other = services.review_create(product=ProductFactory(), user=UserFactory(), rating=1, title="Bad")
    services.review_report(review=other, user=customer, reason="spam", comment="Written by Olive's rival")

    customer_erase(user=customer, requested_by="self")

    report = ReviewReport.objects.get(user=customer)
    assert (report.reason, report.comment) == ("spam", "")


def test_it_exports_the_customers_reviews(review, customer):
    services.review_create(product=ProductFactory(), user=UserFactory(), rating=2, title="Not mine")

    exported = ReviewData().export(customer)

    assert [r["title"] for r in exported["reviews"]] == ["Lovely"]
    assert len(exported["reviews"][0]["photos"]) == 1
