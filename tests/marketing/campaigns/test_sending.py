import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from marketing.campaigns import services
from marketing.campaigns.models import Campaign, Message, Suppression
from marketing.discounts.models import DiscountCode, Promotion
from shop.core.errors import Conflict
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def audience():
    return [customer(f"c{i}@example.org", country="US") for i in range(5)] + [
        customer("quiet@example.org", consents=(), country="US")
    ]


def start(c, django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=c, **kwargs)
    c.refresh_from_db()
    return c


def test_it_sends_once_to_each_consenting_member_with_one_click_unsubscribe(
    audience, django_capture_on_commit_callbacks
):
    c = start(campaign(segment()), django_capture_on_commit_callbacks)

    assert c.status == Campaign.Status.SENT
    assert sorted(m.to[0] for m in mail.outbox) == [f"c{i}@example.org" for i in range(5)]
    email = next(m for m in mail.outbox if m.to == ["c0@example.org"])
    assert email.subject == "Hello C0"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://[^>]+/m/u/[^>]+/>", email.extra_headers["List-Unsubscribe"])
    html = email.alternatives[0][0]
    assert "/m/c/" in html and 'href="/catalog/"' not in html  # links are tracked
    assert "/m/o/" in html  # the open pixel
    assert "Unsubscribe" in email.body
    assert not Message.objects.filter(user__email="quiet@example.org").exists()


def test_listing_and_sending_twice_sends_nothing_twice(audience, django_capture_on_commit_callbacks):
    c = start(campaign(segment()), django_capture_on_commit_callbacks)
    ids = list(Message.objects.values_list("pk", flat=True))

    Campaign.objects.filter(pk=c.pk).update(cursor=0, listed_at=None, status=Campaign.Status.SENDING)
    services.campaign_list_chunk(campaign_id=c.pk)
    services.batch_send(message_ids=ids)
    services.batch_send(message_ids=ids)

    assert len(mail.outbox) == 5
    assert Message.objects.count() == 5


def test_a_suppressed_address_is_never_sent_to(audience, django_capture_on_commit_callbacks):
    Suppression.objects.create(channel="email", address="c1@example.org", reason="bounced")

    start(campaign(segment()), django_capture_on_commit_callbacks)

    assert "c1@example.org" not in [m.to[0] for m in mail.outbox]
    assert Message.objects.get(user__email="c1@example.org").skip_reason == "suppressed"


def test_consent_withdrawn_after_listing_stops_the_message(audience, django_capture_on_commit_callbacks):
    from shop.accounts.services import consent_set

    c = campaign(segment())
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)
    consent_set(user=audience[2], channel="email", given=False, source="profile")

    services.batch_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    assert Message.objects.get(user=audience[2]).skip_reason == "no consent"
    assert len(mail.outbox) == 4


def test_the_frequency_cap_moves_a_message_later(audience, settings):
    settings.CAMPAIGNS_FREQUENCY_CAP = (2, 72)
    first, second, third = (
        campaign(segment(f"s{i}", rules=[("city", "is", "Portland")]), name=f"C{i}") for i in range(3)
    )
    for c in (first, second, third):
        Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
        services.campaign_list_chunk(campaign_id=c.pk)
    now = timezone.now()
    who = audience[0]
    outcomes = [
        services.message_send(message_id=Message.objects.get(campaign=c, user=who).pk, now=now)
        for c in (first, second, third)
    ]

    assert outcomes == ["sent", "sent", "deferred"]
    held = Message.objects.get(campaign=third, user=who)
    assert held.status == Message.Status.QUEUED
    assert held.send_after > now + dt.timedelta(hours=71)


