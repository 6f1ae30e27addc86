"""Tiers: a member's rolling spend, and the tier it reaches; every change recorded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.models import Account, TierChange
from loyalty.program import Rules, current
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import PAID_STATES, Order, OrderStatus

SPEND_STATES = (*PAID_STATES, OrderStatus.REFUNDED)


def spend_in_window(*, user_id: int, rules: Rules, now) -> Decimal:
    """What the customer paid (net of refunds) over the tier window. Points they spent do not count down.

    Summed in cents (exact on SQLite too): it is compared with the tiers' thresholds, where
    99.9999999999999 instead of 100.00 keeps a member out of the tier they reached.
    """
    since = now - dt.timedelta(days=rules.program.tier_window_days)
    currency = settings.SHOP_CURRENCY
    row = Order.objects.filter(user_id=user_id, status__in=SPEND_STATES, paid_at__gte=since).aggregate(
        cents=minor_units_sum(F("total") - F("amount_refunded"), currency=currency)
    )
    return from_minor_units(row["cents"], currency)


def tier_refresh(*, account: Account, rules: Rules | None = None, now=None) -> TierChange | None:
    """Put the member in the tier their rolling spend reaches, recording the change (call with the row locked)."""
    rules = rules or current()
    now = now or timezone.now()
    spend = spend_in_window(user_id=account.pk, rules=rules, now=now)
    tier = rules.tier_for(spend)
    if (tier.pk if tier else None) == account.tier_id:
        return None
    old = next((t for t in rules.tiers if t.pk == account.tier_id), None)
    change = TierChange.objects.create(
        account=account,
        from_name=old.name if old else "",
        to_name=tier.name if tier else "",
        spend=spend,
        is_upgrade=(tier.min_spend if tier else -1) > (old.min_spend if old else -1),
        created_at=now,
    )
    account.tier, account.tier_since = tier, now
    account.save(update_fields=["tier", "tier_since"])
    return change


def tiers_refresh(*, now=None) -> int:
    """Daily: members whose spend has left the window move down (upgrades happen at once, when paid)."""
    now = now or timezone.now()
    rules = current()
    changed = 0
    for account_id in Account.objects.exclude(tier=None).values_list("pk", flat=True).iterator():
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=account_id)
            if tier_refresh(account=account, rules=rules, now=now):
                changed += 1
    return changed


def tiers_reassign_all(*, now=None) -> int:
    """After staff change the tiers: everyone is placed again."""
    now = now or timezone.now()
    rules = current()
    changed = 0
    for account_id in Account.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=account_id)
            if tier_refresh(account=account, rules=rules, now=now):
                changed += 1
    return changed
