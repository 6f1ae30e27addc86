"""Demo loyalty data (loyalty/demo.py): the whole demo store seeded once for the module, then again."""

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.test import override_settings
from django.utils import timezone

from loyalty import selectors, services
from loyalty.demo import SAME_ADDRESS, SHOPPER
from loyalty.models import Account, ExpiryNotice, Kind, LedgerEntry, LotUse, Reason, Referral, TierChange
from loyalty.program import current
from shop.accounts.models import User
from shop.cart.models import Cart
from shop.catalog.models import Review
from shop.orders.models import PAID_STATES, Order, OrderAdjustment, OrderLine

pytestmark = pytest.mark.django_db

SEEDER = "loyalty.demo.seed"
HOUR = dt.timedelta(hours=1)


def counts() -> dict[str, int]:
    models = (Account, LedgerEntry, LotUse, TierChange, ExpiryNotice, Referral)
    return {model.__name__: model.objects.count() for model in models}


def history(user_id: int) -> list[tuple]:
    entries = LedgerEntry.objects.filter(account_id=user_id).order_by("created_at", "id")
    return list(entries.values_list("kind", "reason", "points", "balance_after", "created_at", "order_id", "reference"))


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """The whole demo store, then again (nothing new), then again after one order's points went
    missing (that member's history is written again, the same); all rolled back."""
    media = tmp_path_factory.mktemp("demo-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert settings.DEMO_SEEDERS[-1] == SEEDER
    with (
        override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=hashers, CACHES=caches),
        django_db_blocker.unblock(),
    ):
        with transaction.atomic():
            output = io.StringIO()
            call_command("seed_demo", stdout=output)
            first = counts()
            again = io.StringIO()
            call_command("seed_demo", stdout=again)
            second = counts()
            shopper = User.objects.get(email=SHOPPER)
            before = history(shopper.pk)
            lost = LedgerEntry.objects.filter(account_id=shopper.pk, kind=Kind.EARN, order__isnull=False).last()
            LotUse.objects.filter(lot=lost).delete()
            lost.delete()
            call_command("seed_demo", stdout=io.StringIO())
            yield {
                "first": first,
                "second": second,
                "third": counts(),
                "before": before,
                "after": history(shopper.pk),
                "output": output.getvalue(),
                "again": again.getvalue(),
            }
            transaction.set_rollback(True)


def members():
    return Account.objects.filter(user__email__endswith="@example.net") | Account.objects.filter(user__email=SHOPPER)


def test_every_customer_is_a_member_with_a_history(seeded):
    customers = User.objects.filter(email__endswith="@example.net").count() + 1
    assert members().count() == customers == Account.objects.count()
    assert LedgerEntry.objects.values("account").distinct().count() == customers
    codes = list(Account.objects.values_list("referral_code", flat=True))
    assert len(set(codes)) == len(codes)
    assert "loyalty members: " in seeded["output"]


def test_every_balance_is_the_ledgers_running_sum_and_never_negative(seeded):
    running: dict[int, int] = defaultdict(int)
    for account_id, points, balance_after in LedgerEntry.objects.order_by("created_at", "id").values_list(
        "account_id", "points", "balance_after"
    ):
        running[account_id] += points
        assert running[account_id] == balance_after >= 0
    for account_id, balance in Account.objects.values_list("pk", "balance"):
        assert balance == running[account_id]


def test_every_negative_entry_took_its_points_from_earlier_lots(seeded):
    taken = dict(LotUse.objects.values_list("entry").annotate(n=Sum("points")).values_list("entry", "n"))
    for pk, points in LedgerEntry.objects.filter(points__lt=0).values_list("pk", "points"):
        assert taken.get(pk) == -points
    used = LedgerEntry.objects.filter(points__gt=0).annotate(used=Coalesce(Sum("uses__points"), 0))
    assert not used.filter(used__gt=F("points")).exists()
    for use in LotUse.objects.select_related("entry", "lot"):
        assert use.lot.account_id == use.entry.account_id and use.lot.points > 0
        assert use.lot.created_at <= use.entry.created_at
        if use.entry.kind == Kind.EXPIRE:
            assert use.lot.expires_at <= use.entry.created_at


