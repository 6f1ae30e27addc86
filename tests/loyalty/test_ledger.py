"""The ledger's rules: append-only lots, oldest first, expiry, rewards once, staff adjustments."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, Kind, LedgerEntry, LotUse, Reason
from loyalty.program import current
from shop.core.errors import Conflict, ShopError
from tests.factories import StaffFactory, UserFactory
from tests.loyalty.helpers import D, balance, give, ledger_sum, rules

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days(n: int) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


def consistent(user) -> int:
    """Balance equals the ledger's sum; each lot's uses fit in it; each debit's uses add up to it."""
    assert balance(user) == ledger_sum(user)
    for entry in LedgerEntry.objects.filter(account_id=user.pk):
        used = sum(use.points for use in LotUse.objects.filter(lot=entry))
        taken = sum(use.points for use in LotUse.objects.filter(entry=entry))
        if entry.points > 0:
            assert used <= entry.points and taken == 0
        else:
            assert taken == -entry.points or entry.kind == Kind.REVERSE and taken == -entry.points
    return balance(user)


@pytest.fixture(autouse=True)
def _program():
    rules(expiry_days=365, pending_days=14, redeem_rate=100, min_redeem_points=100)


def test_debits_take_the_oldest_expiring_points_first():
    user = UserFactory()
    old = give(user, 300, days_ago=300)
    new = give(user, 500, days_ago=10)
    staff = StaffFactory()

    entry = services.points_adjust(user=user, points=-400, note="Goodwill reversal", actor=staff)

    uses = {use.lot_id: use.points for use in entry.lots_used.all()}
    assert uses == {old.pk: 300, new.pk: 100}
    assert consistent(user) == 400


def test_points_expire_a_year_after_they_were_earned_and_the_job_is_safe_to_run_twice():
    user = UserFactory()
    give(user, 300, days_ago=400)
    give(user, 200, days_ago=100)
    staff = StaffFactory()
    services.points_adjust(user=user, points=-100, note="Used some", actor=staff, now=days(-50))  # from the old lot

    assert services.points_expire(now=NOW) == 1
    assert services.points_expire(now=NOW) == 0

    expired = LedgerEntry.objects.get(account_id=user.pk, kind=Kind.EXPIRE)
    assert expired.points == -200  # what was left of the old lot
    assert consistent(user) == 200
    assert LedgerEntry.objects.filter(kind=Kind.EXPIRE).count() == 1


def test_points_never_expire_when_the_program_says_so():
    rules(expiry_days=0)
    user = UserFactory()
    entry = give(user, 300, days_ago=4000)

    assert entry.expires_at is None
    assert services.points_expire(now=NOW) == 0
    assert balance(user) == 300


def test_expired_points_cannot_be_spent_even_before_the_job_writes_them_off():
    user = UserFactory()
    give(user, 300, days_ago=366)

    assert services.available_points(user=user) == 0
    with pytest.raises(Conflict):
        services.points_adjust(user=user, points=-100, note="x", actor=StaffFactory())
    assert consistent(user) == 300  # refused as a whole: the job writes the expiry
    assert services.points_expire(now=NOW) == 1
    assert consistent(user) == 0


def test_a_staff_adjustment_needs_a_note_and_keeps_who_and_why():
    user, staff = UserFactory(), StaffFactory()
    with pytest.raises(ShopError, match="note is required"):
        services.points_adjust(user=user, points=50, note="  ", actor=staff)
    with pytest.raises(ShopError):
        services.points_adjust(user=user, points=0, note="nothing", actor=staff)
    assert not LedgerEntry.objects.exists()

    entry = services.points_adjust(user=user, points=50, note="Parcel arrived late", actor=staff)

    assert (entry.kind, entry.reason, entry.actor, entry.note) == (
        Kind.ADJUST,
        Reason.STAFF,
        staff,
        "Parcel arrived late",
    )
    assert entry.description == "Adjusted by our team: Parcel arrived late"


def test_staff_cannot_remove_more_than_the_balance():
    user = UserFactory()
    give(user, 100)
    with pytest.raises(Conflict, match="100 points"):
        services.points_adjust(user=user, points=-101, note="Too much", actor=StaffFactory())
    assert consistent(user) == 100


