"""Earning: paid orders (once each, pending for the return window) and one-off rewards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.models import Kind, LedgerEntry, Reason
from loyalty.program import current
from loyalty.services.ledger import _credit, _locked
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


def review_reward(*, review_id: int) -> LedgerEntry | None:
    """The first review of a product the customer bought and paid for earns points, once per product."""
    from shop.catalog.models import Review
    from shop.orders.models import OrderLine

    review = Review.objects.select_related("product").filter(pk=review_id).first()
    if review is None:
        return None
    bought = OrderLine.objects.filter(
        order__user_id=review.user_id, order__status__in=PAID_STATES, product_id=review.product_id
    ).exists()
    if not bought:
        return None
    return reward(
        user_id=review.user_id,
        reason=Reason.REVIEW,
        points=current().program.review_points,
        reference=f"review:{review.product_id}",
        data={"product": review.product.name},
    )


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
