"""Web push: the backends (console, outbox, the Web Push protocol with the push service mocked at
its HTTP call), the VAPID keys and the start-up that refuses them missing, and the service
functions behind the account page's button."""

import io
import json

import http_ece
import pytest
import requests
import responses
from django.core.management import call_command
from py_vapid import Vapid

from marketing.campaigns.channels import ChannelError, get_backend, push
from marketing.campaigns.channels.vapid import generate_keys, public_key_of
from marketing.campaigns.models import PushSubscription
from marketing.campaigns.push import PUSH_BUTTON_WORDING, push_subscribe, push_subscription_gone, push_unsubscribe
from shop.accounts.models import Consent, ConsentChange
from shop.core.errors import ShopError
from tests.marketing.campaigns.channel_helpers import start
from tests.marketing.campaigns.push_helpers import ENDPOINT, Browser

WEBPUSH = "marketing.campaigns.channels.push.WebPushBackend"
PAYLOAD = {"title": "Summer sale", "body": "20% off sandals", "url": "/category/shoes/"}


@pytest.fixture
def keys():
    return generate_keys()


@pytest.fixture
def webpush(settings, keys):
    public, private = keys
    settings.CAMPAIGNS_PUSH_BACKEND = WEBPUSH
    settings.CAMPAIGNS_VAPID_PUBLIC_KEY = public
    settings.CAMPAIGNS_VAPID_PRIVATE_KEY = private
    settings.CAMPAIGNS_VAPID_SUBJECT = "mailto:shop@example.com"
    with responses.RequestsMock() as mock:  # no request leaves the machine: one that is not mocked fails
        yield mock


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture
def subscription(customer, browser):
    return PushSubscription.objects.create(
        user=customer, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth
    )


def send(subscription, payload=PAYLOAD):
    return get_backend("CAMPAIGNS_PUSH_BACKEND").send(subscription=subscription, payload=payload)


# -- the console and the outbox -------------------------------------------------------------------


def test_it_prints_the_notification_on_the_console(subscription):
    stream = io.StringIO()

    message_id = push.ConsoleBackend(stream=stream).send(subscription=subscription, payload=PAYLOAD)

    printed = stream.getvalue()
    assert f"Push to {ENDPOINT} (id {message_id})" in printed
    assert json.dumps(PAYLOAD, separators=(",", ":")) in printed


def test_it_keeps_notifications_in_the_outbox_in_tests(subscription):
    message_id = send(subscription)

    assert push.outbox == [{"endpoint": ENDPOINT, "payload": PAYLOAD, "id": message_id}]


def test_it_refuses_a_notification_too_long_for_a_push_message_but_not_for_good(subscription):
    with pytest.raises(ChannelError) as error:
        send(subscription, {**PAYLOAD, "body": "x" * 4000})

    assert not error.value.permanent
    assert push.outbox == []


# -- the Web Push protocol ------------------------------------------------------------------------


def test_it_sends_the_notification_encrypted_for_the_browser_and_signed_with_the_stores_key(
    webpush, subscription, browser, keys
):
    webpush.post(ENDPOINT, status=201, headers={"Location": "https://fcm.googleapis.com/fcm/send/msg/0:1"})

    message_id = send(subscription)

    assert message_id == "https://fcm.googleapis.com/fcm/send/msg/0:1"
    request = webpush.calls[0].request
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["TTL"] == str(24 * 3600)
    assert request.headers["Urgency"] == "normal"
    # Only the browser can read it...
    assert b"Summer sale" not in request.body
    plain = http_ece.decrypt(request.body, private_key=browser.private_key, auth_secret=browser.secret)
    assert json.loads(plain) == PAYLOAD
    # ...and the push service can check it comes from the holder of the store's key.
    assert request.headers["Authorization"].startswith("vapid t=")
    assert f"k={keys[0]}" in request.headers["Authorization"]
    assert Vapid.verify(request.headers["Authorization"])


@pytest.mark.parametrize("status", [404, 410])
def test_it_says_a_subscription_the_push_service_no_longer_knows_is_gone_for_good(webpush, subscription, status):
    webpush.post(ENDPOINT, status=status, body="push subscription has unsubscribed or expired.")

    with pytest.raises(ChannelError) as error:
        send(subscription)

    assert error.value.permanent
    assert error.value.code == str(status)