def test_the_database_refuses_a_negative_balance_and_an_unexplained_adjustment():
    user = UserFactory()
    account = services.account_get(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=Kind.ADJUST, reason=Reason.STAFF, points=5, balance_after=5, created_at=NOW
        )


def test_rewards_are_given_once_per_reference():
    user = UserFactory()
    assert services.signup_reward(user_id=user.pk).points == current().program.signup_points
    assert services.signup_reward(user_id=user.pk) is None
    assert LedgerEntry.objects.filter(account_id=user.pk, reason=Reason.SIGNUP).count() == 1


def test_nothing_is_earned_while_the_program_is_paused():
    rules(is_active=False)
    user = UserFactory()
    assert services.signup_reward(user_id=user.pk) is None
    assert balance(user) == 0


def test_birthday_points_once_a_year_and_on_28_february_for_29_february_birthdays():
    from tests.factories import ProfileFactory

    leapling = ProfileFactory(birthday=dt.date(2004, 2, 29)).user
    other = ProfileFactory(birthday=dt.date(1990, 2, 28)).user
    ProfileFactory(birthday=dt.date(1990, 3, 1))

    assert services.birthdays_reward(today=dt.date(2027, 2, 28)) == 2
    assert services.birthdays_reward(today=dt.date(2027, 2, 28)) == 0
    assert services.birthdays_reward(today=dt.date(2028, 2, 28)) == 1  # a leap year: only the 28th's
    assert services.birthdays_reward(today=dt.date(2028, 2, 29)) == 1
    assert LedgerEntry.objects.filter(account_id=leapling.pk, reason=Reason.BIRTHDAY).count() == 2
    assert LedgerEntry.objects.filter(account_id=other.pk, reason=Reason.BIRTHDAY).count() == 2
    assert LedgerEntry.objects.get(account_id=other.pk, reference="birthday:2027").description == "Happy birthday!"


def test_a_first_review_of_a_purchased_product_earns_points_once(django_capture_on_commit_callbacks):
    from shop.catalog.services import review_create
    from tests.factories import ProductFactory
    from tests.loyalty.helpers import cart_with, pay, place

    user = UserFactory()
    bought = pay(place(user, cart_with(user, "20.00")))
    product = bought.lines.get().product
    never_bought = ProductFactory()

    # Published through the catalog's services (post-moderation): the review_published signal.
    with django_capture_on_commit_callbacks(execute=True):
        review_create(product=product, user=user, rating=4)
        review_create(product=never_bought, user=user, rating=4)

    rewards = LedgerEntry.objects.filter(account_id=user.pk, reason=Reason.REVIEW)
    assert [(e.reference, e.points) for e in rewards] == [(f"review:{product.pk}", current().program.review_points)]
    assert services.review_reward(review_id=product.reviews.get().pk) is None  # once
    assert rewards.get().description == f"Thanks for reviewing {product.name}"


def test_a_new_customer_gets_the_sign_up_bonus(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/account/register/",
            {"email": "new@example.org", "password": "a long passphrase 42"},
        )
    assert response.status_code == 302, response.content
    user = Account.objects.get(user__email="new@example.org").user
    assert consistent(user) == current().program.signup_points


def test_lots_round_points_value_down_to_the_minor_unit():
    rules(redeem_rate=3)
    assert current().points_value(10).amount == D("3.33")
    assert current().points_for(current().points_value(10)) == 10  # 3.33 x 3 = 9.99 -> 10


def test_the_expiry_job_works_through_many_accounts_a_batch_at_a_time():
    users = [UserFactory() for _ in range(5)]
    staff = StaffFactory()
    for i, user in enumerate(users):
        give(user, 100 + i, days_ago=400)
        give(user, 50, days_ago=380)
        give(user, 70, days_ago=10)  # not due
        services.points_adjust(user=user, points=-30, note="Used some", actor=staff, now=days(-300))

    assert services.due_accounts(now=NOW) == sorted(u.pk for u in users)  # once each, not once per lot
    assert services.points_expire(now=NOW, batch=2) == 5
    assert services.points_expire(now=NOW, batch=2) == 0

    for i, user in enumerate(users):
        expired = LedgerEntry.objects.get(account_id=user.pk, kind=Kind.EXPIRE)
        assert (expired.points, expired.data) == (-(100 + i + 50 - 30), {"lots": 2})
        assert expired.balance_after == 70
        assert consistent(user) == 70
