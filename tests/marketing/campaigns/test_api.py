import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from marketing.campaigns import services
from shop.accounts.models import Consent
from tests.factories import UserFactory
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db
CONSENT = "/api/v1/marketing/consent/"


def test_it_shows_every_channel_unticked_until_given(api_as, customer):
    body = api_as(customer).get(CONSENT).json()

    assert [(c["channel"], c["given"]) for c in body["channels"]] == [
        ("email", False),
        ("sms", False),
        ("push", False),
        ("onsite", False),
    ]
    assert body["history"] == []


def test_it_records_a_channels_answer_with_its_history(api_as, customer):
    client = api_as(customer)

    given = client.post(CONSENT, {"channel": "onsite", "given": True}, format="json")
    client.post(CONSENT, {"channel": "onsite", "given": False}, format="json")
    body = client.get(CONSENT).json()

    assert given.status_code == 200
    assert Consent.objects.get(user=customer, channel="onsite").given is False
    assert [(h["given"], h["source"]) for h in body["history"]] == [(False, "api"), (True, "api")]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"channel": "fax", "given": True}, "channel"),
        ({"channel": "email"}, "given"),
        ({"channel": "sms", "given": True}, "given"),
    ],
)
def test_it_refuses_bad_answers_with_a_message(api_as, customer, data, field):
    response = api_as(customer).post(CONSENT, data, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][field]
    assert not Consent.objects.filter(user=customer).exists()


def test_anonymous_clients_cannot_read_consent(api):
    assert api.get(CONSENT).status_code == 401


def test_campaign_results_need_the_view_permission(api_as, django_capture_on_commit_callbacks):
    customer("ada@example.org")
    c = campaign(segment())
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_start(campaign=c)
    url = reverse("api:campaign-detail", args=[c.pk])
    clerk = UserFactory(email="clerk@example.org", is_staff=True)

    assert api_as(UserFactory(email="shopper@example.org")).get(url).status_code == 403
    assert api_as(clerk).get(url).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    clerk = type(clerk).objects.get(pk=clerk.pk)
    body = api_as(clerk).get(url).json()

    assert body["status"] == "sent"
    assert body["results"][0]["sent"] == 1 and body["results"][0]["variant"] == "a"
