import pytest
from rest_framework.test import APIClient

from tests import concurrency
from tests.factories import ProductImageFactory, StaffFactory, UserFactory

# Race tests (marked `race`, or using tests/concurrency.py) prove a lock only where two
# transactions can really interleave. SQLite in IMMEDIATE mode serialises every atomic
# block, so there they would pass even with the lock removed: they are skipped, saying why.
# CI runs them on PostgreSQL with --require-races, which fails the run unless all of them ran and passed.
RACE_SKIP_REASON = "SQLite serialises transactions; this race proves something only on PostgreSQL (make test-postgres)"


def pytest_addoption(parser):
    parser.addoption(
        "--require-races",
        action="store_true",
        help="Fail the run unless race tests ran on PostgreSQL and every one of them passed (CI).",
    )


def _database_vendor() -> str:
    from django.db import connection

    return connection.vendor


def pytest_configure(config):
    required = config.getoption("--require-races")
    if required and _database_vendor() != "postgresql":
        raise pytest.UsageError("--require-races needs PostgreSQL: run under .ci/with-postgres.sh (DATABASE_URL).")
    config.pluginmanager.register(RaceTally(required=required), "race-tally")


def pytest_collection_modifyitems(config, items):
    on_sqlite = _database_vendor() == "sqlite"
    for item in items:
        if getattr(getattr(item, "module", None), "run_at_once", None) is concurrency.run_at_once:
            item.add_marker(pytest.mark.race)  # a race test cannot forget its marker
        if on_sqlite and item.get_closest_marker("race"):
            item.add_marker(pytest.mark.skip(reason=RACE_SKIP_REASON))


class RaceTally:
    """Counts the race tests' outcomes in the main process (xdist workers send it their reports)."""

    def __init__(self, *, required: bool):
        self.required = required
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report):
        if "race" not in report.keywords:
            return
        if report.failed or report.skipped:
            self.outcomes[report.nodeid] = report.outcome
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def counts(self) -> dict[str, int]:
        values = list(self.outcomes.values())
        return {outcome: values.count(outcome) for outcome in ("passed", "skipped", "failed")}

    def missing(self) -> bool:
        """With --require-races: none ran, or one was skipped or failed."""
        passed = self.counts()["passed"]
        return self.required and (passed == 0 or passed != len(self.outcomes))

    def pytest_sessionfinish(self, session):
        if self.missing() and not hasattr(session.config, "workerinput"):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        counts = self.counts()
        if _database_vendor() == "sqlite":
            if counts["skipped"]:
                terminalreporter.write_line(f"{counts['skipped']} race tests skipped: {RACE_SKIP_REASON}.", yellow=True)
            return
        summary = f"race tests on {_database_vendor()}: " + ", ".join(f"{n} {k}" for k, n in counts.items())
        if self.missing():
            summary += " (--require-races: every race test must run and pass here)"
        terminalreporter.write_line(summary, red=self.missing(), green=not self.missing())


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Off by default, so that query-count tests measure a real render; tests of the
    # cache itself turn it on (tests/shop/catalog/test_page_cache.py).
    settings.SHOP_PAGE_CACHE_SECONDS = 0
    # Off by default too, so that query counts are the request's own (events are written after the
    # response); the analytics tests turn it on (tests/marketing/analytics).
    settings.ANALYTICS_RECORDING = False
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
