import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from marketing.campaigns import services, tracking
from marketing.campaigns.models import Campaign, Click, Message
from shop.accounts.models import Consent, ConsentChange
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    ada = customer("ada@example.org")
    customer("bo@example.org")
    c = campaign(segment())
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=c)
    message = Message.objects.get(user=ada)
    html = next(m for m in mail.outbox if m.to == ["ada@example.org"]).alternatives[0][0]
    return message, html


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_a_click_goes_to_the_stored_link_with_the_campaign_named(client, sent, settings):
    message, html = sent
    click = path_of(re.search(r'href="([^"]+/m/c/[^"]+/0/)"', html).group(1))

    response = client.get(click)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{settings.SHOP_SITE_URL}/catalog/?utm_source=bazaar&utm_medium=email")
    message.refresh_from_db()
    assert message.clicked_at is not None and message.opened_at is not None
    assert Click.objects.filter(message=message, link=0).count() == 1
    client.get(click)
    assert Click.objects.filter(message=message).count() == 1  # unique clicks per link


def test_an_outside_link_keeps_its_own_query_and_gets_no_campaign_tags(client, sent):
    message, _html = sent

    response = client.get(path_of(tracking.click_url(message.pk, 1)))

    assert response["Location"] == "https://example.org/blog?x=1&y=2"


@pytest.mark.parametrize("link", [2, 99])
def test_a_link_the_message_does_not_have_is_not_followed(client, sent, link):
    message, _html = sent

    response = client.get(path_of(tracking.click_url(message.pk, link)))

    assert response.status_code == 404
    assert not Click.objects.exists()


def test_a_forged_or_borrowed_token_leads_nowhere(client, sent):
    message, _html = sent
    other = Message.objects.exclude(pk=message.pk).get()
    forged = tracking.click_url(message.pk, 0).replace(f"/m/c/{message.pk}:", f"/m/c/{other.pk}:")
    an_open_as_a_click = f"/m/c/{tracking.token(message.pk, 'open')}/0/"

    assert client.get(path_of(forged)).status_code == 404
    assert client.get(an_open_as_a_click).status_code == 404
    assert client.get(f"/m/u/{tracking.token(message.pk, 'click')}/").status_code == 404


def test_the_open_pixel_records_the_first_open_and_answers_the_same_to_anyone(client, sent):
    message, html = sent
    pixel = path_of(re.search(r'src="([^"]+/m/o/[^"]+)"', html).group(1))

    good = client.get(pixel)
    bad = client.get("/m/o/123:nonsense.gif")

    assert good.status_code == bad.status_code == 200
    assert good["Content-Type"] == "image/gif" and good.content == bad.content
    message.refresh_from_db()
    assert message.opened_at is not None


def test_unsubscribe_asks_first_then_withdraws_consent_with_the_evidence(client, sent):
    message, _html = sent
    url = path_of(tracking.unsubscribe_url(message.pk))

    page = client.get(url)
    assert page.status_code == 200 and Consent.objects.get(user=message.user, channel="email").given is True

    done = Client(enforce_csrf_checks=True).post(url)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    assert Consent.objects.get(user=message.user, channel="email").given is False
    change = ConsentChange.objects.filter(user=message.user).order_by("-id").first()
    assert (change.given, change.source) == (False, "unsubscribe")
    assert "Spring sale" in change.wording
    message.refresh_from_db()
    assert message.unsubscribed_at is not None


def test_a_mail_apps_one_click_post_unsubscribes_without_a_page(sent):
    message, _html = sent

    response = Client(enforce_csrf_checks=True).post(
        path_of(tracking.unsubscribe_url(message.pk)), {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 204
    assert Consent.objects.get(user=message.user, channel="email").given is False


def test_the_preferences_page_changes_each_channel_without_a_login(client, sent):
    message, _html = sent
    url = path_of(tracking.preferences_url(message.pk))

    page = client.get(url)
    assert page.status_code == 200 and "ada@example.org" in page.content.decode()
    client.post(url, {"email": "on", "onsite": "on"})

    given = dict(Consent.objects.filter(user=message.user).values_list("channel", "given"))
    assert given == {"email": True, "onsite": True}
    assert ConsentChange.objects.filter(user=message.user, source="preferences").count() == 1


def test_an_order_paid_after_a_click_is_credited_once_to_the_campaign(client, sent):
    from shop.orders.signals import order_paid
    from tests.factories import OrderFactory

    message, _html = sent
    client.get(path_of(tracking.click_url(message.pk, 0)))
    order = OrderFactory(
        user=message.user, total="80.00", subtotal="80.00", placed_at=timezone.now(), paid_at=timezone.now()
    )

    order_paid.send(sender=None, order_id=order.pk, user_id=message.user.pk)
    order_paid.send(sender=None, order_id=order.pk, user_id=message.user.pk)

    figures = services.variant_figures(Campaign.objects.get())
    assert figures["a"]["orders"] == 1
    assert str(figures["a"]["revenue"]) == "80.00"


def test_the_data_export_lists_messages_and_erasure_forgets_the_browsers(client, sent):
    from marketing.campaigns.models import PushSubscription
    from shop.accounts import privacy

    message, _html = sent
    client.get(path_of(tracking.click_url(message.pk, 0)))
    PushSubscription.objects.create(
        user=message.user, endpoint="https://push.example.org/abc", p256dh="k", auth="a", user_agent="Firefox"
    )

    exported = privacy.customer_data_export(user=message.user)["sections"]["marketing_messages"]["data"]
    assert exported["messages"][0]["of"] == "Spring sale"
    assert exported["messages"][0]["clicked_at"] is not None
    assert exported["notification_browsers"][0]["user_agent"] == "Firefox"

    privacy.customer_erase(user=message.user, requested_by="self")
    assert not PushSubscription.objects.exists()
    assert not Consent.objects.filter(user=message.user, given=True).exists()


def test_an_unsubscribed_and_suppressed_customer_still_gets_their_order_emails(
    client, sent, django_capture_on_commit_callbacks
):
    from shop.orders import services as order_services
    from tests.factories import OrderFactory

    message, _html = sent
    Client(enforce_csrf_checks=True).post(path_of(tracking.unsubscribe_url(message.pk)))
    services.suppress(channel="email", address=message.user.email, reason="complained")
    mail.outbox.clear()
    order = OrderFactory(user=message.user, status="pending_payment", placed_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_mark_paid(order_id=order.pk, amount=order.total_money, reference="pi_test")

    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert order.number in mail.outbox[0].subject


@pytest.mark.parametrize(("event", "reason"), [("bounced", "bounced"), ("complained", "complained")])
def test_the_email_services_bounces_and_complaints_fill_the_suppression_list(sent, event, reason):
    from anymail.signals import AnymailTrackingEvent
    from anymail.signals import tracking as anymail_tracking

    from marketing.campaigns.models import Suppression

    message, _html = sent
    Message.objects.filter(pk=message.pk).update(provider_id="esp-123")
    report = AnymailTrackingEvent(
        event_type=event, message_id="esp-123", recipient="Ada@Example.org", description="550 mailbox unavailable"
    )

    anymail_tracking.send(sender=object, event=report, esp_name="Postmark")

    row = Suppression.objects.get(channel="email", address="ada@example.org")
    assert row.reason == reason and "550" in row.detail
    message.refresh_from_db()
    assert message.status == ("bounced" if event == "bounced" else "sent")
