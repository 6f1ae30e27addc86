"""Analytics' part of an erasure: events kept in the figures, no longer tied to the customer."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from marketing.analytics import recorder
from marketing.analytics.models import CustomerScore, Event, OrderVisit
from marketing.analytics.privacy import AnalyticsData
from shop.accounts.privacy import customer_erase
from tests.shop.accounts.privacy_helpers import _event_fields, order_for

pytestmark = pytest.mark.django_db


def score_for(user):
    today = timezone.localdate()
    return CustomerScore.objects.create(
        email=user.email, customer=user, first_day=today, last_day=today, orders=1, revenue=10,
        recency=0, r=5, f=1, m=1, segment="new", as_of=today,
    )  # fmt: skip


def test_it_detaches_the_customer_from_events_and_order_visits(customer, stranger):
    mine = Event.objects.create(**_event_fields("page_view", timezone.now(), customer=customer, path="/"))
    theirs = Event.objects.create(**_event_fields("page_view", timezone.now(), customer=stranger, path="/"))
    visit = OrderVisit.objects.create(order=order_for(customer), customer=customer)

    customer_erase(user=customer, requested_by="self")

    mine.refresh_from_db()
    assert (mine.customer_id, mine.name, mine.path) == (None, "page_view", "/")
    assert Event.objects.get(pk=theirs.pk).customer_id == stranger.pk
    visit.refresh_from_db()
    assert visit.customer_id is None


def test_it_deletes_the_customers_score(customer, stranger):
    score_for(customer)
    score_for(stranger)

    customer_erase(user=customer, requested_by="self")

    assert list(CustomerScore.objects.values_list("customer_id", flat=True)) == [stranger.pk]


def test_it_forgets_the_remembered_consent(customer):
    cache.set(recorder.consent_key(customer.pk), True)

    customer_erase(user=customer, requested_by="self")

    assert cache.get(recorder.consent_key(customer.pk)) is None


def test_it_exports_the_customers_events_and_score(customer, stranger):
    Event.objects.create(**_event_fields("view_item", timezone.now(), customer=customer))
    Event.objects.create(**_event_fields("view_item", timezone.now(), customer=stranger))
    score_for(customer)

    exported = AnalyticsData().export(customer)

    assert [event["name"] for event in exported["events"]] == ["view_item"]
    assert exported["score"]["segment"] == "new"
