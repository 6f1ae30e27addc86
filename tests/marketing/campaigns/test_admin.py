import pytest
from django.core import mail
from django.urls import reverse

from marketing.campaigns.models import Campaign, Message
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def us_customers():
    return [customer(f"us{i}@example.org", country="US") for i in range(3)] + [
        customer("fr@example.org", country="FR", consents=())
    ]


def test_a_segments_page_shows_its_live_size_reach_and_a_sample(admin_client, us_customers):
    seg = segment("americans", rules=[("country", "is", "US")])

    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[seg.pk])).content.decode()

    assert "<strong>3</strong> customers now" in page
    assert "email: <strong>3</strong>" in page
    assert "us0@example.org" in page or "us1@example.org" in page
    assert "fr@example.org" not in page


def test_a_rule_that_cannot_be_read_is_refused_with_its_message(admin_client):
    data = {
        "name": "Bad",
        "key": "bad",
        "match": "all",
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-0-field": "order_count",
        "rules-0-operator": "gte",
        "rules-0-value": "lots",
        "rules-0-position": "0",
    }

    response = admin_client.post(reverse("admin:campaigns_segment_add"), data)

    assert response.status_code == 200
    assert "Enter a number" in response.content.decode()


def test_staff_send_a_campaign_from_its_page_and_see_the_results(
    admin_client, us_customers, django_capture_on_commit_callbacks
):
    c = campaign(segment())
    url = reverse("admin:campaigns_campaign_change", args=[c.pk])
    form = {
        "name": c.name,
        "channel": "email",
        "segment": c.segment_id,
        "attribution_days": 5,
        "ab_share": 20,
        "ab_wait_hours": 4,
        "ab_metric": "clicks",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "1",
        "variants-MIN_NUM_FORMS": "1",
        "variants-MAX_NUM_FORMS": "2",
        "variants-0-id": c.variants.get().pk,
        "variants-0-campaign": c.pk,
        "variants-0-key": "a",
        "variants-0-subject": "Hello {{ first_name }}",
        "variants-0-body_html": '<p><a href="/catalog/">Shop</a></p>',
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {**form, "_send": "Send now"})

    assert response.status_code == 302
    assert Campaign.objects.get().status == Campaign.Status.SENT
    assert len(mail.outbox) == 3
    page = admin_client.get(url).content.decode()
    assert "Opens are not reliable" in page
    assert '<table class="admin-figures-table">' in page  # the results as a table, not escaped text
    assert Message.objects.filter(status="sent").count() == 3


def test_the_preview_shows_the_message_as_the_chosen_customer(admin_client, us_customers):
    c = campaign(segment())
    who = us_customers[1]

    response = admin_client.get(reverse("admin:campaigns_campaign_preview", args=[c.pk, "a"]) + f"?customer={who.pk}")

    assert response.status_code == 200
    assert f"Spring is here, {who.first_name}." in response.content.decode()
    assert "'unsafe-inline'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_customers_cannot_reach_the_campaigns_admin(client, us_customers):
    client.force_login(us_customers[0])

    response = client.get(reverse("admin:campaigns_campaign_changelist"))

    assert response.status_code == 302


@pytest.mark.parametrize("page", ["campaign", "message", "segment"])
def test_the_admin_lists_cost_the_same_queries_for_2_and_12_campaigns(admin_client, us_customers, page):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse(f"admin:campaigns_{page}_changelist")

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries)

    def more(n: int):
        for _ in range(n):
            c = campaign(segment(f"seg{Campaign.objects.count()}"))
            for user in us_customers[:3]:
                Message.objects.create(campaign=c, user=user, channel="email", status="sent")

    more(2)
    few = cost()
    more(10)

    assert cost() == few