def test_points_expire_oldest_first_and_some_expire_within_the_month(seeded):
    now = timezone.now()
    assert LedgerEntry.objects.filter(kind=Kind.EXPIRE).values("account").distinct().count() >= 20
    # The hourly job has nothing left to write (up to its last run).
    last_run = now.replace(minute=0, second=0, microsecond=0)
    assert services.points_expire(now=last_run) == 0
    soon = [
        lot
        for account in members().filter(balance__gt=0)
        for lot in services.lots(account, now=now)
        if lot.entry.expires_at and now < lot.entry.expires_at <= now + dt.timedelta(days=30)
    ]
    assert len({lot.entry.account_id for lot in soon}) >= 20
    # Their reminders went out when the points came within the reminder period.
    announced = set(ExpiryNotice.objects.exclude(sent_at=None).values_list("account_id", flat=True))
    # (Those coming within the period since the six-hourly job last ran are announced at its next run.)
    early = [lot for lot in soon if lot.entry.expires_at <= now + dt.timedelta(days=29)]
    assert early and {lot.entry.account_id for lot in early} <= announced


def test_paid_orders_earned_when_paid_at_the_tier_of_the_time(seeded):
    rules = current()
    program = rules.program
    tiers = {tier.name: tier.pk for tier in rules.tiers}
    paid = Order.objects.filter(paid_at__isnull=False, user__in=members().values("user"))
    earned = {e.order_id: e for e in LedgerEntry.objects.filter(kind=Kind.EARN, reason=Reason.ORDER)}
    assert paid.count() == len(earned) > 1000
    basis = defaultdict(Decimal)
    for order_id, subtotal, discount in OrderLine.objects.filter(order__in=paid).values_list(
        "order_id", "subtotal", "discount"
    ):
        basis[order_id] += subtotal - discount
    changes = defaultdict(list)
    for change in TierChange.objects.order_by("created_at", "id"):
        changes[change.account_id].append(change)
    for order in paid:
        entry = earned[order.pk]
        assert entry.created_at == order.paid_at and entry.account_id == order.user_id
        assert entry.available_at == order.paid_at + dt.timedelta(days=program.pending_days)
        assert entry.expires_at == order.paid_at + dt.timedelta(days=program.expiry_days)
        before = [c.to_name for c in changes[order.user_id] if c.created_at < entry.created_at]
        assert entry.data["tier"] == (before[-1] if before else "")
        assert entry.points == rules.earned_on(basis[order.pk], tiers.get(entry.data["tier"]))
    assert {e.data["tier"] for e in earned.values()} >= {"", "Member", "Silver", "Gold"}


def test_refunds_and_cancellations_took_back_their_share(seeded):
    undone = Order.objects.filter(paid_at__isnull=False, amount_refunded__gt=0, user__in=members().values("user"))
    assert undone.count() >= 20
    for order in undone:
        earned = LedgerEntry.objects.get(order=order, kind=Kind.EARN)
        back = LedgerEntry.objects.filter(order=order, kind=Kind.REVERSE)
        lost = sum(entry.data.get("not_recovered", 0) for entry in back)
        owed = services.points_share(earned.points, services.undone_fraction(order))
        assert -sum(entry.points for entry in back) + lost == owed, order.number
        assert all(entry.created_at > order.paid_at for entry in back)


def test_tiers_follow_the_spend_in_the_window_with_a_change_for_each_move(seeded):
    rules = current()
    now = timezone.now()
    for account in members().select_related("tier"):
        spend = services.spend_in_window(user_id=account.pk, rules=rules, now=now)
        if account.tier is not None:
            assert account.tier == rules.tier_for(spend), account.pk
        names = [""] + [c.to_name for c in TierChange.objects.filter(account=account).order_by("created_at", "id")]
        froms = [""] + list(
            TierChange.objects.filter(account=account).order_by("created_at", "id").values_list("from_name", flat=True)
        )
        assert froms[1:] == names[:-1]
        assert names[-1] == (account.tier.name if account.tier else "")
    assert TierChange.objects.filter(is_upgrade=True, from_name="Member", to_name="Silver").exists()
    assert Account.objects.filter(tier__name="Gold").exists()


