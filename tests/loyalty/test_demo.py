"""Demo loyalty data (loyalty/demo/): the whole demo store seeded once for the module, then again."""

import datetime as dt
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty import selectors, services
from loyalty.demo import SAME_ADDRESS, SHOPPER
from loyalty.models import Account, ExpiryNotice, Kind, LedgerEntry, LotUse, Reason, Referral, TierChange
from loyalty.program import current
from shop.accounts.models import User
from shop.cart.models import Cart
from shop.catalog.models import Review
from shop.core.money import Money
from shop.orders.models import PAID_STATES, Order, OrderAdjustment, OrderLine
from shop.orders.shipping import shipping_price
from shop.payments.models import Payment

pytestmark = pytest.mark.django_db

SEEDER = "loyalty.demo.seed"
HOUR = dt.timedelta(hours=1)


def counts() -> dict[str, object]:
    models = (Account, LedgerEntry, LotUse, TierChange, ExpiryNotice, Referral)
    found: dict[str, object] = {model.__name__: model.objects.count() for model in models}
    found["points"] = OrderAdjustment.objects.filter(kind="points").count()
    found["totals"] = Order.objects.aggregate(Sum("total"), Sum("discount_total"))
    found["paid"] = Payment.objects.aggregate(Sum("amount_minor"))
    return found


def history(user_id: int) -> list[tuple]:
    entries = LedgerEntry.objects.filter(account_id=user_id).order_by("created_at", "id")
    rows = entries.values_list("kind", "reason", "points", "balance_after", "created_at", "order_id", "reference")
    orders = Order.objects.filter(user_id=user_id).order_by("pk")
    lines = OrderLine.objects.filter(order__in=orders).order_by("pk").values_list("pk", "discount")
    adjustments = OrderAdjustment.objects.filter(order__in=orders).order_by("order", "kind", "source")
    return [
        *rows,
        *orders.values_list("pk", "discount_total", "total"),
        *lines,
        *adjustments.values_list("order", "kind", "label", "amount", "source", "reference"),
        *Payment.objects.filter(order__in=orders).order_by("pk").values_list("pk", "amount_minor"),
    ]


def points_spent(order: Order) -> int:
    """The points an order's points adjustment says it spent (PointsAdjuster's reference)."""
    (adjustment,) = [a for a in order.adjustments.all() if a.kind == "points"]
    return int(adjustment.reference.removeprefix("points:"))