@pytest.mark.parametrize("status", [400, 403, 413, 429, 500, 503])
def test_it_says_other_refusals_may_be_retried(webpush, subscription, status):
    webpush.post(ENDPOINT, status=status)

    with pytest.raises(ChannelError) as error:
        send(subscription)

    assert not error.value.permanent


@pytest.mark.parametrize("failure", [requests.ConnectTimeout(), requests.ReadTimeout(), requests.ConnectionError()])
def test_it_says_a_timeout_may_be_retried(webpush, subscription, failure):
    webpush.post(ENDPOINT, body=failure)

    with pytest.raises(ChannelError) as error:
        send(subscription)

    assert not error.value.permanent
    assert error.value.code == "network"


def test_it_says_a_subscription_whose_keys_cannot_encrypt_is_gone_for_good(webpush, subscription):
    subscription.p256dh = "BA" + "A" * 85  # 65 bytes, not a point on the curve

    with pytest.raises(ChannelError) as error:
        send(subscription)

    assert error.value.permanent
    assert len(webpush.calls) == 0


# -- VAPID keys and the start-up ------------------------------------------------------------------


def test_it_prints_a_new_key_pair_to_put_in_the_environment():
    out, err = io.StringIO(), io.StringIO()

    call_command("vapid_keys", stdout=out, stderr=err)

    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert set(lines) == {"CAMPAIGNS_VAPID_PUBLIC_KEY", "CAMPAIGNS_VAPID_PRIVATE_KEY"}
    assert public_key_of(lines["CAMPAIGNS_VAPID_PRIVATE_KEY"]) == lines["CAMPAIGNS_VAPID_PUBLIC_KEY"]
    assert len(lines["CAMPAIGNS_VAPID_PUBLIC_KEY"]) == 87  # 65 bytes: what browsers take as applicationServerKey
    assert "secret" in err.getvalue()


@pytest.mark.parametrize(
    "missing", ["CAMPAIGNS_VAPID_PUBLIC_KEY", "CAMPAIGNS_VAPID_PRIVATE_KEY", "CAMPAIGNS_VAPID_SUBJECT"]
)
def test_it_refuses_to_start_with_web_push_and_a_key_missing(keys, missing):
    settings_ = {
        "CAMPAIGNS_VAPID_PUBLIC_KEY": keys[0],
        "CAMPAIGNS_VAPID_PRIVATE_KEY": keys[1],
        "CAMPAIGNS_VAPID_SUBJECT": "mailto:shop@example.com",
    }
    result = start(CAMPAIGNS_PUSH_BACKEND=WEBPUSH, **{**settings_, missing: None})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CAMPAIGNS_VAPID_PUBLIC_KEY": generate_keys()[0]}, "is not the public key of"),
        ({"CAMPAIGNS_VAPID_PRIVATE_KEY": "not-a-key"}, "is not a VAPID private key"),
        ({"CAMPAIGNS_VAPID_SUBJECT": "shop@example.com"}, "must be a contact for push services"),
    ],
    ids=["keys-of-two-pairs", "not-a-key", "subject-not-a-contact"],
)
def test_it_refuses_to_start_with_keys_that_cannot_work(keys, change, message):
    result = start(
        CAMPAIGNS_PUSH_BACKEND=WEBPUSH,
        **{
            "CAMPAIGNS_VAPID_PUBLIC_KEY": keys[0],
            "CAMPAIGNS_VAPID_PRIVATE_KEY": keys[1],
            "CAMPAIGNS_VAPID_SUBJECT": "mailto:shop@example.com",
            **change,
        },
    )

    assert result.returncode != 0
    assert message in result.stderr


def test_it_starts_with_web_push_and_its_keys(keys):
    result = start(
        CAMPAIGNS_PUSH_BACKEND=WEBPUSH,
        CAMPAIGNS_VAPID_PUBLIC_KEY=keys[0],
        CAMPAIGNS_VAPID_PRIVATE_KEY=keys[1],
        CAMPAIGNS_VAPID_SUBJECT="mailto:shop@example.com",
    )

    assert result.returncode == 0, result.stderr


