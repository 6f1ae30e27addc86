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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_server():
    """A real localstripe on loopback for this test process; its base URL."""
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    port = _free_port()
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "localstripe", "--port", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("localstripe did not start (is the localstripe package installed?)") from None
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def localstripe(localstripe_server, settings):
    """Point the store's Stripe client at localstripe, with no objects left from other tests."""
    import urllib.request

    settings.STRIPE_API_BASE = localstripe_server
    settings.STRIPE_SECRET_KEY = "sk_test_localstripe"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    request = urllib.request.Request(f"{localstripe_server}/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=5).read()
    return localstripe_server


@pytest.fixture
def sign_stripe_event(settings):
    """sign_stripe_event(payload: dict) -> (body bytes, Stripe-Signature header), as Stripe signs webhooks."""
    import hashlib
    import hmac
    import json
    import time

    def sign(payload: dict, secret: str | None = None):
        body = json.dumps(payload)
        timestamp = int(time.time())
        signature = hmac.new(
            (secret or settings.STRIPE_WEBHOOK_SECRET).encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
        ).hexdigest()
        return body.encode(), f"t={timestamp},v1={signature}"

    return sign
