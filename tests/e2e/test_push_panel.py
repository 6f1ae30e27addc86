"""The installable store and its notifications in Chromium, on a phone: the service worker
registers, the account page's panel shows, turning notifications on and off reaches the store,
and a pushed message becomes a notification that links to this site only. The browser's push
service is replaced by a stand-in (no network here; DevTools delivers the pushed message):
the permission, the worker, the panel's script and the store's answers are real."""

import json
import re
import time

import pytest
from playwright.sync_api import Page, expect

from marketing.campaigns.channels.vapid import generate_keys
from marketing.campaigns.models import PushSubscription
from marketing.campaigns.push import PUSH_BUTTON_WORDING
from shop.accounts.models import Consent, ConsentChange
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.marketing.campaigns.push_helpers import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

# Stands in for the browser's push service: subscribe() answers at once with this subscription,
# as Chromium would after asking Google's servers.
FAKE_PUSH_SERVICE = """
(() => {
  const fake = %s;
  let current = null;
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
  PushManager.prototype.subscribe = function (options) {
    current = {
      endpoint: fake.endpoint,
      options: { userVisibleOnly: true, applicationServerKey: new Uint8Array(options.applicationServerKey).buffer },
      toJSON: () => fake,
      unsubscribe: () => { current = null; return Promise.resolve(true); },
    };
    return Promise.resolve(current);
  };
})();
"""


@pytest.fixture
def shopper(settings):
    settings.CAMPAIGNS_VAPID_PUBLIC_KEY = generate_keys()[0]
    return UserFactory(email="ada@example.org", first_name="Ada")


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors and uncaught exceptions on the pages visited."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


def log_in(page: Page) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_the_account_page_offers_notifications_and_the_worker_registers_on_a_phone(page: Page, shopper, problems):
    page.set_viewport_size(PHONE)
    log_in(page)

    page.goto("/account/")

    panel = page.get_by_role("region", name="Notifications")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("button", name=str(PUSH_BUTTON_WORDING))).to_be_visible()
    expect(panel.get_by_role("button", name="Turn off in this browser")).to_be_hidden()
    expect(panel.get_by_text("This browser cannot show")).to_be_hidden()
    worker = page.evaluate("navigator.serviceWorker.ready.then((r) => [r.active.scriptURL, r.scope])")
    assert worker == [f"{page.url.split('/account/')[0]}/sw.js", f"{page.url.split('/account/')[0]}/"]
    manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json())")
    assert manifest["display"] == "standalone"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert problems == []


def test_a_customer_turns_notifications_on_and_off_in_this_browser(page: Page, shopper, problems, shot):
    browser = Browser()
    page.context.grant_permissions(["notifications"])
    page.add_init_script(FAKE_PUSH_SERVICE % json.dumps(browser.json()))
    page.set_viewport_size(PHONE)
    log_in(page)
    page.goto("/account/")
    panel = page.get_by_role("region", name="Notifications")

    panel.get_by_role("button", name=str(PUSH_BUTTON_WORDING)).click()

    expect(panel.get_by_role("status")).to_have_text("Notifications are on in this browser.")
    expect(panel.get_by_role("button", name="Turn off in this browser")).to_be_visible()
    panel.scroll_into_view_if_needed()
    shot("notifications on, on a phone")
    subscription = PushSubscription.objects.get()
    assert (subscription.user, subscription.endpoint, subscription.auth) == (shopper, browser.endpoint, browser.auth)
    assert "Chrome" in subscription.user_agent
    change = ConsentChange.objects.get(user=shopper, channel="push")
    assert (change.given, change.wording) == (True, str(PUSH_BUTTON_WORDING))

    panel.get_by_role("button", name="Turn off in this browser").click()

    expect(panel.get_by_role("status")).to_have_text("Notifications are off in this browser.")
    expect(panel.get_by_role("button", name=str(PUSH_BUTTON_WORDING))).to_be_visible()
    assert not PushSubscription.objects.exists()
    assert Consent.objects.get(user=shopper, channel="push").given  # the consent is the profile's to change
    assert problems == []


def test_the_panel_says_so_when_notifications_are_blocked(page: Page, shopper, problems):
    page.context.clear_permissions()
    page.add_init_script(
        "Object.defineProperty(Notification, 'permission', { get: () => 'denied' });"
        "Notification.requestPermission = () => Promise.resolve('denied');"
    )
    log_in(page)
    page.goto("/account/")
    panel = page.get_by_role("region", name="Notifications")

    panel.get_by_role("button", name=str(PUSH_BUTTON_WORDING)).click()

    expect(panel.get_by_role("status")).to_contain_text("Notifications are blocked for this store")
    assert not PushSubscription.objects.exists()
    assert problems == []


def test_the_worker_shows_a_pushed_notification_with_a_link_on_this_site_only(page: Page, problems):
    page.context.grant_permissions(["notifications"])
    page.goto("/")
    origin = page.evaluate("location.origin")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    devtools = page.context.new_cdp_session(page)
    registrations: list[str] = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]),
    )
    devtools.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert registrations

    def push(message: dict) -> dict:
        """Delivers `message` as the push service would; the notification the worker showed for it."""
        devtools.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registrations[-1], "data": json.dumps(message)},
        )
        find = """(body) => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((list) => {
                      const n = list.find((each) => each.body === body);
                      return n && {title: n.title, body: n.body, icon: n.icon, url: n.data.url};
                    })"""
        # Polled here: wait_for_function would take the promise itself for a truthy answer.
        deadline = time.monotonic() + 10
        while (shown := page.evaluate(find, message["body"])) is None and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        return shown

    assert push({"title": "Summer sale", "body": "20% off sandals", "url": "/category/shoes/?from=push"}) == {
        "title": "Summer sale",
        "body": "20% off sandals",
        "icon": f"{origin}/static/shop/icons/icon-192.png",
        "url": f"{origin}/category/shoes/?from=push",
    }
    elsewhere = push(
        {"body": "Click me", "url": "https://elsewhere.example/steal", "icon": "https://elsewhere.example/i.png"}
    )
    assert elsewhere == {
        "title": "Bazaar",
        "body": "Click me",
        "icon": f"{origin}/static/shop/icons/icon-192.png",
        "url": f"{origin}/",
    }
    assert problems == []
