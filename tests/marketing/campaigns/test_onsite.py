import pytest
from django.urls import reverse
from django.utils import timezone

from marketing.campaigns import services
from marketing.campaigns.models import Message
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(django_capture_on_commit_callbacks):
    ada = customer("ada@example.org", consents=("onsite",))
    customer("bo@example.org", consents=("email",))
    c = campaign(segment(), channel="onsite", name="Winter offer")
    c.variants.update(subject="Winter offer", body_text="20% off coats, {{ first_name }}.", url="/catalog/")
    c.variants.get().save()
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=c)
    return ada, Message.objects.get(user=ada)


def test_a_message_in_the_store_waits_on_the_account_page_and_counts_as_seen(client, note):
    ada, message = note
    client.force_login(ada)

    account = client.get(reverse("accounts:profile")).content.decode()

    assert "20% off coats, Ada." in account
    assert f"/m/c/{message.pk}:" in account  # its link is tracked
    message.refresh_from_db()
    assert message.opened_at is not None
    assert Message.objects.count() == 1  # only the consenting customer has one


def test_a_customer_dismisses_their_own_message_not_anothers(client, note):
    ada, message = note
    bo = customer("bo2@example.org")
    client.force_login(bo)
    client.post(reverse("campaigns:dismiss", args=[message.pk]))
    message.refresh_from_db()
    assert message.dismissed_at is None

    client.force_login(ada)
    response = client.post(reverse("campaigns:dismiss", args=[message.pk]), {"next": "https://evil.example/"})

    assert response["Location"] == "/account/"
    message.refresh_from_db()
    assert message.dismissed_at is not None
    assert "20% off coats" not in client.get(reverse("accounts:profile")).content.decode()


def test_dismissing_needs_a_login_and_a_post(client, note):
    _ada, message = note
    url = reverse("campaigns:dismiss", args=[message.pk])

    assert client.post(url).status_code == 302
    assert Message.objects.get().dismissed_at is None
    client.force_login(_ada)
    assert client.get(url).status_code == 405


def test_an_old_message_is_no_longer_shown(client, note):
    ada, message = note
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - timezone.timedelta(days=31))
    client.force_login(ada)

    assert "20% off coats" not in client.get(reverse("accounts:profile")).content.decode()