@pytest.fixture(scope="module")
def seeded(demo_store):
    """The whole demo store, then again (nothing new): tests/conftest.py, shared with other modules. Then,
    for this module only, again after one order's points went missing (that member's history is written
    again, the same); all rolled back."""
    seeders = settings.DEMO_SEEDERS
    assert seeders.index(SEEDER) > seeders.index("shop.orders.demo.seed")  # it learns from the orders
    with transaction.atomic():
        # The shopper, and the customer who spent points most often: their histories are written again.
        shopper = User.objects.get(email=SHOPPER).pk
        spender = (
            LedgerEntry.objects.filter(kind=Kind.REDEEM, order__status__in=PAID_STATES)
            .exclude(account_id=shopper)
            .values_list("account_id", flat=True)
            .annotate(n=Count("id"))
            .order_by("-n", "account_id")
            .first()
        )
        before = {pk: history(pk) for pk in (shopper, spender)}
        for pk in (shopper, spender):
            lost = LedgerEntry.objects.filter(account_id=pk, kind=Kind.EARN, order__isnull=False).last()
            LotUse.objects.filter(lot=lost).delete()
            lost.delete()
        third = io.StringIO()
        call_command("seed_demo", stdout=third)
        yield {
            "first": demo_store["first"][__name__],
            "second": demo_store["second"][__name__],
            "third": counts(),
            "before": before,
            "after": {pk: history(pk) for pk in (shopper, spender)},
            "output": demo_store["output"],
            "again": demo_store["again"],
            "rewritten": third.getvalue(),
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
        taken = -sum(entry.points for entry in back) + lost
        # From the order's own lot only: once spent (points pay for later orders), nothing is left to take.
        used_up = earned.uses.aggregate(n=Sum("points"))["n"] == earned.points
        assert taken == owed or (taken < owed and used_up), order.number
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
    assert not OrderAdjustment.objects.filter(source="loyalty-referral").exists()


def test_the_demo_shopper_has_points_to_spend_and_a_varied_history(seeded):
    shopper = User.objects.get(email=SHOPPER)
    program = current().program
    summary = selectors.summary(user=shopper)
    assert summary.available >= max(program.min_redeem_points, 2000)
    assert summary.pending > 0 and summary.pending_until > timezone.now()
    assert summary.tier is not None and summary.tier != current().tiers[0]
    assert summary.expiring and summary.expiring[0].on <= timezone.localdate() + dt.timedelta(days=30)
    entries = LedgerEntry.objects.filter(account_id=shopper.pk)
    reasons = set(entries.values_list("reason", flat=True))
    assert reasons >= {"signup", "order", "birthday", "referral", "refund", "expiry", "cancel"}
    # Points spent on an order paid two weeks ago, and on a checkout that was cancelled (they came back).
    statuses = {entry.order.status for entry in entries.filter(kind=Kind.REDEEM).select_related("order")}
    assert "cancelled" in statuses and statuses & set(PAID_STATES)
    assert Referral.objects.filter(advocate=shopper, status="pending").exists()
    cart = Cart.objects.create(user=shopper)
    services.cart_points_set(cart=cart, user=shopper, points=program.min_redeem_points)
    assert cart.loyalty_points.points == program.min_redeem_points


def test_running_it_again_adds_nothing(seeded):
    assert seeded["second"] == seeded["first"]
    assert "writing 0 histories" in seeded["again"]


def test_a_member_whose_orders_grew_gets_the_same_history_written_again(seeded):
    # Their orders paid partly with points were put back, then paid with the same points again.
    assert "2 histories (2 written again)" in seeded["rewritten"]
    assert "put back as they were, to decide again" in seeded["rewritten"]
    assert all(any(row[0] == Kind.REDEEM for row in rows) for rows in seeded["before"].values())
    assert seeded["after"] == seeded["before"]
    assert seeded["third"] == seeded["first"]


# --- Points spent at checkout ----------------------------------------------------------------------------------


def test_some_orders_were_paid_partly_with_points_by_members_who_had_enough(seeded):
    spent = LedgerEntry.objects.filter(kind=Kind.REDEEM)
    paid = Order.objects.filter(idempotency_scope="demo", paid_at__isnull=False)
    with_points = paid.filter(adjustments__kind="points")
    assert 0.02 * paid.count() <= with_points.count() <= 0.2 * paid.count()
    assert spent.filter(order__status__in=["cancelled", "expired"]).exists()
    assert spent.values("account").distinct().count() >= 20
    # Every redemption is on an order with its points adjustment; none on the orders left alone.
    assert spent.count() == spent.filter(order__adjustments__kind="points").count()
    assert not spent.filter(Q(order__amount_refunded__gt=0) | Q(order__status__in=["refunded", "pending_payment"]))
    assert "orders paid partly with points" in seeded["output"]


def test_every_order_paid_with_points_has_its_redeem_entry_as_the_checkout_wrote_it(seeded):
    rules = current()
    program = rules.program
    orders = Order.objects.filter(adjustments__kind="points").prefetch_related("adjustments", "lines")
    redeemed = {e.order_id: e for e in LedgerEntry.objects.filter(kind=Kind.REDEEM).prefetch_related("lots_used__lot")}
    assert orders.count() == len(redeemed) > 0
    for order in orders:
        (adjustment,) = [a for a in order.adjustments.all() if a.kind == "points"]
        points = points_spent(order)
        entry = redeemed[order.pk]
        assert (adjustment.source, adjustment.label) == ("loyalty-points", f"{points:,} points")
        assert (entry.points, entry.reason, entry.created_at, entry.account_id) == (
            -points,
            Reason.ORDER,
            order.placed_at,
            order.user_id,
        )
        assert -adjustment.amount == rules.points_value(points).amount > 0
        assert rules.points_for(rules.points_value(points)) == points  # the fewest points that pay it
        # Between the minimum and the cap: max_redeem_percent of the merchandise left to pay.
        left = sum(line.subtotal - line.discount for line in order.lines.all()) - adjustment.amount
        cap = (left * program.max_redeem_percent / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert program.min_redeem_points <= points and -adjustment.amount <= cap, order.number
        # From lots usable then (not pending, not expired).
        for use in entry.lots_used.all():
            assert use.lot.available_at <= order.placed_at
            assert use.lot.expires_at is None or order.placed_at < use.lot.expires_at


def test_orders_paid_with_points_add_up_and_their_payments_match(seeded):
    orders = Order.objects.filter(adjustments__kind="points").prefetch_related(
        "lines", "adjustments", "payments", "refunds"
    )
    for order in orders:
        adjustments = order.adjustments.all()
        lines = order.lines.all()
        assert order.total == order.subtotal - order.discount_total + order.shipping_total > 0, order.number
        assert order.discount_total == -sum(a.amount for a in adjustments if a.kind != "shipping")
        on_shipping = -sum(a.amount for a in adjustments if a.source == "discounts-shipping")
        assert sum(line.discount for line in lines) == order.discount_total - on_shipping
        assert all(0 <= line.discount <= line.subtotal for line in lines)
        # Shipping was priced on the merchandise after discounts, before points: unchanged.
        shipping = sum(a.amount for a in adjustments if a.kind == "shipping")
        merchandise = order.subtotal + sum(
            a.amount for a in adjustments if a.kind == "discount" and a.source != "discounts-shipping"
        )
        assert (
            order.shipping_total
            == shipping
            == shipping_price(order.shipping_method, Money(merchandise, order.currency)).amount
        )
        assert order.paid_at is None or any(p.status == "succeeded" for p in order.payments.all())
        for payment in order.payments.all():
            assert payment.amount_minor == Money(order.total, order.currency).to_minor_units(), order.number
        assert not order.refunds.all() and order.amount_refunded == 0


def test_cancelled_checkouts_gave_their_points_back_with_the_earliest_expiry(seeded):
    closed = LedgerEntry.objects.filter(kind=Kind.REDEEM, order__status__in=["cancelled", "expired"])
    assert closed.exists()
    for entry in closed.select_related("order").prefetch_related("lots_used__lot"):
        event = entry.order.events.get(kind=entry.order.status)
        back = LedgerEntry.objects.get(order=entry.order, kind=Kind.REVERSE)
        assert (back.points, back.reason, back.created_at) == (-entry.points, Reason.CANCEL, event.created_at)
        assert back.available_at == back.created_at
        assert back.expires_at == min(use.lot.expires_at for use in entry.lots_used.all())
        assert not LedgerEntry.objects.filter(order=entry.order, kind=Kind.EARN).exists()
    paid = LedgerEntry.objects.filter(kind=Kind.REDEEM, order__status__in=PAID_STATES).values("order")
    assert not LedgerEntry.objects.filter(order__in=paid, kind=Kind.REVERSE).exists()
