"""The loyalty panel on the analytics dashboards (settings.ANALYTICS_PANELS; see
marketing/discounts/panels.py for what a panel returns)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from loyalty import selectors
from loyalty.models import Kind, LedgerEntry


def points(start: dt.datetime, end: dt.datetime, **_figures) -> dict:
    """Points earned, redeemed and expired in the period; what the program owes now; members per tier."""
    moved = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        earned=Coalesce(Sum("points", filter=Q(kind=Kind.EARN) | Q(kind=Kind.ADJUST, points__gt=0)), 0),
        redeemed=Coalesce(Sum("points", filter=Q(kind=Kind.REDEEM)), 0),
        expired=Coalesce(Sum("points", filter=Q(kind=Kind.EXPIRE)), 0),
    )
    figures = {"earned": moved["earned"], "redeemed": -moved["redeemed"], "expired": -moved["expired"]}
    tiers = [{"tier": str(row["tier"]) if row["tier"] else _("no tier"), "members": row["members"]}
             for row in selectors.members_per_tier()]  # fmt: skip
    return {
        "key": "loyalty",
        "title": _("Loyalty"),
        "template": "loyalty/analytics_panel.html",
        "context": {"moved": figures, "owed": selectors.liability(), "tiers": tiers},
        "columns": ["tier", "members"],
        "table": tiers,
    }
