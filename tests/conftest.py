import pytest
from rest_framework.test import APIClient

from tests.factories import ProductImageFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Off by default, so that query-count tests measure a real render; tests of the
    # cache itself turn it on (tests/shop/catalog/test_page_cache.py).
    settings.SHOP_PAGE_CACHE_SECONDS = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


PASSWORD = "correct horse battery"


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def customer(db):
    """The owner persona."""
    return UserFactory(email="owner@example.org")


@pytest.fixture
def stranger(db):
    """Another customer, who must never see the owner's things."""
    return UserFactory(email="stranger@example.org")


@pytest.fixture
def staff(db):
    return StaffFactory(email="staff@example.org")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as():
    """api_as(user) -> an APIClient authenticated with that user's token."""
    from rest_framework.authtoken.models import Token

    def make(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def product_with_image(db):
    return ProductImageFactory().product