# -- the services behind the button ---------------------------------------------------------------


def subscribe(user, browser, **kwargs):
    return push_subscribe(
        **{"user": user, "endpoint": browser.endpoint, "p256dh": browser.p256dh, "auth": browser.auth, **kwargs}
    )


def test_it_records_the_browser_and_the_customers_consent_in_the_buttons_words(customer, browser):
    subscription = subscribe(customer, browser, user_agent="Mozilla/5.0 (Android 14)")

    subscription.refresh_from_db()
    assert (subscription.user, subscription.endpoint) == (customer, ENDPOINT)
    assert (subscription.p256dh, subscription.auth) == (browser.p256dh, browser.auth)
    assert subscription.user_agent == "Mozilla/5.0 (Android 14)"
    assert Consent.objects.get(user=customer, channel="push").given
    change = ConsentChange.objects.get(user=customer, channel="push")
    assert (change.given, change.source, change.wording) == (True, "profile", str(PUSH_BUTTON_WORDING))


def test_it_updates_the_same_browser_once_and_records_no_second_consent(customer, browser):
    first = subscribe(customer, browser)
    push_subscription_gone(subscription_id=first.pk)
    renewed = Browser(endpoint=browser.endpoint)

    again = subscribe(customer, renewed)

    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.p256dh, again.auth, again.gone_at) == (renewed.p256dh, renewed.auth, None)
    assert PushSubscription.objects.count() == 1
    assert ConsentChange.objects.filter(user=customer, channel="push").count() == 1


def test_it_moves_a_browser_to_the_account_that_turns_it_on(customer, stranger, browser):
    first = subscribe(customer, browser)

    moved = subscribe(stranger, browser)

    assert moved.pk == first.pk
    moved.refresh_from_db()
    assert moved.user == stranger
    assert moved.created_at > first.created_at
    assert not PushSubscription.objects.filter(user=customer).exists()
    assert Consent.objects.get(user=stranger, channel="push").given


def test_it_forgets_only_the_customers_own_browser_and_leaves_the_consent(customer, stranger, browser):
    subscribe(customer, browser)

    assert push_unsubscribe(user=stranger, endpoint=browser.endpoint) is False
    assert PushSubscription.objects.filter(user=customer).exists()

    assert push_unsubscribe(user=customer, endpoint=browser.endpoint) is True
    assert not PushSubscription.objects.exists()
    assert Consent.objects.get(user=customer, channel="push").given


def test_it_marks_a_subscription_gone_once(subscription):
    assert push_subscription_gone(subscription_id=subscription.pk) is True
    subscription.refresh_from_db()
    gone_at = subscription.gone_at

    assert push_subscription_gone(subscription_id=subscription.pk) is False
    subscription.refresh_from_db()
    assert gone_at is not None and subscription.gone_at == gone_at


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",  # not HTTPS
        "https://push.example.com/send/abc",  # not a push service
        "https://fcm.googleapis.com.example.com/send/abc",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/admin/",
        "https://fcm.googleapis.com:8443/fcm/send/abc",
        "https://user:pass@fcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com/fcm/send/" + "a" * 500,
        "",
        None,
        ["https://fcm.googleapis.com/fcm/send/abc"],
    ],
)
def test_it_refuses_an_endpoint_that_is_not_a_push_service(customer, browser, endpoint):
    with pytest.raises(ShopError) as error:
        subscribe(customer, browser, endpoint=endpoint)

    assert error.value.field == "endpoint"
    assert not PushSubscription.objects.exists()
    assert not Consent.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p256dh", "BA" + "A" * 85),  # 65 bytes, not on the curve
        ("p256dh", "AAAA"),
        ("p256dh", "not base64!"),
        ("p256dh", None),
        ("auth", "c2hvcnQ"),  # 5 bytes
        ("auth", "A" * 300),
        ("auth", 16),
    ],
)
def test_it_refuses_keys_that_cannot_encrypt(customer, browser, field, value):
    with pytest.raises(ShopError) as error:
        subscribe(customer, browser, **{field: value})

    assert error.value.field == field
    assert not PushSubscription.objects.exists()
