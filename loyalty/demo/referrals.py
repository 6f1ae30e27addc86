"""The demo referrals (REFERRALS), kept true to the orders as the store grows."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from loyalty.demo.common import DEMO_DOMAIN, _historical
from loyalty.demo.members import Member, _joined
from loyalty.models import Referral
from loyalty.services import SPEND_STATES, comparable_address
from shop.accounts.models import Address
from shop.core.demo import DemoContext
from shop.orders.models import PAID_STATES, Order

# The demo referrals: (advocate, status, when the friend's first order was paid, in days ago).
# "shopper" is the demo shopper; "customer" a regular demo customer drawn from the seed.
REFERRALS = [
    ("shopper", Referral.Status.REWARDED, 348),  # its reward expires within the month
    ("shopper", Referral.Status.REWARDED, 342),  # and this one's (what the shopper's points left of them)
    ("shopper", Referral.Status.REWARDED, 210),
    ("shopper", Referral.Status.REWARDED, 75),
    ("shopper", Referral.Status.PENDING, 20),
    ("customer", Referral.Status.REWARDED, 150),
    ("customer", Referral.Status.REWARDED, 40),
    ("customer", Referral.Status.PENDING, 60),
    ("customer", Referral.Status.REFUSED, 100),
]
SAME_ADDRESS = Referral.Refusal.SAME_ADDRESS


@dataclass
class FirstOrder:
    """A customer's first paid order, the one a referral is decided on."""

    id: int
    user_id: int
    email: str
    placed_at: dt.datetime
    paid_at: dt.datetime
    address: dict


def _referrals(ctx: DemoContext, now: dt.datetime, members: list[Member]) -> set[int]:
    """The demo referrals (REFERRALS), kept true to the orders; returns the advocates whose rewards changed.

    A larger --scale can give a friend an earlier first order, or a first order to one who
    had none: such a referral no longer says what the services would have decided, so it
    is removed and its place taken by a new one (the others are left as they are).
    """
    by_id = {m.id: m for m in members}
    shopper = next((m for m in members if m.is_shopper), None)
    firsts, never = _first_orders(members)
    first_of = {first.user_id: first for first in firsts}
    never_ids = {m.id for m in never}
    kept, changed = [], set()
    for referral in Referral.objects.filter(friend__email__endswith=DEMO_DOMAIN).order_by("pk"):
        if referral.status == Referral.Status.PENDING:
            holds = referral.friend_id in never_ids
        else:
            holds = getattr(first_of.get(referral.friend_id), "id", None) == referral.rewarded_order_id
        if holds:
            kept.append(referral)
            continue
        if referral.status == Referral.Status.REWARDED:
            changed.add(referral.advocate_id)
        referral.delete()
    open_specs = _unmatched(kept, shopper, now)
    used = {shopper.id} if shopper else set()
    used |= {r.advocate_id for r in kept} | {r.friend_id for r in kept}
    # Advocates besides the shopper: regular customers (three paid orders or more), drawn from the seed.
    regulars = [
        uid
        for uid, n in sorted(Counter(_paid_counts(members)).items())
        if n >= 3 and uid not in used and not by_id[uid].is_shopper
    ]
    wanted = sum(1 for who, _s, _d in open_specs if who != "shopper")
    drawn = iter(by_id[uid] for uid in ctx.rng("loyalty:referrals").sample(regulars, k=min(wanted, len(regulars))))
    made = []
    for who, status, days in open_specs:
        advocate = shopper if who == "shopper" else next(drawn, None)
        if advocate is None:
            continue
        referral = _referral(advocate, status, now - dt.timedelta(days=days), firsts, never, used, now)
        if referral is not None:
            used |= {advocate.id, referral.friend_id}
            made.append(referral)
            if referral.status == Referral.Status.REWARDED:
                changed.add(advocate.id)
    with _historical(Referral):
        Referral.objects.bulk_create(made)
    ctx.log(f"loyalty: referrals: {len(kept)} present, {len(made)} added")
    return changed


def _unmatched(kept: list[Referral], shopper: Member | None, now: dt.datetime) -> list[tuple]:
    """The REFERRALS not yet made: each present referral fills the spec of its kind nearest in time."""
    open_specs = list(REFERRALS)
    for referral in kept:
        who = "shopper" if shopper and referral.advocate_id == shopper.id else "customer"
        when = referral.decided_at or referral.created_at
        same = [spec for spec in open_specs if spec[:2] == (who, referral.status)]
        if same:
            open_specs.remove(min(same, key=lambda spec: abs(now - dt.timedelta(days=spec[2]) - when)))
    return open_specs


