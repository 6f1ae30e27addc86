"""The review reward follows moderation: given when a review is published, taken back once when a
moderator rejects or removes it (an appended reversing entry), given back if it is restored."""

import pytest

from loyalty import services
from loyalty.models import Kind, LedgerEntry, Reason
from loyalty.program import current
from shop.catalog import services as catalog
from tests.factories import StaffFactory, UserFactory
from tests.loyalty.helpers import balance, cart_with, committed, pay, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer():
    user = UserFactory()
    user.bought = pay(place(user, cart_with(user, "20.00"))).lines.get().product
    return user


@pytest.fixture
def moderator():
    return StaffFactory()


def entries(user):
    return list(
        LedgerEntry.objects.filter(account_id=user.pk, reason=Reason.REVIEW)
        .order_by("created_at", "id")
        .values_list("kind", "points")
    )


def write(user, **kwargs):
    with committed():
        return catalog.review_create(product=user.bought, user=user, rating=5, **kwargs)


def moderate(review, moderator, action, note="Breaks the rules"):
    with committed():
        return catalog.review_moderate(review=review, actor=moderator, action=action, note=note)


def test_a_published_review_earns_its_reward(buyer):
    write(buyer)
    assert entries(buyer) == [(Kind.EARN, current().program.review_points)]


def test_a_pending_review_earns_nothing_until_approved(settings, buyer, moderator):
    settings.SHOP_REVIEWS_PREMODERATION = True
    review = write(buyer)
    assert entries(buyer) == []

    moderate(review, moderator, catalog.APPROVE, note="")

    assert entries(buyer) == [(Kind.EARN, current().program.review_points)]


def test_a_removed_review_takes_its_points_back_exactly_once(buyer, moderator):
    points = current().program.review_points
    review = write(buyer)
    before = balance(buyer)

    moderate(review, moderator, catalog.REMOVE)
    moderate(review, moderator, catalog.REMOVE)  # a second click does nothing
    services.review_reward_reverse(review_id=review.pk)  # nor a second delivery of the task

    assert entries(buyer) == [(Kind.EARN, points), (Kind.REVERSE, -points)]
    assert balance(buyer) == before - points
    reversal = LedgerEntry.objects.get(account_id=buyer.pk, kind=Kind.REVERSE)
    assert reversal.reference == f"review:{buyer.bought.pk}"
    assert "took down your review" in reversal.description


def test_a_rejected_review_after_reports_loses_its_points(settings, buyer, moderator):
    settings.SHOP_REVIEW_REPORTS_TO_HIDE = 1
    review = write(buyer)
    with committed():
        catalog.review_report(review=review, user=UserFactory(), reason="spam")
    assert len(entries(buyer)) == 1  # hidden by reports: not yet a moderator's decision

    moderate(review, moderator, catalog.REJECT)

    assert [kind for kind, _points in entries(buyer)] == [Kind.EARN, Kind.REVERSE]


def test_a_restored_review_gets_its_points_back_once(buyer, moderator):
    points = current().program.review_points
    review = write(buyer)
    moderate(review, moderator, catalog.REMOVE)

    moderate(review, moderator, catalog.RESTORE, note="")
    services.review_reward(review_id=review.pk)  # again: nothing more

    assert entries(buyer) == [(Kind.EARN, points), (Kind.REVERSE, -points), (Kind.REVERSE, points)]


def test_a_review_that_earned_nothing_has_nothing_to_take_back(moderator):
    never_bought = UserFactory()
    from tests.factories import ProductFactory

    with committed():
        review = catalog.review_create(product=ProductFactory(), user=never_bought, rating=1)
    moderate(review, moderator, catalog.REMOVE)

    assert entries(never_bought) == []


def test_an_authors_own_deletion_keeps_the_points(buyer):
    review = write(buyer)
    with committed():
        catalog.review_delete(review=review, user=buyer)
    assert entries(buyer) == [(Kind.EARN, current().program.review_points)]
