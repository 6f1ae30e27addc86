import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F, Max
from django.test import RequestFactory

from shop.accounts.models import Address, Profile, User
from shop.catalog.demo import customer_tastes, leaf_slugs
from shop.catalog.models import Category, Product, ProductImage, Review

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Category, Product, ProductImage, User, Profile, Address, Review)
    }


@pytest.fixture(scope="module")
def seeded(demo_store):
    """The demo store seeded, then seeded again (tests/conftest.py: shared with other modules, rolled back)."""
    return {
        "first": demo_store["first"][__name__],
        "second": demo_store["second"][__name__],
        "output": demo_store["output"],
        "media": demo_store["media"],
    }


def test_it_builds_a_category_tree(seeded):
    assert Category.objects.count() >= 8
    assert Category.objects.aggregate(deepest=Max("depth"))["deepest"] >= 2
    for category in Category.objects.exclude(parent=None).select_related("parent"):
        assert category.path == f"{category.parent.path}/{category.slug}"


def test_it_creates_200_products_in_leaf_categories_with_images(seeded):
    assert Product.objects.count() == 200
    leaves = set(leaf_slugs())
    assert set(Product.objects.values_list("category__slug", flat=True)) <= leaves
    assert not Product.objects.annotate(n=Count("images")).filter(n=0).exists()
    assert not ProductImage.objects.filter(alt_text="").exists()
    assert not Product.objects.filter(compare_at_price__lte=F("price")).exists()
    assert all((seeded["media"] / image.image.name).exists() for image in ProductImage.objects.all()[:5])


def test_it_creates_500_customers_with_profiles(seeded):
    customers = User.objects.filter(email__endswith="@example.net")
    assert customers.count() == 500
    assert Profile.objects.filter(user__in=customers).count() == 500
    assert not customers.filter(is_staff=True).exists()


def test_it_creates_the_known_accounts(seeded):
    # Every authenticate() passes the request: the login lockout (django-axes) needs it.
    admin = authenticate(RequestFactory().post("/"), username="admin@example.com", password="admin")
    shopper = authenticate(RequestFactory().post("/"), username="shopper@example.com", password="shopper")

    assert admin is not None and admin.is_staff and admin.is_superuser
    assert shopper is not None and not shopper.is_staff
    assert shopper.addresses.filter(is_default=True).count() == 1


def test_it_keeps_product_ratings_in_step_with_reviews(seeded):
    reviewed = Product.objects.filter(rating_count__gt=0).first()
    assert reviewed is not None
    assert reviewed.rating_count == reviewed.reviews.count()


def test_it_creates_nothing_new_when_run_again(seeded):
    assert seeded["second"] == seeded["first"]
    assert "Demo store ready." in seeded["output"]


def test_it_refuses_a_scale_out_of_range(db):
    before = counts()

    with pytest.raises(CommandError):
        call_command("seed_demo", scale=0, stdout=io.StringIO())
    assert counts() == before


def test_it_gives_each_customer_the_same_tastes_every_time():
    first = customer_tastes("ada.lovelace.7@example.net")

    assert customer_tastes("ada.lovelace.7@example.net") == first
    assert sum(weight for _slug, weight in first) == pytest.approx(1)
    assert {slug for slug, _weight in first} <= set(leaf_slugs())


def test_it_gives_different_customers_different_tastes():
    tastes = {tuple(customer_tastes(f"customer.{i}@example.net")) for i in range(50)}

    assert len(tastes) > 1