def test_members_got_their_sign_up_birthday_and_review_rewards(seeded):
    program = current().program
    now = timezone.now()
    signups = LedgerEntry.objects.filter(reason=Reason.SIGNUP, points=program.signup_points)
    assert signups.count() == members().count()
    for user in User.objects.filter(email__endswith="@example.net").select_related("profile")[:200]:
        birthdays = LedgerEntry.objects.filter(account_id=user.pk, reason=Reason.BIRTHDAY)
        for entry in birthdays:
            day = timezone.localtime(entry.created_at).date()
            assert (day.month, day.day) == (user.profile.birthday.month, user.profile.birthday.day)
            assert entry.reference == f"birthday:{day.year}" and entry.points == program.birthday_points
            assert user.date_joined <= entry.created_at <= now
        if user.date_joined < now - dt.timedelta(days=366):
            assert birthdays.filter(created_at__gt=now - dt.timedelta(days=366)).exists(), user.email
    reviews = LedgerEntry.objects.filter(reason=Reason.REVIEW)
    assert reviews.exists()
    for entry in reviews:
        product_id = int(entry.reference.split(":")[1])
        review = Review.objects.get(user_id=entry.account_id, product_id=product_id)
        assert entry.created_at == review.created_at and entry.data["product"] == review.product.name
        assert OrderLine.objects.filter(
            order__user_id=entry.account_id, product_id=product_id, order__paid_at__lt=review.created_at
        ).exists()


def test_referrals_are_decided_as_the_services_would(seeded):
    program = current().program
    statuses = list(Referral.objects.values_list("status", flat=True))
    assert {"rewarded", "pending", "refused"} <= set(statuses) and len(statuses) >= 6
    for referral in Referral.objects.select_related("advocate", "friend", "rewarded_order"):
        assert referral.created_at >= referral.friend.date_joined
        assert referral.welcome_order is None
        if referral.status == Referral.Status.PENDING:
            assert not Order.objects.filter(user=referral.friend).exists()
            continue
        order = referral.rewarded_order
        first = Order.objects.filter(user=referral.friend, status__in=services.SPEND_STATES)
        assert first.order_by("paid_at", "pk").first() == order and order.status in PAID_STATES
        # Attached after the order was placed (so no welcome discount on it), before it was paid.
        assert order.placed_at < referral.created_at < order.paid_at == referral.decided_at
        reward = LedgerEntry.objects.filter(account_id=referral.advocate_id, reference=f"referral:{referral.pk}")
        if referral.status == Referral.Status.REWARDED:
            entry = reward.get()
            assert (entry.kind, entry.points, entry.created_at) == ("earn", program.referral_points, order.paid_at)
            assert entry.available_at == order.paid_at + dt.timedelta(days=program.pending_days)
            assert entry.data["order"] == order.pk and entry.data["friend"].endswith("@example.net")
        else:
            assert referral.refusal == SAME_ADDRESS and not reward.exists()
            shipped = services.comparable_address(
                order.shipping_line1, order.shipping_postal_code, order.shipping_country
            )
            assert shipped in services.advocate_addresses(referral.advocate_id)
    assert not OrderAdjustment.objects.filter(source__startswith="loyalty").exists()


def test_the_demo_shopper_has_points_to_spend_and_a_varied_history(seeded):
    shopper = User.objects.get(email=SHOPPER)
    program = current().program
    summary = selectors.summary(user=shopper)
    assert summary.available >= max(program.min_redeem_points, 2000)
    assert summary.pending > 0 and summary.pending_until > timezone.now()
    assert summary.tier is not None and summary.tier != current().tiers[0]
    assert summary.expiring and summary.expiring[0].on <= timezone.localdate() + dt.timedelta(days=30)
    reasons = set(LedgerEntry.objects.filter(account_id=shopper.pk).values_list("reason", flat=True))
    assert reasons >= {"signup", "order", "birthday", "referral", "refund", "expiry"}
    assert Referral.objects.filter(advocate=shopper, status="pending").exists()
    cart = Cart.objects.create(user=shopper)
    services.cart_points_set(cart=cart, user=shopper, points=program.min_redeem_points)
    assert cart.loyalty_points.points == program.min_redeem_points


def test_running_it_again_adds_nothing(seeded):
    assert seeded["second"] == seeded["first"]
    assert "writing 0 histories" in seeded["again"]


def test_a_member_whose_orders_grew_gets_the_same_history_written_again(seeded):
    assert seeded["after"] == seeded["before"]
    assert seeded["third"] == seeded["first"]
