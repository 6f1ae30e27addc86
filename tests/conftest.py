import contextlib
import io

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
    config.pluginmanager.register(XdistGroups(), "xdist-groups")
    config.pluginmanager.register(AssistantSuiteSummary(), "assistant-suite-summary")


class AssistantSuiteSummary:
    """Prints the assistant utterance suite's accuracy, then the held-out sentences', at the end of
    the run (tests/marketing/assistant/test_suite.py records them as its "assistant-suite" and
    "assistant-held-out" properties). Under xdist the tests run in workers, whose reports carry
    their user_properties to the controller."""

    NAMES = ("assistant-suite", "assistant-held-out")

    def __init__(self):
        self.texts = {}

    def pytest_runtest_logreport(self, report):
        for name, value in getattr(report, "user_properties", ()):
            if name in self.NAMES:
                self.texts[name] = value

    def pytest_terminal_summary(self, terminalreporter):
        if not self.texts:
            return
        terminalreporter.write_sep("-", "assistant utterance suite")
        for name in self.NAMES:
            for line in self.texts.get(name, "").splitlines():
                terminalreporter.write_line(line)


class XdistGroups:
    """Keeps `--dist loadgroup` working: tests marked xdist_group("name") run in one process.

    pytest-xdist marks them by appending "@name" to the node id it sends the scheduler, but it writes a
    private attribute that pytest 9.2 no longer reads its node ids from, so every test was scheduled on
    its own and a group was spread over both processes. This copies xdist's id back once it has run.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        if not config.getoption("loadgroup", False):
            return
        from _pytest.nodeid import NodeId

        for item in items:
            grouped = getattr(item, "_nodeid", None)
            if isinstance(grouped, str) and "@" in grouped and item.nodeid != grouped:
                item._id = NodeId.parse(grouped)


# What gives a test the database: pytest-django's marker, or one of these fixtures.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
    "demo_store",
}


def _uses_the_database(item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool(names & DATABASE_FIXTURES)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group markers added here
def pytest_collection_modifyitems(config, items):
    on_sqlite = _database_vendor() == "sqlite"
    if _database_vendor() == "postgresql":
        # The suite runs on SQLite first (make test); here only what touches the database can show
        # anything new. A test without the database (pure logic, settings in child processes with
        # their own environment) is deselected rather than run a second time.
        without = [item for item in items if not _uses_the_database(item)]
        if without:
            config.hook.pytest_deselected(items=without)
            items[:] = [item for item in items if _uses_the_database(item)]
    _DEMO_STORE.collect(items)
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
    # No quiet hours unless a test sets them: what is sent never depends on the hour the suite runs.
    settings.CAMPAIGNS_QUIET_HOURS = (0, 0)
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


class DemoStore:
    """The whole demo store (`seed_demo` with settings.DEMO_SEEDERS), then `seed_demo` again, in one
    transaction that is rolled back: the `demo_store` fixture.

    Seeding takes tens of seconds and several modules read the same store, so a test process seeds it
    once for all of them. Those modules are one xdist group (added at collection), so they run one
    after another in one process; the store is rolled back as soon as the next test is in a module
    that does not share it, so no other test ever sees it. Each module's `counts()` (if it has one) is read after the
    first run and after the second, so that each can check the rerun added nothing it cares about.
    """

    GROUP = "demo-store"

    def __init__(self):
        self.modules: set = set()
        self._stack: contextlib.ExitStack | None = None
        self.data: dict | None = None

    def collect(self, items) -> None:
        self.modules = {item.module for item in items if "demo_store" in getattr(item, "fixturenames", ())}
        for item in items:
            if getattr(item, "module", None) in self.modules:
                item.add_marker(pytest.mark.xdist_group(self.GROUP))

    def open(self, django_db_blocker, tmp_path_factory) -> dict:
        if self.data is not None:
            return self.data
        media = tmp_path_factory.mktemp("demo-media")
        from django.core.management import call_command
        from django.db import transaction
        from django.test import override_settings

        counters = {
            m.__name__: m.counts for m in sorted(self.modules, key=lambda m: m.__name__) if hasattr(m, "counts")
        }
        stack = contextlib.ExitStack()
        # Opened before conftest's per-test settings, so the media folder, the fast password hasher
        # and a local cache are set here too.
        stack.enter_context(
            override_settings(
                MEDIA_ROOT=media,
                PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            )
        )
        stack.enter_context(django_db_blocker.unblock())
        stack.enter_context(transaction.atomic())
        stack.callback(transaction.set_rollback, True)  # runs before the atomic block exits
        self._stack = stack
        try:
            output = io.StringIO()
            call_command("seed_demo", stdout=output)
            first = {name: counts() for name, counts in counters.items()}
            again = io.StringIO()
            call_command("seed_demo", stdout=again)
            second = {name: counts() for name, counts in counters.items()}
        except BaseException:
            self.close()
            raise
        self.data = {
            "first": first,
            "second": second,
            "output": output.getvalue(),
            "again": again.getvalue(),
            "media": media,
        }
        return self.data

    def close(self) -> None:
        stack, self._stack, self.data = self._stack, None, None
        if stack is not None:
            stack.close()

    def done_before(self, nextitem) -> bool:
        return nextitem is None or getattr(nextitem, "module", None) not in self.modules


_DEMO_STORE = DemoStore()


def _flushes(item) -> bool:
    """Whether the test ran on a transactional database, which is flushed after it (a skipped
    test set no database up: nothing to put back, and no test database to put it in)."""
    ran = getattr(item, "funcargs", {})
    if "_django_db_helper" not in ran and "transactional_db" not in ran and "live_server" not in ran:
        return False
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    return transactional or bool({"transactional_db", "live_server"} & set(ran))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the test's own fixtures (and a module's, built on the store) are torn down first
    if _DEMO_STORE.done_before(nextitem):
        _DEMO_STORE.close()
    # After the last test the test database is gone: nothing to put back, and nowhere to.
    if nextitem is not None and _flushes(item):
        from pytest_django.plugin import blocking_manager_key

        from tests import starting_rows

        with item.config.stash[blocking_manager_key].unblock():
            starting_rows.restore()


@pytest.fixture(scope="module")
def demo_store(django_db_setup, django_db_blocker, tmp_path_factory) -> dict:
    """The seeded demo store (see DemoStore): "first" and "second" (each module's counts() after each
    run, by module name), "output" and "again" (the runs' output) and "media" (the images' folder)."""
    return _DEMO_STORE.open(django_db_blocker, tmp_path_factory)


@pytest.fixture(autouse=True)
def _channel_outboxes(settings):
    """SMS and push go to in-memory outboxes in tests, emptied for each (like Django's mail.outbox)."""
    from marketing.campaigns.channels import push, sms

    settings.CAMPAIGNS_SMS_BACKEND = "marketing.campaigns.channels.sms.LocmemBackend"
    settings.CAMPAIGNS_PUSH_BACKEND = "marketing.campaigns.channels.push.LocmemBackend"
    sms.outbox.clear()
    push.outbox.clear()
    yield
    sms.outbox.clear()
    push.outbox.clear()
