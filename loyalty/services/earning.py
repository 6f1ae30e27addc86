"""Earning: paid orders (once each, pending for the return window) and one-off rewards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.models import Kind, LedgerEntry, Reason
from loyalty.program import current
from loyalty.services.ledger import _credit, _locked, _take_back, _write
from loyalty.services.tiers import tier_refresh
from shop.orders.models import PAID_STATES, Order


def order_basis(order: Order) -> Decimal:
    """What an order earns on: its merchandise after discounts and points (shipping earns nothing)."""
    return sum((line.subtotal - line.discount for line in order.lines.all()), Decimal(0))


def order_points_earn(*, order_id: int, now=None) -> LedgerEntry | None:
    """A paid order earns once (a unique constraint on (order, kind)); the points are pending for the return window."""
    now = now or timezone.now()
    order = Order.objects.get(pk=order_id)
    rules = current()
    if order.user_id is None or not rules.program.is_active or order.status not in PAID_STATES:
        return None
    try:
        with transaction.atomic():
            account = _locked(order.user_id)
            existing = LedgerEntry.objects.filter(order=order, kind=Kind.EARN).first()
            if existing:
                return existing
            points = rules.earned_on(order_basis(order), account.tier_id)
            entry = None
            if points > 0:
                entry = _credit(
                    account,
                    rules,
                    reason=Reason.ORDER,
                    points=points,
                    now=now,
                    pending=True,
                    order=order,
                    data={"tier": account.tier.name if account.tier else ""},
                )
            tier_refresh(account=account, rules=rules, now=now)
            return entry
    except IntegrityError:  # another delivery of the same event got there first
        return LedgerEntry.objects.filter(order=order, kind=Kind.EARN).first()


def reward(*, user_id: int, reason: str, points: int, reference: str, now=None, pending=False, data=None):
    """A one-off reward (sign-up, review, birthday, referral), once per reference. Returns None if already given."""
    rules = current()
    if points <= 0 or not rules.program.is_active:
        return None
    now = now or timezone.now()
    try:
        with transaction.atomic():
            account = _locked(user_id)
            if LedgerEntry.objects.filter(account=account, kind=Kind.EARN, reference=reference).exists():
                return None
            return _credit(
                account,
                rules,
                reason=reason,
                points=points,
                now=now,
                pending=pending,
                reference=reference,
                data=data or {},
            )
    except IntegrityError:
        return None


def signup_reward(*, user_id: int) -> LedgerEntry | None:
    return reward(user_id=user_id, reason=Reason.SIGNUP, points=current().program.signup_points, reference="signup")


def _review(review_id: int):
    from shop.catalog.models import Review

    return Review.objects.select_related("product").filter(pk=review_id).first()


def _taken_back(account, reference: str) -> int:
    """What the reversals of one reward hold back now (taken back, less what was given back)."""
    net = LedgerEntry.objects.filter(account=account, kind=Kind.REVERSE, reference=reference).aggregate(
        n=Coalesce(Sum("points"), 0)
    )["n"]
    return -net


def review_reward(*, review_id: int, now=None) -> LedgerEntry | None:
    """A published first review of a product the customer bought and paid for earns points, once per
    product (shop.catalog's review_published). A review a moderator took down and then restored gets
    back what its removal took."""
    from shop.catalog.models import ReviewStatus
    from shop.orders.models import OrderLine

    review = _review(review_id)
    if review is None or review.status != ReviewStatus.PUBLISHED:
        return None
    bought = OrderLine.objects.filter(
        order__user_id=review.user_id, order__status__in=PAID_STATES, product_id=review.product_id
    ).exists()
    if not bought:
        return None
    reference = f"review:{review.product_id}"
    data = {"product": review.product.name}
    entry = reward(
        user_id=review.user_id,
        reason=Reason.REVIEW,
        points=current().program.review_points,
        reference=reference,
        data=data,
        now=now,
    )
    if entry is not None:
        return entry
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(review.user_id)
        held = _taken_back(account, reference)
        if held <= 0:
            return None
        earned = LedgerEntry.objects.get(account=account, kind=Kind.EARN, reference=reference)
        return _write(
            account,
            kind=Kind.REVERSE,
            reason=Reason.REVIEW,
            points=held,
            now=now,
            reference=reference,
            available_at=now,
            expires_at=earned.expires_at,
            data=data,
        )


def review_reward_reverse(*, review_id: int, now=None) -> LedgerEntry | None:
    """A moderator rejected or removed a review (shop.catalog's review_removed): the points it earned
    come back out with one appended reversing entry, once, from what is left of that reward (what the
    member already spent stays spent, recorded as not recovered)."""
    from shop.catalog.models import ReviewStatus

    review = _review(review_id)
    if review is None or review.status not in (ReviewStatus.REJECTED, ReviewStatus.REMOVED):
        return None  # restored meanwhile: nothing to take back
    reference = f"review:{review.product_id}"
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(review.user_id)
        earned = LedgerEntry.objects.filter(account=account, kind=Kind.EARN, reference=reference).first()
        if earned is None or _taken_back(account, reference) > 0:
            return None  # never rewarded, or already taken back
        entries = _take_back(
            account,
            earned,
            earned.points,
            now,
            reason=Reason.REVIEW,
            reference=reference,
            data={"product": review.product.name, "review": review.pk},
        )
        return entries[0] if entries else None


def birthdays_reward(*, today: dt.date | None = None) -> int:
    """Birthday points for everyone whose birthday is today (29 February counts on the 28th in other years).

    Once a year per member (the reference holds the year): safe to run twice.
    """
    from shop.accounts.models import Profile

    today = today or timezone.localdate()
    days = [(today.month, today.day)]
    if today.month == 2 and today.day == 28 and not _leap(today.year):
        days.append((2, 29))
    query = Q()
    for month, day in days:
        query |= Q(birthday__month=month, birthday__day=day)
    user_ids = Profile.objects.filter(query, user__is_active=True).values_list("user_id", flat=True)
    points = current().program.birthday_points
    given = 0
    for user_id in user_ids.iterator():
        if reward(user_id=user_id, reason=Reason.BIRTHDAY, points=points, reference=f"birthday:{today.year}"):
            given += 1
    return given


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
