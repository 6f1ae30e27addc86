"""Sending under real concurrency: workers in their own threads and database connections.

Marked `race`: skipped on SQLite, which serialises transactions; CI runs them on PostgreSQL:
    .ci/with-postgres.sh .venv/bin/pytest tests/marketing/campaigns/test_races.py -p no:xdist --require-races
"""

import time

import pytest
from django.core import mail
from django.utils import timezone

from marketing.campaigns import services
from marketing.campaigns.models import Campaign, Message
from tests.concurrency import run_at_once
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


@pytest.fixture(autouse=True)
def _workers_only(monkeypatch):
    """Listing queues batches on commit (at once, in these tests): here the threads are the workers."""
    from marketing.campaigns import tasks

    monkeypatch.setattr(tasks.send_batch, "delay", lambda **kwargs: None)


def listed(c):
    Campaign.objects.filter(pk=c.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    services.campaign_list_chunk(campaign_id=c.pk)


def test_two_workers_sending_the_same_batch_send_each_message_once():
    for i in range(6):
        customer(f"r{i}@example.org")
    listed(campaign(segment()))
    ids = list(Message.objects.values_list("pk", flat=True))

    results = run_at_once([lambda: services.batch_send(message_ids=ids) for _ in range(4)])

    assert len(mail.outbox) == 6
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"r{i}@example.org" for i in range(6))
    assert sum(r.get("sent", 0) for r in results) == 6
    assert Message.objects.filter(status="sent").count() == 6


def test_two_campaigns_at_once_keep_to_the_customers_frequency_cap(settings, monkeypatch):
    settings.CAMPAIGNS_FREQUENCY_CAP = (1, 72)
    checks = services._not_allowed

    def slow_checks(message):  # both claims are made before either counts: the lock must order them
        time.sleep(0.3)
        return checks(message)

    monkeypatch.setattr(services, "_not_allowed", slow_checks)
    who = customer("capped@example.org")
    campaigns = [campaign(segment(f"s{i}"), name=f"C{i}") for i in range(2)]
    for c in campaigns:
        listed(c)
    ids = [Message.objects.get(campaign=c, user=who).pk for c in campaigns]

    outcomes = run_at_once([lambda pk=pk: services.message_send(message_id=pk) for pk in ids])

    assert sorted(outcomes) == ["deferred", "sent"]
    assert len(mail.outbox) == 1
