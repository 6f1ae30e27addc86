import datetime as dt

import pytest
from django.utils import timezone

from marketing.campaigns import services, stats
from marketing.campaigns.models import Campaign, Message
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd():
    return [customer(f"p{i}@example.org") for i in range(400)]


def run_test_phase(c):
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.TESTING, started_at=timezone.now())
    while services.campaign_list_chunk(campaign_id=c.pk):
        pass
    services.batch_send(message_ids=list(Message.objects.filter(campaign=c).values_list("pk", flat=True)))


def test_the_test_share_is_split_at_random_and_the_same_for_each_recipient(crowd, settings):
    settings.CAMPAIGNS_LIST_CHUNK = 150  # several chunks
    c = campaign(segment(), ab="subject", ab_share=50)

    run_test_phase(c)

    variants = dict(Message.objects.filter(campaign=c).values_list("user_id", "variant"))
    expected = {u.pk: stats.assign_variant(key=str(u.pk), seed=f"campaign:{c.pk}", test_share=50) for u in crowd}
    assert variants == {pk: v for pk, v in expected.items() if v}
    assert 150 <= len(variants) <= 250  # about half of 400


def test_the_winner_by_click_rate_goes_to_the_rest(crowd, django_capture_on_commit_callbacks):
    c = campaign(segment(), ab="subject", ab_share=60, ab_wait_hours=4)
    run_test_phase(c)
    # B's recipients click a lot more than A's.
    for variant, share in (("a", 10), ("b", 2)):
        ids = list(Message.objects.filter(campaign=c, variant=variant).values_list("pk", flat=True))
        Message.objects.filter(pk__in=ids[::share]).update(clicked_at=timezone.now())
    tested = Message.objects.filter(campaign=c).count()

    assert services.ab_decide(campaign=c) is None  # still waiting
    with django_capture_on_commit_callbacks(execute=True):
        decision = services.ab_decide(campaign=c, now=timezone.now() + dt.timedelta(hours=5))

    assert decision["winner"] == "b" and decision["reason"] == "significant"
    c.refresh_from_db()
    assert c.status == Campaign.Status.SENT and c.ab_winner == "b"
    rest = Message.objects.filter(campaign=c).count() - tested
    assert rest > 0 and rest + tested == 400
    assert set(Message.objects.filter(campaign=c).order_by("-pk").values_list("variant", flat=True)[:rest]) == {"b"}
    figures = services.variant_figures(c)
    assert set(figures) == {"a", "b", "rest"}  # the test's figures stay apart from the rest's
    assert figures["rest"]["listed"] == rest
    assert services.ab_comparison(c).winner == "b"  # decided on the test share only, however the rest does


def test_an_inconclusive_test_says_so_and_sends_a_to_the_rest(crowd, django_capture_on_commit_callbacks):
    c = campaign(segment(), ab="content", ab_share=30, ab_wait_hours=0)
    run_test_phase(c)
    for variant in ("a", "b"):
        ids = list(Message.objects.filter(campaign=c, variant=variant).values_list("pk", flat=True))
        Message.objects.filter(pk__in=ids[::8]).update(clicked_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        decision = services.ab_decide(campaign=c, now=timezone.now() + dt.timedelta(minutes=1))

    assert decision["winner"] == ""
    assert decision["reason"] in ("not significant", "sample too small")
    assert decision["verdict"]
    c.refresh_from_db()
    assert c.ab_winner == "" and c.status == Campaign.Status.SENT
    assert Message.objects.filter(campaign=c, variant="b").count() < 100
