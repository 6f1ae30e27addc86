"""Browser tests: Playwright drives a real Chromium against pytest-django's live server.

Playwright cannot download its own browsers on these machines, so the browser is
found here: $CHROMIUM_PATH, else Debian's /usr/bin/chromium or
/usr/bin/chromium-browser, else a browser `playwright install` put in place.
"""

import os
import re
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium_executable(playwright) -> str | None:
    """The Chromium to launch; None means Playwright's own installed browser."""
    from_env = os.environ.get("CHROMIUM_PATH", "").strip()
    if from_env:
        if not Path(from_env).is_file():
            pytest.fail(f"CHROMIUM_PATH={from_env!r} is not a file. Point it at a Chromium binary.", pytrace=False)
        return from_env
    for candidate in SYSTEM_CHROMIUMS:
        if Path(candidate).is_file():
            return candidate
    if Path(playwright.chromium.executable_path).is_file():
        return None
    pytest.fail(
        "No Chromium found for the browser tests. Install one with `apt-get install chromium` "
        "(or set CHROMIUM_PATH to a Chromium binary, or run `playwright install chromium` where downloads work).",
        pytrace=False,
    )


# pytest-playwright keeps one Playwright for the whole session. Its sync API
# leaves an asyncio loop marked as running in the main thread from start() to
# stop(), and while it is, Django refuses ORM calls unless DJANGO_ALLOW_ASYNC_UNSAFE
# is set. So the browser machinery lives only as long as this package's tests,
# and the variable is set exactly for that time: it must not leak into the rest
# of the suite (`manage.py check --deploy` fails on it, in tests that run it).


@pytest.fixture(scope="package")
def playwright():
    saved = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()
        if saved is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = saved


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def browser_type_launch_args(browser_type_launch_args, playwright):
    """pytest-playwright's options (--headed, --slowmo...), with the Chromium found here."""
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    executable = _chromium_executable(playwright)
    if executable:
        args["executable_path"] = executable
    return args


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(playwright, device, live_server):
    return {
        **(playwright.devices[device] if device else {}),
        "base_url": live_server.url,
        "viewport": {"width": 1280, "height": 900},
        "locale": "en-US",
    }


@pytest.fixture
def page(page):
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(15_000)
    return page


@pytest.fixture(autouse=True)
def _live_server_settles(transactional_db, live_server):
    """After a browser test, let the live server finish what the closing pages sent (the
    analytics beacon goes out when a page is hidden) before this test's rows are flushed.
    Otherwise a late beacon is handled while the next test runs on this worker, into its
    database and with its settings (an analytics test counting events saw one too many)."""
    yield
    time.sleep(0.2)  # a beacon sent as the contexts closed reaches the server
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name for thread in threading.enumerate()
    ):
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _serve_test_media(settings):
    """Serve uploads from this test's MEDIA_ROOT.

    config/urls.py binds the media view's document_root when the URLconf is
    first imported; tests/conftest.py gives every test its own MEDIA_ROOT, so
    point the view at it for the duration of the test.
    """
    from django.urls import get_resolver

    patterns = [
        p for p in get_resolver().url_patterns if getattr(p, "default_args", {}).get("document_root") is not None
    ]
    if not patterns:
        pytest.fail("The URLconf serves no media: browser tests need SERVE_MEDIA=1 (the default when DEBUG is on).")
    saved = [p.default_args["document_root"] for p in patterns]
    for p in patterns:
        p.default_args["document_root"] = settings.MEDIA_ROOT
    yield
    for p, root in zip(patterns, saved, strict=True):
        p.default_args["document_root"] = root


@pytest.fixture
def shot(page):
    """shot("search") saves test-artifacts/e2e/NN-search.png (NN counts up per test) and returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str) -> Path:
        page.wait_for_load_state("networkidle")
        path = ARTIFACTS / f"{next(counter):02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.hookimpl(tryfirst=True)  # before `-m "not e2e"` deselects
def pytest_collection_modifyitems(items):
    """Every test in this folder drives the browser: it is marked e2e whether or not its module says so,
    so that `make test-postgres` (-m "not e2e") leaves all of them to `make test`, as it means to."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