def _referral(advocate, status, target, firsts, never, used, now) -> Referral | None:
    first_order = Order.objects.filter(user_id=advocate.id).order_by("placed_at").values_list("placed_at", flat=True)
    member_since = _joined(advocate, first_order.first()) + dt.timedelta(days=1)
    if status == Referral.Status.PENDING:
        # Signed up through the advocate's link and has not ordered yet.
        friends = [m for m in never if m.id not in used and member_since < m.date_joined <= now]
        friend = min(friends, key=lambda m: abs(m.date_joined - target), default=None)
        if friend is None:
            return None
        return Referral(
            advocate_id=advocate.id, friend_id=friend.id, created_at=friend.date_joined + dt.timedelta(minutes=3)
        )
    saved = _addresses(advocate.id)
    candidates = [
        first
        for first in firsts
        if first.user_id not in used
        and first.placed_at > member_since
        and comparable_address(first.address["line1"], first.address["postal_code"], first.address["country"])
        not in saved
    ]
    first = min(candidates, key=lambda f: abs(f.paid_at - target), default=None)
    if first is None:
        return None
    referral = Referral(
        advocate_id=advocate.id,
        friend_id=first.user_id,
        # The friend followed the link while paying: after the order was placed (no welcome discount on it),
        # before it was paid (still no paid order, so the referral could attach).
        created_at=first.placed_at + (first.paid_at - first.placed_at) / 2,
        decided_at=first.paid_at,
        rewarded_order_id=first.id,
        status=Referral.Status.REWARDED,
    )
    if status == Referral.Status.REFUSED:
        # The advocate had the friend's address saved: the rule sees one household.
        with _historical(Address):
            Address.objects.create(
                user_id=advocate.id,
                full_name=first.address["name"],
                **{k: v for k, v in first.address.items() if k != "name"},
                created_at=max(member_since, first.placed_at - dt.timedelta(days=30)),
            )
        referral.status, referral.refusal = Referral.Status.REFUSED, SAME_ADDRESS
    return referral


def _first_orders(members: list[Member]) -> tuple[list[FirstOrder], list[Member]]:
    """First paid orders that a referral can be decided on, and the customers who never ordered.

    Only first orders still in a paid state and not refunded: a reward on an order that was
    later wholly refunded would have been taken back, which this seeder does not replay.
    """
    ids = {m.id for m in members if not m.is_shopper}
    seen, firsts = set(), []
    address = ["line1", "line2", "city", "region", "postal_code", "country", "phone", "name"]
    rows = (
        Order.objects.filter(user__email__endswith=DEMO_DOMAIN, status__in=SPEND_STATES)
        .order_by("paid_at", "id")
        .values_list(
            "id", "user_id", "email", "placed_at", "paid_at", "status", "amount_refunded",
            *[f"shipping_{part}" for part in address],
        )
    )  # fmt: skip
    for order_id, user_id, email, placed_at, paid_at, status, refunded, *parts in rows:
        if user_id in seen or user_id not in ids:
            continue
        seen.add(user_id)
        if status in PAID_STATES and not refunded:
            firsts.append(
                FirstOrder(order_id, user_id, email, placed_at, paid_at, dict(zip(address, parts, strict=True)))
            )
    ordered = set(Order.objects.filter(user__email__endswith=DEMO_DOMAIN).values_list("user_id", flat=True))
    never = [m for m in members if m.id in ids and m.id not in ordered]
    return firsts, never


def _paid_counts(members: list[Member]):
    ids = {m.id for m in members}
    for user_id in Order.objects.filter(user__email__endswith=DEMO_DOMAIN, paid_at__isnull=False).values_list(
        "user_id", flat=True
    ):
        if user_id in ids:
            yield user_id


def _addresses(user_id: int) -> set[str]:
    """services.advocate_addresses: saved, and shipped to."""
    saved = Address.objects.filter(user_id=user_id).values_list("line1", "postal_code", "country")
    shipped = Order.objects.filter(user_id=user_id).values_list(
        "shipping_line1", "shipping_postal_code", "shipping_country"
    )
    return {comparable_address(*row) for row in [*saved, *shipped]}
