"""Loyalty's part of an erasure: points forfeited by a ledger entry, the referral code retired."""

import pytest
from django.db.models import Sum
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, ExpiryNotice, LedgerEntry, Reason
from loyalty.privacy import LoyaltyData
from shop.accounts.privacy import customer_erase
from shop.core.errors import NotFound
from tests.factories import UserFactory
from tests.loyalty.helpers import give, rules

pytestmark = pytest.mark.django_db


def test_it_forfeits_every_point_with_one_entry(customer):
    give(customer, 300)
    services.reward(user_id=customer.pk, reason=Reason.SIGNUP, points=100, reference="signup", pending=True)

    customer_erase(user=customer, requested_by="self")

    account = Account.objects.get(pk=customer.pk)
    last = LedgerEntry.objects.filter(account=account).order_by("-id").first()
    assert account.balance == 0
    assert (last.reason, last.points, last.balance_after) == (Reason.ERASURE, -400, 0)
    assert LedgerEntry.objects.filter(account=account).aggregate(n=Sum("points"))["n"] == 0
    assert str(last.description) == "Forfeited: the account was erased"


def test_it_keeps_the_ledger_before_the_erasure(customer):
    first = give(customer, 300)

    customer_erase(user=customer, requested_by="self")

    assert LedgerEntry.objects.get(pk=first.pk).points == 300


def test_it_opens_no_account_for_a_customer_who_never_was_a_member(customer):
    customer_erase(user=customer, requested_by="self")

    assert not Account.objects.filter(pk=customer.pk).exists()


def test_it_retires_the_referral_code(customer):
    rules(is_active=True)
    old = services.account_get(user=customer).referral_code

    customer_erase(user=customer, requested_by="self")

    new = Account.objects.get(pk=customer.pk).referral_code
    assert new != old
    for code in (old, new):
        with pytest.raises(NotFound):
            services.referral_attach(friend=UserFactory(), code=code)


def test_it_drops_the_reminders_not_sent_yet(customer):
    account = services.account_get(user=customer)
    now = timezone.now()
    ExpiryNotice.objects.create(account=account, points=10, first_expiry=now, covers_until=now)

    customer_erase(user=customer, requested_by="self")

    assert not ExpiryNotice.objects.filter(account=account).exists()


def test_it_leaves_other_members_points_alone(customer, stranger):
    give(customer, 300)
    give(stranger, 200)

    customer_erase(user=customer, requested_by="self")

    assert Account.objects.get(pk=stranger.pk).balance == 200


def test_it_exports_the_account_and_ledger(customer):
    give(customer, 300, note="goodwill")

    exported = LoyaltyData().export(customer)

    assert exported["account"]["balance"] == 300
    assert [(e["points"], e["description"]) for e in exported["ledger"]] == [(300, "Adjusted by our team: goodwill")]
