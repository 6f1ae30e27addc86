"""Turning notifications on and off over HTTP, and the account page's panel: login, CSRF, the
checks on what a browser sends, the per-account limit, and what the panel shows."""

import hashlib
import json

import pytest
from django.test import Client

from marketing.campaigns.channels.vapid import generate_keys
from marketing.campaigns.models import PushSubscription
from marketing.campaigns.push import PUSH_BUTTON_WORDING
from shop.accounts.models import Consent, ConsentChange
from tests.marketing.campaigns.push_helpers import Browser

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/marketing/push/subscribe/"
UNSUBSCRIBE = "/marketing/push/unsubscribe/"


def post(client, url, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **extra)


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture
def owner(client, customer):
    client.force_login(customer)
    return client


def test_it_turns_notifications_on_for_the_customer_logged_in(owner, customer, browser):
    response = post(owner, SUBSCRIBE, browser.json(), HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux)")

    assert response.status_code == 200
    assert response.json() == {"detail": "Notifications are on in this browser."}
    subscription = PushSubscription.objects.get()
    assert (subscription.user, subscription.endpoint, subscription.user_agent) == (
        customer,
        browser.endpoint,
        "Mozilla/5.0 (X11; Linux)",
    )
    change = ConsentChange.objects.get(user=customer, channel="push")
    assert (change.given, change.source, change.wording) == (True, "profile", str(PUSH_BUTTON_WORDING))


def test_it_asks_to_log_in_first(client, browser):
    response = post(client, SUBSCRIBE, browser.json())

    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"
    assert not PushSubscription.objects.exists()


def test_it_refuses_a_request_without_the_csrf_token(customer, browser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)

    response = post(client, SUBSCRIBE, browser.json())

    assert response.status_code == 403
    assert not PushSubscription.objects.exists()
    assert not Consent.objects.exists()


def test_it_takes_the_csrf_token_the_account_page_gives(customer, browser, settings):
    settings.CAMPAIGNS_VAPID_PUBLIC_KEY = generate_keys()[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    client.get("/account/")

    response = post(client, SUBSCRIBE, browser.json(), HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    assert response.status_code == 200
    assert PushSubscription.objects.filter(user=customer).exists()


def test_it_answers_only_posts(owner):
    assert owner.get(SUBSCRIBE).status_code == 405
    assert owner.get(UNSUBSCRIBE).status_code == 405


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ({"endpoint": "https://push.example.com/x", "keys": {"p256dh": "x", "auth": "y"}}, "endpoint"),
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "endpoint"),
        ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": "p256dh"}, "p256dh"),
        ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}, "p256dh"),
    ],
    ids=["not-json", "not-an-object", "not-a-push-service", "not-https", "keys-not-an-object", "short-key"],
)
def test_it_answers_400_with_a_message_to_bad_input(owner, body, field):
    response = post(owner, SUBSCRIBE, body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["detail"]
    if field:
        assert answer["errors"] == {field: [answer["detail"]]}
    assert not PushSubscription.objects.exists()
    assert not Consent.objects.exists()


def test_it_refuses_a_body_larger_than_a_subscription(owner, browser):
    response = post(owner, SUBSCRIBE, {**browser.json(), "padding": "x" * 5000})

    assert response.status_code == 413
    assert not PushSubscription.objects.exists()


def test_it_moves_a_browser_another_account_turned_on(owner, customer, stranger, browser):
    PushSubscription.objects.create(user=stranger, endpoint=browser.endpoint, p256dh=browser.p256dh, auth="x" * 22)

    response = post(owner, SUBSCRIBE, browser.json())

    assert response.status_code == 200
    subscription = PushSubscription.objects.get()
    assert (subscription.user, subscription.auth) == (customer, browser.auth)


def test_it_turns_off_this_browser_only_and_leaves_the_consent(owner, customer, browser):
    post(owner, SUBSCRIBE, browser.json())
    other = Browser(endpoint=browser.endpoint + "-other")
    post(owner, SUBSCRIBE, other.json())

    response = post(owner, UNSUBSCRIBE, {"endpoint": browser.endpoint})

    assert response.status_code == 200
    assert response.json() == {"detail": "Notifications are off in this browser."}
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [other.endpoint]
    assert Consent.objects.get(user=customer, channel="push").given


def test_it_never_turns_off_another_accounts_browser(owner, stranger, browser):
    PushSubscription.objects.create(user=stranger, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)

    response = post(owner, UNSUBSCRIBE, {"endpoint": browser.endpoint})

    assert response.status_code == 200
    assert PushSubscription.objects.filter(user=stranger).exists()


def test_it_limits_changes_per_account(owner, customer, stranger, browser, settings):
    settings.CAMPAIGNS_PUSH_CHANGES_PER_ACCOUNT = (3, 3600)
    for _ in range(3):
        assert post(owner, SUBSCRIBE, browser.json()).status_code == 200

    response = post(owner, UNSUBSCRIBE, {"endpoint": browser.endpoint})

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert PushSubscription.objects.filter(user=customer).exists()
    # Counted per account: another customer is not held back.
    other = Client()
    other.force_login(stranger)
    assert post(other, SUBSCRIBE, Browser(endpoint=browser.endpoint + "-2").json()).status_code == 200


# -- the panel on the account page ----------------------------------------------------------------


def test_the_account_page_offers_notifications_when_the_store_has_a_key(owner, customer, browser, settings):
    public, _private = generate_keys()
    settings.CAMPAIGNS_VAPID_PUBLIC_KEY = public
    PushSubscription.objects.create(user=customer, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)

    page = owner.get("/account/").content.decode()

    assert 'class="account-panel push-panel"' in page
    assert f'data-key="{public}"' in page
    assert str(PUSH_BUTTON_WORDING) in page
    assert "Turn off in this browser" in page
    assert 'src="/static/campaigns/push.js"' in page
    assert hashlib.sha256(browser.endpoint.encode()).hexdigest()[:32] in page
    assert browser.endpoint not in page  # the browsers' addresses stay out of the page


def test_the_account_page_offers_no_notifications_without_a_key(owner, settings):
    settings.CAMPAIGNS_VAPID_PUBLIC_KEY = ""

    page = owner.get("/account/").content.decode()

    assert "push-panel" not in page
    assert "push.js" not in page