def test_quiet_hours_hold_text_messages_until_morning(settings):
    settings.TIME_ZONE = "UTC"
    settings.CAMPAIGNS_QUIET_HOURS = (21, 8)
    who = customer("sms@example.org", consents=("sms",), phone="+14155550100")
    c = campaign(segment(), channel="sms")
    c.variants.update(body_text="20% off today, {{ first_name }}")
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)
    # Tomorrow at 23:30: after the message was listed (a fixed date passed the test only before it).
    late = (timezone.now() + dt.timedelta(days=1)).replace(hour=23, minute=30, second=0, microsecond=0)

    outcome = services.message_send(message_id=Message.objects.get(user=who).pk, now=late)

    assert outcome == "deferred"
    morning = (late + dt.timedelta(days=1)).replace(hour=8, minute=0)
    assert Message.objects.get(user=who).send_after == morning


def test_a_paused_campaign_sends_nothing_until_resumed(audience, django_capture_on_commit_callbacks):
    c = campaign(segment())
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)
    c.refresh_from_db()
    services.campaign_pause(campaign=c)

    services.batch_send(message_ids=list(Message.objects.values_list("pk", flat=True)))
    assert mail.outbox == []
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 5

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_resume(campaign=c)
    assert len(mail.outbox) == 5
    c.refresh_from_db()
    assert c.status == Campaign.Status.SENT


def test_a_message_interrupted_while_sending_is_never_sent_again(audience):
    c = campaign(segment())
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)
    lost = Message.objects.first()
    Message.objects.filter(pk=lost.pk).update(status=Message.Status.SENDING, claimed_until=timezone.now())

    services.messages_sweep(now=timezone.now() + dt.timedelta(minutes=1))

    lost.refresh_from_db()
    assert lost.status == Message.Status.FAILED
    assert services.message_send(message_id=lost.pk) == "not due or taken"


def test_a_campaign_cannot_start_without_content_or_twice(audience, django_capture_on_commit_callbacks):
    c = campaign(segment())
    c.variants.update(body_html="")
    with pytest.raises(Conflict, match="needs a subject and an HTML body"):
        services.campaign_start(campaign=c)

    c.variants.update(body_html="<p>Hi</p>")
    start(c, django_capture_on_commit_callbacks)
    with pytest.raises(Conflict, match="already started"):
        services.campaign_start(campaign=c)


def test_a_campaign_scheduled_later_starts_when_due(audience, django_capture_on_commit_callbacks):
    later = timezone.now() + dt.timedelta(hours=2)
    c = start(campaign(segment()), django_capture_on_commit_callbacks, at=later)
    assert c.status == Campaign.Status.SCHEDULED and mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert services.campaigns_due(now=later + dt.timedelta(minutes=1)) == [c.pk]
    assert len(mail.outbox) == 5


def test_each_recipient_gets_an_own_single_use_code(audience, django_capture_on_commit_callbacks):
    promotion = Promotion.objects.create(name="VIP 15%", kind="percent", value=15, requires_code=True)
    c = campaign(segment(), promotion_id=promotion.pk)
    c.variants.update(body_html="<p>Your code: {{ code }}</p>")

    start(c, django_capture_on_commit_callbacks)

    codes = list(Message.objects.values_list("code", flat=True))
    assert len(set(codes)) == 5 and all(codes)
    assert DiscountCode.objects.filter(code__in=codes, max_uses=1, promotion=promotion).count() == 5
    for email in mail.outbox:
        code = Message.objects.get(user__email=email.to[0]).code
        assert code in email.alternatives[0][0]


def test_a_text_message_campaign_goes_to_consenting_numbers_with_a_tracked_link(django_capture_on_commit_callbacks):
    from marketing.campaigns.channels import sms

    customer("t1@example.org", consents=("sms",), phone="+14155550101")
    customer("t2@example.org", consents=("email",), phone="+14155550102")  # no SMS consent
    c = campaign(segment(), channel="sms")
    c.variants.update(body_text="{{ first_name }}: 20% off today.", url="/catalog/")
    c.variants.get().save()  # the link is stored with the content

    start(c, django_capture_on_commit_callbacks)

    assert [m["to"] for m in sms.outbox] == ["+14155550101"]
    assert sms.outbox[0]["text"] == "T1: 20% off today."
    assert Message.objects.get().provider_id == sms.outbox[0]["id"]


