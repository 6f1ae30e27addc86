"""Who is in a segment: its rules made one query on customers (marketing.campaigns.rules).

Evaluated live: a segment's size and sample in the admin, a campaign's recipients chunk by
chunk, and a promotion's "only for a segment" at the cart (through the discounts app's
`DISCOUNTS_SEGMENTS` setting, which names this module: discounts does not import campaigns).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketing.campaigns import rules
from marketing.campaigns.models import Segment


def condition(segment: Segment, *, now: dt.datetime | None = None, seen: frozenset = frozenset()) -> Q:
    """The segment's rules combined (all or any) into one condition on customers."""
    ctx = rules.Context(now=now or timezone.now(), seen=seen | {segment.key})
    parts = [
        rules.rule_q(field_key=r.field, operator=r.operator, value=r.value, days=r.days, ctx=ctx)
        for r in segment.rules.all()
    ]
    if not parts:
        return Q()  # no rule: every customer
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if segment.match == Segment.Match.ALL else combined | part
    return combined


def members(segment: Segment, *, now: dt.datetime | None = None, seen: frozenset = frozenset()) -> QuerySet:
    """Active customers (staff excluded) in the segment, as a queryset to slice or count."""
    customers = get_user_model().objects.filter(is_active=True, is_staff=False)
    return customers.filter(condition(segment, now=now, seen=seen))


def members_by_key(*, key: str, now: dt.datetime | None = None, seen: frozenset = frozenset()) -> QuerySet:
    segment = Segment.objects.prefetch_related("rules").filter(key=key).first()
    if segment is None:
        return get_user_model().objects.none()
    return members(segment, now=now, seen=seen)


def sample(segment: Segment, *, size: int = 10) -> list:
    return list(members(segment).select_related("profile").order_by("?")[:size])


# The discounts app's view of segments (settings.DISCOUNTS_SEGMENTS names this module).


def is_member(key: str, customer) -> bool:
    if customer is None or not getattr(customer, "pk", None):
        return False
    try:
        return members_by_key(key=key).filter(pk=customer.pk).exists()
    except rules.RuleError:
        return False  # a segment whose rules no longer read (a deleted category) has no members


def choices() -> list[tuple[str, str]]:
    return list(Segment.objects.order_by("name").values_list("key", "name"))
