"""The board's emails (marketing/adboard/emails.py): each kind builds with a text and an HTML part and never
shows another member's address; each is sent once, retried after a failure, found again by the sweep,
and a saved-search email whose ads all left the board is not sent."""

import datetime as dt
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from marketing.adboard import emails, services, tasks
from marketing.adboard.models import Ad, Notice
from tests.marketing.adboard.helpers import make_ad, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller():
    return make_member(email="seller.private@example.org", first_name="Sofia")


@pytest.fixture
def buyer():
    return make_member(email="buyer.private@example.org", first_name="Bruno")


def parts(message: EmailMultiAlternatives) -> tuple[str, str]:
    html = next(content for content, kind in message.alternatives if kind == "text/html")
    return message.body, html


def test_a_new_message_email_shows_an_excerpt_and_a_link_but_no_address(seller, buyer):
    ad = make_ad(owner=seller, title="Oak dining table & 4 chairs", category_slug="furniture")
    services.contact(ad, buyer, "Hello! Is the table still there? I'm at buyer.private@example.org")
    notice = Notice.objects.get(kind=Notice.Kind.MESSAGE)
    message = emails.build(notice)
    text, html = parts(message)
    assert message.to == ["seller.private@example.org"]
    assert message.subject == "New message about “Oak dining table & 4 chairs”"
    assert "Is the table still there?" in text and "Is the table still there?" in html
    assert "Oak dining table & 4 chairs" in text  # the text part is not HTML-escaped
    assert f"/ads/messages/{notice.data['conversation']}/" in text
    # The buyer typed their address into the message; the email shows only the start of it, not the header.
    assert "buyer.private@example.org" not in message.subject
    assert "seller.private@example.org" not in text + html


def test_a_hidden_message_is_not_quoted(seller, buyer):
    ad = make_ad(owner=seller, category_slug="furniture")
    message = services.contact(ad, buyer, "Rude words here")
    services.message_hide(message, hidden=True)
    text, html = parts(emails.build(Notice.objects.get(kind=Notice.Kind.MESSAGE)))
    assert "Rude words" not in text + html


def test_the_decision_emails_say_what_to_do(seller):
    ad = make_ad(owner=seller, status="pending", title="Road bike, 56 cm", category_slug="bicycles")
    services.ad_reject(ad, reason="Show the bike itself, not a catalogue picture.")
    rejected = emails.build(Notice.objects.get(kind=Notice.Kind.REJECTED))
    text, html = parts(rejected)
    assert rejected.subject == "Your ad “Road bike, 56 cm” needs a change"
    assert "Show the bike itself, not a catalogue picture." in text and "catalogue picture" in html
    assert "/ads/mine/" in text

    ad = services.ad_update(ad, seller, title="Road bike, 56 cm frame")
    services.ad_approve(ad)
    published = emails.build(Notice.objects.get(kind=Notice.Kind.PUBLISHED))
    text, html = parts(published)
    assert published.subject == "Your ad “Road bike, 56 cm frame” is published"
    assert "$100.00" in text and "$100.00" in html
    assert ad.get_absolute_url() in text and "Hello Sofia," in text


def test_the_expiry_reminder_names_the_day(seller):
    ad = make_ad(owner=seller, category_slug="furniture")
    Ad.objects.filter(pk=ad.pk).update(expires_at=timezone.now() + dt.timedelta(days=2))
    assert services.ads_remind() == 1
    reminder = emails.build(Notice.objects.get(kind=Notice.Kind.EXPIRY))
    text, html = parts(reminder)
    assert reminder.subject.endswith("expires soon")
    assert "leaves the board on" in text and "Renew" in html


def test_a_saved_search_email_lists_the_ads_still_on_the_board(seller, buyer):
    shown = make_ad(owner=seller, title="Green velvet sofa", category_slug="furniture")
    gone = make_ad(owner=seller, title="Blue sofa bed", category_slug="furniture")
    services.ad_mark_sold(gone, seller)
    notice = Notice.objects.create(
        kind=Notice.Kind.SAVED_SEARCH,
        key="search:test",
        user=buyer,
        data={"search": 1, "name": "sofa", "ads": [shown.pk, gone.pk]},
    )
    message = emails.build(notice)
    text, html = parts(message)
    assert message.subject == "New ads for your search “sofa”"
    assert "Green velvet sofa" in text and "Green velvet sofa" in html
    assert "Blue sofa bed" not in text + html
    assert "A new ad matches your search “sofa”" in text
    assert "seller.private@example.org" not in text + html


def test_it_sends_a_notice_once(seller, buyer):
    ad = make_ad(owner=seller, category_slug="furniture")
    services.contact(ad, buyer, "Still there?")
    notice = Notice.objects.get(kind=Notice.Kind.MESSAGE)
    mail.outbox.clear()
    assert tasks.send_notice.apply(kwargs={"notice_id": notice.pk}).get() is True
    assert tasks.send_notice.apply(kwargs={"notice_id": notice.pk}).get() is False
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [seller.email]
    notice.refresh_from_db()
    assert notice.sent_at is not None and notice.attempts == 1


def test_a_failure_is_retried_and_the_sweep_sends_it(seller, monkeypatch):
    ad = make_ad(owner=seller, status="pending", category_slug="furniture")
    services.ad_approve(ad)
    notice = Notice.objects.get(kind=Notice.Kind.PUBLISHED)
    mail.outbox.clear()

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("the mail server went away")

    with monkeypatch.context() as patch:
        patch.setattr(EmailMultiAlternatives, "send", refuse)
        tasks.send_notice.apply(kwargs={"notice_id": notice.pk})
    notice.refresh_from_db()
    assert notice.sent_at is None and notice.attempts == 1 and notice.claimed_until > timezone.now()  # resting
    assert "went away" in notice.last_error
    assert mail.outbox == []

    # The sweep looks at rows older than two minutes whose task never got through, once their rest is over.
    Notice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    assert tasks.send_pending_notices() == 0
    Notice.objects.filter(pk=notice.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert tasks.send_pending_notices() == 1
    notice.refresh_from_db()
    assert notice.sent_at is not None
    assert len(mail.outbox) == 1
    assert tasks.send_pending_notices() == 0


def test_a_saved_search_email_whose_ads_all_left_is_not_sent(seller, buyer):
    ad = make_ad(owner=seller, category_slug="furniture")
    notice = Notice.objects.create(
        kind=Notice.Kind.SAVED_SEARCH, key="search:gone", user=buyer, data={"search": 1, "name": "x", "ads": [ad.pk]}
    )
    services.ad_delete(ad, seller)
    mail.outbox.clear()
    assert tasks.send_notice.apply(kwargs={"notice_id": notice.pk}).get() is False
    assert mail.outbox == []
    notice.refresh_from_db()
    assert notice.sent_at is not None and notice.last_error == "nothing left to send"
