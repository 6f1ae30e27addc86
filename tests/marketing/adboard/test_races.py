"""The board under real concurrency: threads, each on its own connection, released at once.

Marked `race`: skipped on SQLite (it serialises transactions); CI runs them on PostgreSQL:
    .ci/with-postgres.sh .venv/bin/pytest tests/marketing/adboard/test_races.py -p no:xdist --require-races
"""

import pytest
from django.db import connection
from django.test import override_settings

from marketing.adboard import services
from marketing.adboard.models import Ad, Member, Rating
from shop.core.errors import Conflict
from tests.concurrency import run_at_once
from tests.factories import UserFactory
from tests.marketing.adboard.test_services import post, published

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


def test_concurrent_ratings_keep_the_sellers_count_sum_and_score():
    ad = published()
    buyers = [UserFactory() for _ in range(12)]
    for buyer in buyers:
        services.contact(ad, buyer, "Is it still available?")
    stars = [5, 4, 3, 5, 1, 2, 5, 4, 4, 3, 5, 2]
    run_at_once(
        [lambda b=b, s=s: services.rating_set(ad.owner, b, stars=s) for b, s in zip(buyers, stars, strict=True)]
    )
    member = Member.objects.get(user=ad.owner)
    assert Rating.objects.filter(seller=ad.owner).count() == 12
    assert (member.rating_count, member.rating_sum) == (12, sum(stars))
    assert member.rating_score == services.bayesian(12, sum(stars)).quantize(member.rating_score)


def test_concurrent_edits_of_one_rating_leave_the_sum_of_the_last_one():
    ad = published()
    buyer = UserFactory()
    services.contact(ad, buyer, "Hello")
    services.rating_set(ad.owner, buyer, stars=3)
    run_at_once([lambda s=s: services.rating_set(ad.owner, buyer, stars=s) for s in (5, 5, 4, 5, 4, 5)])
    member = Member.objects.get(user=ad.owner)
    rating = Rating.objects.get(seller=ad.owner, rater=buyer)
    assert (member.rating_count, member.rating_sum) == (1, rating.stars)


@override_settings(ADBOARD_MAX_ACTIVE_ADS=3)
def test_posting_at_once_never_goes_past_the_quota():
    owner = UserFactory()
    services.member(owner)
    results = run_at_once(
        [lambda i=i: post(owner, title=f"Car {i}", description=f"Car number {i}.") for i in range(8)],
        exceptions_allowed=True,
    )
    refused = [r for r in results if isinstance(r, Conflict)]
    others = [r for r in results if isinstance(r, BaseException) and not isinstance(r, Conflict)]
    assert not others, others
    assert Ad.objects.filter(owner=owner).count() == 3 and len(refused) == 5


def test_a_moderators_decision_and_reports_crossing_the_threshold_settle_once():
    with override_settings(ADBOARD_REPORTS_TO_HIDE=1):
        ad = published()
        reporters = [UserFactory() for _ in range(4)]
        results = run_at_once(
            [lambda r=r: services.report(r, ad=ad, reason="spam") for r in reporters]
            + [lambda: services.ad_reject(ad, reason="Not allowed here")],
        )
    ad.refresh_from_db()
    assert ad.report_count == 4
    assert ad.status in (Ad.Status.REJECTED, Ad.Status.HIDDEN)
    assert results[-1] is True or ad.status == Ad.Status.HIDDEN
    assert connection.vendor == "postgresql"
