"""Reads for the account page, the cart, the API and the admin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, Kind, LedgerEntry, Referral, Tier, TierChange
from loyalty.program import current
from shop.core.money import Money


@dataclass(frozen=True)
class Expiring:
    points: int
    on: dt.date


@dataclass
class Summary:
    account: Account | None
    balance: int = 0  # the ledger's sum: available + pending (+ any past expiry the job has not written yet)
    available: int = 0
    pending: int = 0
    value: Money = field(default_factory=Money.zero)  # what the available points are worth
    tier: Tier | None = None
    next_tier: Tier | None = None
    spend: Decimal = Decimal(0)
    to_next_tier: Money | None = None
    progress: int = 100  # percent of the way to the next tier
    expiring: list[Expiring] = field(default_factory=list)
    pending_until: dt.datetime | None = None


@dataclass(frozen=True)
class OrderPoints:
    points: int
    usable_from: dt.datetime | None  # when they can be spent (after the return window)
    estimated: bool  # not in the ledger yet (earning runs just after payment): worked out as it will be


def order_points(*, order) -> OrderPoints | None:
    """What a paid order earns its customer: the ledger's entry, or while it is being written the same sum."""
    from loyalty.services.earning import order_basis
    from shop.orders.models import PAID_STATES

    if order.user_id is None or order.status not in PAID_STATES:
        return None
    entry = LedgerEntry.objects.filter(order=order, kind=Kind.EARN).first()
    if entry is not None:
        return OrderPoints(points=entry.points, usable_from=entry.available_at, estimated=False)
    rules = current()
    if not rules.program.is_active:
        return None
    account = Account.objects.filter(user_id=order.user_id).first()
    points = rules.earned_on(order_basis(order), account.tier_id if account else None)
    if points <= 0:
        return None
    paid = order.paid_at or timezone.now()
    return OrderPoints(points=points, usable_from=paid + dt.timedelta(days=rules.program.pending_days), estimated=True)


def summary(*, user, now=None, member=None) -> Summary:
    """Balance, what can be spent now, what is pending, tier and progress, and points about to expire.

    `member`: the account and lots a cart's pricing read already (loyalty.members); then the
    spend towards the next tier is not read (the cart shows no progress) unless there is no
    account yet to hold a tier.
    """
    now = now or timezone.now()
    rules = current()
    account = member.account if member is not None else Account.objects.select_related("tier").filter(user=user).first()
    result = Summary(account=account)
    progress = member is None or account is None
    if progress:
        result.spend = services.spend_in_window(user_id=user.pk, rules=rules, now=now)
    result.tier = account.tier if account else rules.tier_for(result.spend)
    result.next_tier = rules.next_tier(result.tier) if progress else None
    if result.next_tier is not None:
        floor = result.tier.min_spend if result.tier else Decimal(0)
        needed = result.next_tier.min_spend - result.spend
        result.to_next_tier = Money(max(needed, Decimal(0)), settings.SHOP_CURRENCY)
        span = result.next_tier.min_spend - floor
        result.progress = int(max(0, min(100, (result.spend - floor) * 100 / span))) if span > 0 else 100
    if account is None:
        return result
    result.balance = account.balance
    window = now + dt.timedelta(days=max(rules.program.expiry_reminder_days, 30))
    by_date: dict = {}
    for lot in member.lots if member is not None else services.lots(account, now=now):
        entry = lot.entry
        if entry.expires_at and entry.expires_at <= now:
            continue  # past its date: the expiry job will write it off
        if entry.is_pending(now):
            result.pending += lot.remaining
            result.pending_until = max(result.pending_until or entry.available_at, entry.available_at)
        else:
            result.available += lot.remaining
        if entry.expires_at and entry.expires_at <= window:
            day = timezone.localdate(entry.expires_at)
            by_date[day] = by_date.get(day, 0) + lot.remaining
    result.expiring = [Expiring(points=points, on=day) for day, points in sorted(by_date.items())]
    result.value = rules.points_value(result.available)
    return result


def ledger(*, account) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(account=account).select_related("order").order_by("-created_at", "-id")


def tier_changes(*, account):
    return TierChange.objects.filter(account=account).order_by("-created_at", "-id")


def referral_stats(*, user) -> dict:
    counts = dict(
        Referral.objects.filter(advocate=user).values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in Referral.Status.values}


# --- for the admin ----------------------------------------------------------------------------


def liability() -> dict:
    """Outstanding points (the ledger's sum over all members) and what they would cost if all were spent."""
    rules = current()
    totals = Account.objects.aggregate(points=Coalesce(Sum("balance"), 0), members=Count("pk"))
    return {
        "points": totals["points"],
        "value": rules.points_value(totals["points"]),
        "members": totals["members"],
    }


def monthly(*, months: int = 12, now=None) -> list[dict]:
    """Points earned, redeemed and expired per month (reversals net against earned and redeemed)."""
    now = timezone.localtime(now or timezone.now())
    year, month = divmod(now.year * 12 + now.month - 1 - (months - 1), 12)
    since = now.replace(year=year, month=month + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = (
        LedgerEntry.objects.filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(
            earned=Coalesce(Sum("points", filter=Q(kind=Kind.EARN) | Q(kind=Kind.ADJUST, points__gt=0)), 0),
            redeemed=Coalesce(Sum("points", filter=Q(kind=Kind.REDEEM)), 0),
            expired=Coalesce(Sum("points", filter=Q(kind=Kind.EXPIRE)), 0),
            reversed=Coalesce(Sum("points", filter=Q(kind=Kind.REVERSE)), 0),
            removed=Coalesce(Sum("points", filter=Q(kind=Kind.ADJUST, points__lt=0)), 0),
        )
        .order_by("month")
    )
    return [
        {
            "month": row["month"],
            "earned": row["earned"],
            "redeemed": -row["redeemed"],
            "expired": -row["expired"],
            "reversed": row["reversed"],
            "removed": -row["removed"],
        }
        for row in rows
    ]


def members_per_tier() -> list[dict]:
    counts = dict(Account.objects.values_list("tier").annotate(n=Count("pk")).values_list("tier", "n"))
    rows = [{"tier": tier, "members": counts.get(tier.pk, 0)} for tier in current().tiers]
    if counts.get(None):
        rows.insert(0, {"tier": None, "members": counts[None]})
    return rows


def members_in_tier(*, tier_name: str):
    """The ids of members in the tier of this name: a subquery (marketing.campaigns' segments)."""
    return Account.objects.filter(tier__name__iexact=tier_name).values("user_id")


def tier_names() -> list[str]:
    return [tier.name for tier in current().tiers]


def expiry_notices_since(*, since) -> list[dict]:
    """Expiry reminders written since then, with their member: what campaigns' points-expiry flow
    joins (docs/campaigns.md, "Flows")."""
    from loyalty.models import ExpiryNotice

    return list(
        ExpiryNotice.objects.filter(created_at__gte=since)
        .order_by("pk")
        .values("id", "points", "first_expiry", user_id=F("account__user_id"))
    )


def program_rules():
    """The running program's rules (earn rate, what a point is worth, the minimum to redeem)."""
    return current().program


def points_text(points: int) -> str:
    """A number of points grouped as the shopper's language writes it ("1,000")."""
    from loyalty.program import grouped

    return grouped(points)


def cart_points_status(*, cart, priced, user):
    """What the cart's points panel shows a member (loyalty.carts.cart_points_status), for other apps."""
    from loyalty import carts

    return carts.cart_points_status(cart=cart, priced=priced, user=user)