def test_a_push_goes_to_each_live_browser_and_a_dropped_one_is_forgotten(
    django_capture_on_commit_callbacks, monkeypatch
):
    from marketing.campaigns.channels import ChannelError, push
    from marketing.campaigns.models import PushSubscription

    who = customer("p@example.org", consents=("push",))
    live = PushSubscription.objects.create(user=who, endpoint="https://fcm.googleapis.com/a", p256dh="k", auth="a")
    dropped = PushSubscription.objects.create(user=who, endpoint="https://fcm.googleapis.com/b", p256dh="k", auth="a")
    send = push.LocmemBackend.send

    def refuse_dropped(self, *, subscription, payload):
        if subscription.pk == dropped.pk:
            raise ChannelError("410 Gone", permanent=True)
        return send(self, subscription=subscription, payload=payload)

    monkeypatch.setattr(push.LocmemBackend, "send", refuse_dropped)
    c = campaign(segment(), channel="push")
    c.variants.update(subject="New in", body_text="Hello {{ first_name }}", url="/catalog/")
    c.variants.get().save()

    start(c, django_capture_on_commit_callbacks)

    assert [n["endpoint"] for n in push.outbox] == [live.endpoint]
    payload = push.outbox[0]["payload"]
    assert (payload["title"], payload["body"]) == ("New in", "Hello P")
    assert "/m/c/" in payload["url"]
    dropped.refresh_from_db()
    assert dropped.gone_at is not None
    assert Message.objects.get().status == Message.Status.SENT


def test_a_message_can_show_the_customers_recommended_products(
    audience, django_capture_on_commit_callbacks, monkeypatch
):
    from marketing.recommendations import selectors as picks
    from tests.factories import ProductFactory

    shirt = ProductFactory(name="Linen shirt", price="39.00", stock=5)
    monkeypatch.setattr(picks, "for_customer", lambda *, user, size: [shirt])
    c = campaign(segment())
    c.variants.update(
        body_html="<p>Picked for you:</p>{% for p in products %}<p><a href='{{ p.url }}'>{{ p.name }}</a> "
        "{{ p.price }}</p>{% endfor %}"
    )

    start(c, django_capture_on_commit_callbacks)

    assert set(Message.objects.values_list("status", "last_error")) == {("sent", "")}
    html = mail.outbox[0].alternatives[0][0]
    assert "Linen shirt" in html and "$39.00" in html
    assert "utm_source=bazaar&amp;utm_medium=email&amp;utm_campaign=spring-sale" in html


def test_one_message_that_cannot_be_rendered_waits_and_the_batch_goes_on(audience, monkeypatch):
    from marketing.campaigns import render

    c = campaign(segment())
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)
    real = render.render

    def broken_for_c2(*, user, **kwargs):
        if user.email == "c2@example.org":
            raise ValueError("a bug")
        return real(user=user, **kwargs)

    monkeypatch.setattr(render, "render", broken_for_c2)

    outcomes = services.batch_send(message_ids=list(Message.objects.values_list("pk", flat=True)))

    assert outcomes == {"sent": 4, "retry": 1}
    waiting = Message.objects.get(user__email="c2@example.org")
    assert (waiting.status, waiting.last_error) == (Message.Status.QUEUED, "ValueError: a bug")


def test_a_batch_costs_a_fixed_number_of_statements_per_message():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(30):
        customer(f"b{i}@example.org")
    c = campaign(segment())
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)
    ids = list(Message.objects.order_by("pk").values_list("pk", flat=True))

    def cost(batch) -> int:
        with CaptureQueriesContext(connection) as queries:
            services.batch_send(message_ids=batch)
        return len(queries)

    five, twenty_five = cost(ids[:5]), cost(ids[5:])
    # Per message, 10: the transaction's two ends, the claim, its row, consent, suppression, the
    # customer's lock, the cap (2), sent. Per batch, at most 5: the content, closing the campaign.
    assert five <= 5 * 10 + 5
    assert twenty_five <= 25 * 10 + 5
