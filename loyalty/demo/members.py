"""The demo customers as loyalty members: who they are, when they joined, whose history to write (again)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from loyalty.demo.common import DEMO_DOMAIN, SCOPE, SHOPPER, _chunks
from loyalty.demo.points_orders import _points_changed_since, _points_taken_off
from loyalty.models import ExpiryNotice, Kind, LedgerEntry, LotUse, TierChange
from loyalty.program import Rules
from shop.accounts.models import User
from shop.core.demo import DemoContext
from shop.orders.models import Order, OrderLine

# The shopper's orders go back 290 days (shop/orders/demo.py); their membership a little further.
# (Counted from the first order, not from now, so that writing the history again gives the same.)
SHOPPER_MEMBER_BEFORE = dt.timedelta(days=110)


@dataclass
class Member:
    id: int
    email: str
    date_joined: dt.datetime
    is_active: bool
    birthday: dt.date | None
    is_shopper: bool = False


def _members() -> list[Member]:
    rows = (
        User.objects.filter(Q(email__endswith=DEMO_DOMAIN) | Q(email=SHOPPER))
        .order_by("id")
        .values_list("id", "email", "date_joined", "is_active", "profile__birthday")
    )
    return [Member(*row, is_shopper=row[1] == SHOPPER) for row in rows]


def _to_write(ctx: DemoContext, rules: Rules, members: list[Member], changed: set[int]) -> tuple[list[Member], int]:
    """Members with no history yet, and those whose orders or referral rewards changed since theirs was
    written (emptied here, to be written again)."""
    with_history = set(LedgerEntry.objects.values_list("account_id", flat=True).distinct())
    stale = (_missing_earnings(rules, {m.id for m in members} & with_history) | changed) & with_history
    # Points spent on an order placed through the checkout, or given by staff: not this seeder's to write again.
    theirs = Q(kind=Kind.ADJUST) | (Q(kind=Kind.REDEEM) & ~Q(order__idempotency_scope=SCOPE))
    kept = set(LedgerEntry.objects.filter(theirs, account_id__in=stale).values_list("account_id", flat=True).distinct())
    if kept:
        ctx.log(f"loyalty: {len(kept):,} members have new orders but points they spent or staff gave: left alone")
    stale -= kept
    changed_since = _points_changed_since(stale)
    if changed_since:
        ctx.log(f"loyalty: {len(changed_since):,} members have orders paid with points changed since: left alone")
    stale -= changed_since
    restored = _points_taken_off(stale)
    if restored:
        ctx.log(f"loyalty: {restored:,} demo orders paid partly with points put back as they were, to decide again")
    for ids in _chunks(sorted(stale)):
        LotUse.objects.filter(entry__account_id__in=ids).delete()
        LedgerEntry.objects.filter(account_id__in=ids).delete()
        TierChange.objects.filter(account_id__in=ids).delete()
        ExpiryNotice.objects.filter(account_id__in=ids).delete()
    return [m for m in members if m.id not in with_history or m.id in stale], len(stale)


def _missing_earnings(rules: Rules, member_ids: set[int]) -> set[int]:
    """Members with a paid order that earned nothing although it must have (a larger --scale added it)."""
    if not member_ids:
        return set()
    earned = LedgerEntry.objects.filter(kind=Kind.EARN, order__isnull=False).values("order_id")
    orders = dict(
        Order.objects.filter(paid_at__isnull=False, user__loyalty__isnull=False)
        .exclude(pk__in=earned)
        .values_list("id", "user_id")
    )
    basis = defaultdict(Decimal)
    for order_id, subtotal, discount in OrderLine.objects.filter(order_id__in=list(orders)).values_list(
        "order_id", "subtotal", "discount"
    ):
        basis[order_id] += subtotal - discount
    # Without a tier (multiplier 1) an order earns the least it could: if even that is points, they are missing.
    return {orders[pk] for pk, amount in basis.items() if rules.earned_on(amount, None) > 0} & member_ids


def _joined(member: Member, first_order: dt.datetime | None) -> dt.datetime:
    """When the member joined: when they signed up, or placed their first order if that came first."""
    if first_order is None:
        return member.date_joined
    if member.is_shopper:
        first_order -= SHOPPER_MEMBER_BEFORE
    return min(member.date_joined, first_order)
