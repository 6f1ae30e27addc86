"""Demo loyalty data: the points, tiers and referrals the demo customers would have by now.

Runs last (after the orders and discounts seeders) and writes what loyalty.services
and the scheduled jobs would have written at the time, had the program been running
all along with its current rules:

* Every demo customer is a member from when they joined (their first order, if
  that came first; the demo shopper since SHOPPER_MEMBER_BEFORE their first
  order, about 400 days), with the sign-up bonus then.
* Each paid order earns when paid: the merchandise after discounts and points ×
  earn_rate × the multiplier of the tier the customer had then, pending for
  pending_days, expiring after expiry_days. Refunds take back in proportion to
  the merchandise refunded, a cancellation after payment all of it
  (order_points_settle: from the order's own lot only, what was spent of it
  stays spent).
* Birthdays since joining, on the day (the birthday job), and reviews of products
  bought and paid for before the review.
* Tiers from the spend over tier_window_days, as services.spend_in_window counts
  it at that moment (refunds and cancellations known by then), re-computed when an
  order is paid or settled and by the daily job; a TierChange for every move.
* Expiry as the hourly job writes it (everything past its date, oldest expiry
  first), and the reminders the six-hourly job would have queued and sent. So old
  members have expired points, and those who earned 11-12 months ago have points
  expiring within the month.
* A few referrals (REFERRALS): rewarded, pending, and one refused because the
  friend's first order went to an address the advocate had saved. A rewarded or
  refused friend was attached between placing and paying their first order (the
  only moment the services allow that leaves the order without the welcome
  discount, which the demo orders do not have); a pending one signed up through
  the link and has not ordered yet.

* Points spent at checkout: on a share of the demo orders (POINTS_SHARE, picked
  by a hash of the order's key) placed when the member had at least
  min_redeem_points usable, points pay part of the merchandise, as
  PointsAdjuster and services.points_redeem would have: a plausible number
  between the minimum and the cap (max_redeem_percent of what was left to pay),
  a redeem entry at placed_at taking the oldest-expiring lots, and on the order
  a "points" adjustment, the amount spread over its lines' discounts
  (shop.cart.pricing.allocate), discount_total, total and its payments lowered
  by it (like marketing/discounts/demo.py does for promotions). The order then
  earns on what was paid in money. A checkout that was cancelled or expired
  gives its points back (services.order_points_settle: with the earliest
  expiry of the lots used). Orders the demo cannot keep adding up are left
  alone: refunded ones (refunds are in money of the old total), those still
  awaiting payment, and those with a promotion on their lines (so that the
  points' shares can be taken off again exactly, below). Shipping never
  changes: it is priced on the merchandise before points.

How: each member's events are replayed in time order, in memory, with the
services' rules (program.Rules, services.take), the jobs' runs included, and the
rows are written with bulk_create (created_at set to when it happened).

Idempotent: a member whose ledger has entries is left alone, so a rerun writes
nothing. A larger --scale gives old customers new orders in the middle of their
history (and may give a referred friend an earlier first order, which changes the
referral). The ledger cannot take entries in the past (balances run in time
order), so such a member's history is written again from the start, provided it
holds only what this seeder writes (no staff adjustment, no points spent on an
order placed through the checkout). Their demo orders paid partly with points get
their points taken off first (never twice: only orders whose totals still agree
with their adjustments, or the member is left alone), then the replay decides
again: the same orders are picked (the hash) and spend what the member could
then (with more orders, often more points, or enough where there were too few).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import itertools
import math
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from loyalty.adjusters import PointsAdjuster, usable_points
from loyalty.models import (
    REFERRAL_ALPHABET,
    Account,
    ExpiryNotice,
    Kind,
    LedgerEntry,
    LotUse,
    Reason,
    Referral,
    Tier,
    TierChange,
)
from loyalty.program import Rules, current, forget, grouped
from loyalty.services import (
    CLOSED_UNPAID,
    SPEND_STATES,
    Lot,
    comparable_address,
    masked_email,
    points_share,
    take,
)
from shop.accounts.models import Address, User
from shop.cart.pricing import AdjustmentKind, PricedCart, PricedLine, allocate
from shop.catalog.models import Review
from shop.core.demo import DemoContext
from shop.core.money import Money
from shop.orders.models import PAID_STATES, EventKind, Order, OrderAdjustment, OrderEvent, OrderLine
from shop.payments.models import Payment, Refund

DEMO_DOMAIN = "@example.net"
SHOPPER = "shopper@example.com"
SCOPE = "demo"  # the orders seeder's idempotency scope: the demo orders
# The shopper's orders go back 290 days (shop/orders/demo.py); their membership a little further.
# (Counted from the first order, not from now, so that writing the history again gives the same.)
SHOPPER_MEMBER_BEFORE = dt.timedelta(days=110)
BATCH = 1000  # members per batch
ROWS = 2000  # rows per insert

# The scheduled jobs' periods (settings.CELERY_BEAT_SCHEDULE), used to date what they wrote.
JOBS = {
    "expire": ("expire-loyalty-points", 3600),
    "remind": ("queue-points-expiry-reminders", 6 * 3600),
    "birthday": ("birthday-points", 6 * 3600),
    "tiers": ("refresh-loyalty-tiers", 24 * 3600),
}
SEND_DELAY = dt.timedelta(seconds=40)  # a reminder goes out right after it is queued
CLAIM = dt.timedelta(minutes=5)  # loyalty.tasks.CLAIM

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

# Points spent at checkout: the share of demo orders whose customer put points on the cart (if they had enough),
# and of those, the share who used all that could apply (the others typed a round number).
POINTS_SHARE = 0.12
ALL_POINTS_SHARE = 0.3
# The demo shopper's, by order key (shop/orders/demo.py SHOPPER_ORDERS): the points put on the cart. The first
# checkout took the signup bonus and most of the oldest referral reward, and was cancelled: the points came
# back with the bonus's expiry date and expired with it five weeks ago. The second, two weeks ago, took the rest
# of that reward and most of the next one, whose last points expire within the month.
SHOPPER_POINTS = {"demo-shopper-2": 500, "demo-shopper-4": 500}

# Events at the same moment happen in this order.
JOIN, PLACED, PAID, SETTLE, REWARD, EXPIRE, REMIND, TIERS = range(8)


def seed(ctx: DemoContext) -> None:
    now = timezone.now()
    forget()  # the rules as the database has them now (a flushed or restored database bypasses the signals)
    rules = current()
    if not rules.program.is_active:
        ctx.log("loyalty: the program is paused, so nobody earned: skipped")
        return
    members = _members()
    if not members:
        ctx.log("loyalty: no demo customers, skipped")
        return
    changed = _referrals(ctx, now, members)
    todo, rebuilt = _to_write(ctx, rules, members, changed)
    ctx.log(f"loyalty: {len(members):,} members, writing {len(todo):,} histories ({rebuilt:,} written again)")
    written = Counter()
    for batch in ctx.batches(todo, BATCH, "loyalty members"):
        facts = Facts.load(batch, now)
        replays = [Replay(rules, member, facts, now, seed=ctx.seed).play() for member in batch]
        written.update(_write(replays))
    ctx.log(
        f"loyalty: {written['entries']:,} ledger entries, {written['changes']:,} tier changes, "
        f"{written['notices']:,} expiry reminders, {written['orders']:,} orders paid partly with points "
        f"({written['given_back']:,} of them cancelled or expired, their points given back)"
    )


# --- Members --------------------------------------------------------------------------------------------------


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


# --- What happened to each member ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFacts:
    id: int
    quantity: int
    unit_price: Decimal
    subtotal: Decimal
    discount: Decimal


@dataclass
class Spent:
    """Points a checkout spent on an order, and what they took off each of its lines."""

    points: int
    value: Decimal
    shares: dict[int, Decimal]
    earliest_expiry: dt.datetime | None  # of the lots they came from


@dataclass
class OrderFacts:
    id: int
    user_id: int
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    total: Decimal
    shipping_total: Decimal = Decimal(0)
    discount_total: Decimal = Decimal(0)
    key: str = ""  # the orders seeder's key ("" for an order placed through the checkout)
    status: str = ""
    currency: str = ""
    amount_refunded: Decimal = Decimal(0)
    basis: Decimal = Decimal(0)  # services.order_basis: merchandise after discounts (and points)
    lines: list[LineFacts] = field(default_factory=list)
    products: set[int] = field(default_factory=set)
    refunds: list[tuple[dt.datetime, Decimal]] = field(default_factory=list)  # (when, refunded so far)
    cancelled_at: dt.datetime | None = None  # after payment only
    closed_at: dt.datetime | None = None  # cancelled or expired before payment
    has_points: bool = False  # already paid partly with points
    spent: Spent | None = None  # the points the replay spent on it

    def can_take_points(self) -> bool:
        """A demo order that points can be written on with everything still adding up (the module docstring)."""
        if not self.key or self.has_points or not self.lines or self.refunds or self.amount_refunded:
            return False
        if any(line.discount for line in self.lines) or not any(line.subtotal > 0 for line in self.lines):
            return False
        if self.paid_at is not None:
            return self.status in PAID_STATES and self.cancelled_at is None
        return self.status in CLOSED_UNPAID and self.closed_at is not None

    def priced(self) -> PricedCart:
        """The order's cart as the pricing pipeline had it when the points adjuster ran (no line discounts)."""
        lines = [
            PricedLine(
                line_id=line.id,
                product=None,
                quantity=line.quantity,
                unit_price=Money(line.unit_price, self.currency),
                compare_at=None,
                total=Money(line.subtotal, self.currency),
            )
            for line in self.lines
        ]
        subtotal = Money(sum((line.subtotal for line in self.lines), Decimal(0)), self.currency)
        return PricedCart(currency=self.currency, lines=lines, subtotal=subtotal)

    def refunded(self, at: dt.datetime) -> Decimal:
        done = [amount for when, amount in self.refunds if when <= at]
        return done[-1] if done else Decimal(0)

    def is_cancelled(self, at: dt.datetime) -> bool:
        return self.cancelled_at is not None and self.cancelled_at <= at

    def is_paid(self, at: dt.datetime) -> bool:
        """In PAID_STATES at that moment: paid, not yet cancelled nor wholly refunded."""
        wholly_refunded = self.total > 0 and self.refunded(at) >= self.total
        return self.paid_at is not None and self.paid_at <= at and not self.is_cancelled(at) and not wholly_refunded

    def undone(self, at: dt.datetime) -> Decimal:
        """services.undone_fraction, as the order stood then: of what was paid for the merchandise."""
        if self.is_cancelled(at) or (self.total > 0 and self.refunded(at) >= self.total):
            return Decimal(1)
        merchandise = self.total - self.shipping_total
        if merchandise <= 0:
            return Decimal(0)
        return min(Decimal(1), self.refunded(at) / merchandise)


@dataclass
class Facts:
    """A batch of members' orders, reviews and referral rewards, read in a few queries."""

    orders: dict[int, list[OrderFacts]]
    reviews: dict[int, list[tuple[int, dt.datetime, str]]]
    referrals: dict[int, list[tuple[int, dt.datetime, str, int]]]

    @classmethod
    def load(cls, members, now) -> Facts:
        ids = [m.id for m in members]
        by_id: dict[int, OrderFacts] = {}
        orders = defaultdict(list)
        rows = (
            Order.objects.filter(user_id__in=ids)
            .order_by("placed_at", "id")
            .values_list(
                "id", "user_id", "placed_at", "paid_at", "total", "shipping_total", "discount_total",
                "idempotency_scope", "idempotency_key", "status", "currency", "amount_refunded",
            )
        )  # fmt: skip
        for pk, user_id, placed_at, paid_at, total, shipping, discount, scope, key, *rest in rows:
            key = key if scope == SCOPE else ""
            by_id[pk] = order = OrderFacts(pk, user_id, placed_at, paid_at, total, shipping, discount, key, *rest)
            orders[order.user_id].append(order)
        lines = OrderLine.objects.filter(order__user_id__in=ids).order_by("id")
        for pk, order_id, product_id, quantity, unit_price, subtotal, discount in lines.values_list(
            "id", "order_id", "product_id", "quantity", "unit_price", "subtotal", "discount"
        ):
            order = by_id[order_id]
            order.lines.append(LineFacts(pk, quantity, unit_price, subtotal, discount))
            order.basis += subtotal - discount
            order.products.add(product_id)
        refunds = Refund.objects.filter(order__user_id__in=ids).order_by("created_at", "id")
        for order_id, amount, created_at in refunds.values_list("order_id", "amount", "created_at"):
            order = by_id[order_id]
            order.refunds.append((created_at, order.refunded(now) + amount))
        for order_id, kind, created_at in OrderEvent.objects.filter(
            order__user_id__in=ids, kind__in=[EventKind.CANCELLED, EventKind.EXPIRED]
        ).values_list("order_id", "kind", "created_at"):
            order = by_id[order_id]
            if order.paid_at is None:
                order.closed_at = created_at
            elif kind == EventKind.CANCELLED:
                order.cancelled_at = created_at
        with_points = OrderAdjustment.objects.filter(order__user_id__in=ids, kind=AdjustmentKind.POINTS)
        for order_id in with_points.values_list("order_id", flat=True):
            by_id[order_id].has_points = True
        reviews = defaultdict(list)
        for user_id, *review in Review.objects.filter(user_id__in=ids).values_list(
            "user_id", "product_id", "created_at", "product__name"
        ):
            reviews[user_id].append(tuple(review))
        referrals = defaultdict(list)
        for pk, advocate_id, *rest in Referral.objects.filter(
            advocate_id__in=ids, status=Referral.Status.REWARDED, rewarded_order__isnull=False
        ).values_list("pk", "advocate_id", "decided_at", "friend__email", "rewarded_order_id"):
            referrals[advocate_id].append((pk, *rest))
        return cls(orders, reviews, referrals)


# --- The replay -----------------------------------------------------------------------------------------------


def _every(job: str) -> dt.timedelta:
    """The job's period in the beat schedule (a number of seconds or a timedelta; anything else: the default)."""
    name, default = JOBS[job]
    schedule = settings.CELERY_BEAT_SCHEDULE.get(name, {}).get("schedule", default)
    if isinstance(schedule, dt.timedelta):
        return schedule
    return dt.timedelta(seconds=schedule if isinstance(schedule, int | float) else default)


def _run_at(moment: dt.datetime, job: str, *, after: bool = False) -> dt.datetime:
    """The job's first run at (or strictly after) `moment`, on a grid of its period."""
    period = _every(job).total_seconds()
    runs = moment.timestamp() / period
    n = math.floor(runs) + 1 if after else math.ceil(runs)
    return dt.datetime.fromtimestamp(n * period, tz=dt.UTC)


class Replay:
    """One member's history, played in time order with the rules of loyalty.services.

    The state mirrors the database's: entries (with balance_after), lots with what is
    left of them, the tier, the reminders sent. Nothing here touches the database.
    """

    def __init__(self, rules: Rules, member: Member, facts: Facts, now: dt.datetime, *, seed: int):
        self.rules, self.program, self.member, self.now, self.seed = rules, rules.program, member, now, seed
        self.orders = facts.orders.get(member.id, [])
        self.joined = _joined(member, self.orders[0].placed_at if self.orders else None)
        self.balance = 0
        self.tier: Tier | None = None
        self.tier_since: dt.datetime | None = None
        self.entries: list[LedgerEntry] = []
        self.uses: list[tuple[LedgerEntry, LedgerEntry, int]] = []
        self.lots: list[Lot] = []
        self.changes: list[TierChange] = []
        self.notices: list[ExpiryNotice] = []
        self.covered: dt.datetime | None = None  # the last reminder covers up to here
        self.earned: dict[int, LedgerEntry] = {}
        self.taken_back: Counter = Counter()
        self.references: set[str] = set()
        self.queue: list = []
        self.seq = itertools.count()
        self._schedule(facts)

    # -- what happens when --

    def at(self, when: dt.datetime, order: int, action, *args) -> None:
        if when <= self.now:
            heapq.heappush(self.queue, (when, order, next(self.seq), action, args))

    def _schedule(self, facts: Facts) -> None:
        p = self.program
        self.at(self.joined, JOIN, self.reward, Reason.SIGNUP, p.signup_points, "signup")
        for order in self.orders:
            if order.can_take_points() and self.with_points(order):
                self.at(order.placed_at, PLACED, self.placed, order)
            if order.paid_at is None:
                continue
            self.at(order.paid_at, PAID, self.paid, order)
            for when, _amount in order.refunds:
                self.at(when, SETTLE, self.settle, order, Reason.REFUND)
            if order.cancelled_at:
                self.at(order.cancelled_at, SETTLE, self.settle, order, Reason.CANCEL)
        for product_id, when, name in facts.reviews.get(self.member.id, []):
            if when >= self.joined:
                self.at(when, REWARD, self.review, product_id, name)
        for pk, decided_at, friend, order_id in facts.referrals.get(self.member.id, []):
            data = {"friend": masked_email(friend), "order": order_id}
            self.at(decided_at, REWARD, self.reward, Reason.REFERRAL, p.referral_points, f"referral:{pk}", True, data)
        if self.member.birthday and self.member.is_active:
            for year in range(self.joined.year, self.now.year + 1):
                when = _run_at(_local_midnight(_birthday_in(self.member.birthday, year)), "birthday")
                if when >= self.joined:
                    self.at(when, REWARD, self.reward, Reason.BIRTHDAY, p.birthday_points, f"birthday:{year}")

    def play(self) -> Replay:
        while self.queue:
            when, _order, _seq, action, args = heapq.heappop(self.queue)
            action(when, *args)
        return self

    # -- the services' writes --

    def write(self, now, *, kind: str, reason: str, points: int, taken=(), **fields) -> LedgerEntry:
        """services._write: one entry, the balance moved with it, the lots it used."""
        self.balance += points
        entry = LedgerEntry(
            account_id=self.member.id,
            kind=kind,
            reason=reason,
            points=points,
            balance_after=self.balance,
            created_at=now,
            **fields,
        )
        self.entries.append(entry)
        for lot, n in taken:
            self.uses.append((entry, lot.entry, n))
            lot.remaining -= n
        return entry

    def credit(self, now, *, reason: str, points: int, pending: bool = False, **fields) -> LedgerEntry:
        """services._credit: a lot, usable after the pending period if pending, expiring after expiry_days."""
        p = self.program
        expires_at = now + dt.timedelta(days=p.expiry_days) if p.expiry_days else None
        available_at = now + dt.timedelta(days=p.pending_days) if pending else now
        entry = self.write(
            now,
            kind=Kind.EARN,
            reason=reason,
            points=points,
            available_at=available_at,
            expires_at=expires_at,
            **fields,
        )
        self.hold(now, entry)
        return entry

    def hold(self, now, entry: LedgerEntry) -> None:
        """A new lot, and the jobs that will see it: expiry (the hourly run after its date) and its reminder."""
        self.lots.append(Lot(entry=entry, remaining=entry.points))
        expires_at = entry.expires_at
        if expires_at:
            # (Points given back may carry a date already past: the next hourly run takes them.)
            self.at(_run_at(max(expires_at, now), "expire"), EXPIRE, self.expire)
            if self.program.expiry_reminder_days:
                warn = max(expires_at - dt.timedelta(days=self.program.expiry_reminder_days), now)
                self.at(_run_at(warn, "remind"), REMIND, self.remind)

    def held(self) -> list[Lot]:
        """services.lots(): with points left, oldest expiry first, those that never expire last."""
        held = [lot for lot in self.lots if lot.remaining > 0]
        held.sort(key=lambda lot: (lot.entry.expires_at is None, lot.entry.expires_at or self.now))
        return held

    def spendable(self, now) -> list[Lot]:
        """services.lots(spendable=True): past their pending period, not past their expiry."""
        return [
            lot
            for lot in self.held()
            if (lot.entry.available_at is None or lot.entry.available_at <= now)
            and not (lot.entry.expires_at and lot.entry.expires_at <= now)
        ]

    def reward(self, now, reason: str, points: int, reference: str, pending: bool = False, data=None) -> None:
        """services.reward: once per reference."""
        if points <= 0 or reference in self.references:
            return
        self.references.add(reference)
        self.credit(now, reason=reason, points=points, pending=pending, reference=reference, data=data or {})

    def review(self, now, product_id: int, name: str) -> None:
        """services.review_reward: the product was bought in an order that was paid (and still was) then."""
        if any(product_id in o.products and o.is_paid(now) for o in self.orders):
            self.reward(now, Reason.REVIEW, self.program.review_points, f"review:{product_id}", data={"product": name})

    def paid(self, now, order: OrderFacts) -> None:
        """services.order_points_earn: at the tier the member had, pending; then the tier moves."""
        tier_id = self.tier.pk if self.tier else None
        points = self.rules.earned_on(order.basis, tier_id)
        if points > 0:
            data = {"tier": self.tier.name if self.tier else ""}
            self.earned[order.id] = self.credit(
                now, reason=Reason.ORDER, points=points, pending=True, order_id=order.id, data=data
            )
        self.tier_refresh(now)
        # The daily job moves the member down once this order leaves the window.
        window = dt.timedelta(days=self.program.tier_window_days)
        self.at(_run_at(order.paid_at + window, "tiers", after=True), TIERS, self.daily_tiers)

    def with_points(self, order: OrderFacts) -> bool:
        """Whether the customer put points on the cart for this order (if they had enough): fixed by its key."""
        if self.member.is_shopper:
            return order.key in SHOPPER_POINTS
        return _unit(f"{self.seed}:loyalty:points:{order.key}") < POINTS_SHARE

    def chosen(self, order: OrderFacts, most: int) -> int:
        """How many points were on the cart: all that could apply, or a round number the customer had in
        mind (up to five times the minimum; fixed by the order's key, so a replay with more points keeps it)."""
        if self.member.is_shopper:
            return SHOPPER_POINTS[order.key]
        least = self.program.min_redeem_points
        draw = _unit(f"{self.seed}:loyalty:points-chosen:{order.key}")
        if draw < ALL_POINTS_SHARE:
            return most
        wish = least + int(4 * least * (draw - ALL_POINTS_SHARE) / (1 - ALL_POINTS_SHARE)) // 100 * 100
        return min(wish, most)

    def placed(self, now, order: OrderFacts) -> None:
        """The checkout with points on the cart: PointsAdjuster priced them (usable_points), then
        services.points_redeem debited them (after expiring what was due), oldest expiry first."""
        least = self.program.min_redeem_points
        spendable = self.spendable(now)
        available = sum(lot.remaining for lot in spendable)
        if available < least:
            return
        priced = order.priced()
        most, _value = usable_points(priced, chosen=available, available=available)
        if most < least:
            return
        points, value = usable_points(priced, chosen=self.chosen(order, most), available=available)
        if points <= 0 or points < least or value.amount >= order.total:
            return  # (a checkout with nothing left to pay in money is paid without a payment: not these orders)
        self.expire(now)
        taken = take(spendable, points)
        self.write(now, kind=Kind.REDEEM, reason=Reason.ORDER, points=-points, taken=taken, order_id=order.id)
        left = {k: v for k, v in priced.left_to_pay().items() if v > 0}
        expiries = [lot.entry.expires_at for lot, _n in taken if lot.entry.expires_at]
        order.spent = Spent(
            points, value.amount, allocate(value.amount, left, priced.currency), min(expiries, default=None)
        )
        order.total -= value.amount
        order.basis -= value.amount
        if order.closed_at is not None:
            self.at(order.closed_at, SETTLE, self.give_back, order)

    def give_back(self, now, order: OrderFacts) -> None:
        """services.order_points_settle for a checkout cancelled or expired before payment: the points it
        spent come back, usable at once, with the earliest expiry of the lots they came from."""
        entry = self.write(
            now,
            kind=Kind.REVERSE,
            reason=Reason.CANCEL,
            points=order.spent.points,
            order_id=order.id,
            available_at=now,
            expires_at=order.spent.earliest_expiry,
        )
        self.hold(now, entry)
        self.tier_refresh(now)

    def settle(self, now, order: OrderFacts, reason: str) -> None:
        """services.order_points_settle for what an order earned (no demo order that spent points was paid
        and then refunded or cancelled: such orders are not picked)."""
        earned = self.earned.get(order.id)
        owed = points_share(earned.points, order.undone(now)) - self.taken_back[order.id] if earned else 0
        if owed > 0:
            # services._take_back: from the order's own lot only; what was spent of it stays spent.
            own = next((lot for lot in self.held() if lot.entry is earned), None)
            points = min(owed, own.remaining if own else 0)
            if points > 0:
                self.write(
                    now,
                    kind=Kind.REVERSE,
                    reason=reason,
                    points=-points,
                    taken=[(own, points)],
                    order_id=order.id,
                    data={"not_recovered": owed - points} if owed > points else {},
                )
                self.taken_back[order.id] += points
                self.tier_refresh(now)
        self.at(_run_at(now, "tiers", after=True), TIERS, self.daily_tiers)

    def expire(self, now) -> None:
        """services._expire_due: one entry for every lot past its date."""
        due = [lot for lot in self.held() if lot.entry.expires_at and lot.entry.expires_at <= now]
        points = sum(lot.remaining for lot in due)
        if points:
            taken = [(lot, lot.remaining) for lot in due]
            self.write(
                now, kind=Kind.EXPIRE, reason=Reason.EXPIRY, points=-points, taken=taken, data={"lots": len(due)}
            )

    def remind(self, now) -> None:
        """services.expiry_notices_queue for this member, and the task that sent it right after."""
        days = dt.timedelta(days=self.program.expiry_reminder_days)
        start = max(now, self.covered) if self.covered else now
        held = [lot for lot in self.held() if lot.entry.expires_at and lot.entry.expires_at > start]
        if not any(lot.entry.expires_at <= now + days for lot in held):
            return
        # It announces everything expiring up to what it covers, so nothing falls between two reminders.
        coming = [lot for lot in held if lot.entry.expires_at <= now + 2 * days]
        sent = min(now + SEND_DELAY, self.now)
        self.covered = now + 2 * days
        self.notices.append(
            ExpiryNotice(
                account_id=self.member.id,
                points=sum(lot.remaining for lot in coming),
                first_expiry=min(lot.entry.expires_at for lot in coming),
                covers_until=self.covered,
                created_at=now,
                claimed_until=sent + CLAIM,
                sent_at=sent,
                attempts=1,
            )
        )

    def daily_tiers(self, now) -> None:
        """services.tiers_refresh: members with a tier only."""
        if self.tier is not None:
            self.tier_refresh(now)

    def tier_refresh(self, now) -> None:
        spend = self.spend(now)
        tier = self.rules.tier_for(spend)
        if (tier.pk if tier else None) == (self.tier.pk if self.tier else None):
            return
        old = self.tier
        self.changes.append(
            TierChange(
                account_id=self.member.id,
                from_name=old.name if old else "",
                to_name=tier.name if tier else "",
                spend=spend,
                is_upgrade=(tier.min_spend if tier else -1) > (old.min_spend if old else -1),
                created_at=now,
            )
        )
        self.tier, self.tier_since = tier, now

    def spend(self, now) -> Decimal:
        """services.spend_in_window as it stood then: paid in the window, less what was refunded by then."""
        since = now - dt.timedelta(days=self.program.tier_window_days)
        return sum(
            (
                o.total - o.refunded(now)
                for o in self.orders
                if o.paid_at is not None and since <= o.paid_at <= now and not o.is_cancelled(now)
            ),
            Decimal(0),
        )


def _birthday_in(birthday: dt.date, year: int) -> dt.date:
    """29 February counts on the 28th in other years (services.birthdays_reward)."""
    try:
        return birthday.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


# --- Writing --------------------------------------------------------------------------------------------------


def _write(replays: list[Replay]) -> Counter:
    _accounts(replays)
    # In time order across the batch, each member's own order kept for entries at the same moment.
    entries = [
        entry
        for _when, _member, _n, entry in sorted(
            (e.created_at, r.member.id, n, e) for r in replays for n, e in enumerate(r.entries)
        )
    ]
    LedgerEntry.objects.bulk_create(entries, batch_size=ROWS)
    if any(entry.pk is None for entry in entries):
        raise RuntimeError("The loyalty demo needs a database that returns ids from bulk inserts.")
    uses = [LotUse(entry_id=e.pk, lot_id=lot.pk, points=n) for r in replays for e, lot, n in r.uses]
    LotUse.objects.bulk_create(uses, batch_size=ROWS)
    changes = sorted((c for r in replays for c in r.changes), key=lambda c: (c.created_at, c.account_id))
    TierChange.objects.bulk_create(changes, batch_size=ROWS)
    notices = sorted((n for r in replays for n in r.notices), key=lambda n: (n.created_at, n.account_id))
    with _historical(ExpiryNotice):
        ExpiryNotice.objects.bulk_create(notices, batch_size=ROWS)
    spent = [order for r in replays for order in r.orders if order.spent is not None]
    _points_put_on(spent)
    return Counter(
        entries=len(entries),
        changes=len(changes),
        notices=len(notices),
        orders=len(spent),
        given_back=sum(1 for order in spent if order.paid_at is None),
    )


def _accounts(replays: list[Replay]) -> None:
    """Create the members' accounts as they joined, or bring existing ones to the replayed balance and tier."""
    existing = Account.objects.in_bulk([r.member.id for r in replays])
    new = {}
    for r in replays:
        account = existing.get(r.member.id)
        if account is None:
            account = new[r.member.email] = Account(user_id=r.member.id, created_at=r.joined)
        account.balance, account.tier, account.tier_since = r.balance, r.tier, r.tier_since
    _codes(new)
    with _historical(Account):
        Account.objects.bulk_create(list(new.values()), batch_size=ROWS)
    Account.objects.bulk_update(list(existing.values()), ["balance", "tier", "tier_since"], batch_size=ROWS)


def _codes(accounts: dict[str, Account]) -> None:
    """Referral codes fixed by the member's email (new_referral_code's alphabet), drawn again on a clash."""
    pending = dict(accounts)
    for attempt in itertools.count():
        if not pending:
            return
        for email, account in pending.items():
            account.referral_code = _code(f"{email}:{attempt}")
        drawn = Counter(a.referral_code for a in pending.values())
        taken = set(Account.objects.filter(referral_code__in=list(drawn)).values_list("referral_code", flat=True))
        pending = {k: a for k, a in pending.items() if a.referral_code in taken or drawn[a.referral_code] > 1}


def _code(text: str) -> str:
    value = int.from_bytes(hashlib.sha256(f"loyalty:referral:{text}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(8):
        value, digit = divmod(value, len(REFERRAL_ALPHABET))
        chars.append(REFERRAL_ALPHABET[digit])
    return "".join(chars)


def _unit(text: str) -> float:
    """A number in (0, 1) fixed by the text."""
    return (int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") + 0.5) / 2**64


@contextmanager
def _historical(model):
    """Let bulk_create keep the created_at we give (the seeder runs alone in its command)."""
    created = model._meta.get_field("created_at")
    created.auto_now_add = False
    try:
        yield
    finally:
        created.auto_now_add = True


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Orders paid partly with points ---------------------------------------------------------------------------


def _points_put_on(orders: list[OrderFacts]) -> None:
    """What the checkout wrote for the points on each order: the adjustment (PointsAdjuster's), the lines'
    shares, the lower totals and payments of the new total (marketing/discounts/demo.py History.write)."""
    OrderAdjustment.objects.bulk_create(
        [
            OrderAdjustment(
                order_id=order.id,
                kind=AdjustmentKind.POINTS,
                label=_points_label(order.spent.points),
                amount=-order.spent.value,
                source=PointsAdjuster.source,
                reference=f"points:{order.spent.points}",
            )
            for order in orders
        ],
        batch_size=ROWS,
    )
    lines = [
        OrderLine(pk=line.id, discount=line.discount + order.spent.shares[line.id])
        for order in orders
        for line in order.lines
        if line.id in order.spent.shares
    ]
    OrderLine.objects.bulk_update(lines, ["discount"], batch_size=ROWS)
    totals = {order.id: (order.discount_total + order.spent.value, order.total, order.currency) for order in orders}
    _totals_set(totals)


def _points_changed_since(member_ids: set[int]) -> set[int]:
    """Members with a demo order paid partly with points whose discount_total no longer agrees with its
    adjustments: something changed it since (a promotion written over it), so its points could not be
    taken off exactly. Such members are left as they are."""
    changed = set()
    for ids in _chunks(sorted(member_ids)):
        orders = Order.objects.filter(user_id__in=ids, idempotency_scope=SCOPE, adjustments__kind=AdjustmentKind.POINTS)
        adjusted = defaultdict(Decimal)
        for order_id, amount in (
            OrderAdjustment.objects.filter(order__in=orders)
            .exclude(kind=AdjustmentKind.SHIPPING)
            .values_list("order_id", "amount")
        ):
            adjusted[order_id] -= amount
        for pk, user_id, discount_total in orders.values_list("pk", "user_id", "discount_total"):
            if discount_total != adjusted[pk]:
                changed.add(user_id)
    return changed


def _points_taken_off(member_ids: set[int]) -> int:
    """Put the members' demo orders paid partly with points back as they were before (their histories are
    about to be written again, which decides again). Exact: the points were spread over the lines'
    subtotals (those orders had no line discounts), so the same allocation takes them off."""
    restored = 0
    for ids in _chunks(sorted(member_ids)):
        adjustments = OrderAdjustment.objects.filter(
            kind=AdjustmentKind.POINTS,
            source=PointsAdjuster.source,
            order__user_id__in=ids,
            order__idempotency_scope=SCOPE,
        )
        value = {order_id: -amount for order_id, amount in adjustments.values_list("order_id", "amount")}
        if not value:
            continue
        orders = Order.objects.filter(pk__in=list(value)).values_list("id", "discount_total", "total", "currency")
        totals = {pk: (discount - value[pk], total + value[pk], currency) for pk, discount, total, currency in orders}
        subtotals = defaultdict(dict)
        discounts = {}
        for pk, order_id, subtotal, discount in OrderLine.objects.filter(order_id__in=list(value)).values_list(
            "id", "order_id", "subtotal", "discount"
        ):
            if subtotal > 0:
                subtotals[order_id][pk] = subtotal
            discounts[pk] = discount
        lines = [
            OrderLine(pk=pk, discount=discounts[pk] - share)
            for order_id, weights in subtotals.items()
            for pk, share in allocate(value[order_id], weights, totals[order_id][2]).items()
        ]
        OrderLine.objects.bulk_update(lines, ["discount"], batch_size=ROWS)
        _totals_set(totals)
        adjustments.delete()
        restored += len(value)
    return restored


def _totals_set(totals: dict[int, tuple[Decimal, Decimal, str]]) -> None:
    """{order id: (discount_total, total, currency)}: the orders' totals, and their payments of the total."""
    Order.objects.bulk_update(
        [Order(pk=pk, discount_total=discount, total=total) for pk, (discount, total, _c) in totals.items()],
        ["discount_total", "total"],
        batch_size=ROWS,
    )
    payments = [
        Payment(pk=pk, amount_minor=Money(totals[order_id][1], totals[order_id][2]).to_minor_units())
        for ids in _chunks(sorted(totals))
        for pk, order_id in Payment.objects.filter(order_id__in=ids).values_list("id", "order_id")
    ]
    Payment.objects.bulk_update(payments, ["amount_minor"], batch_size=ROWS)


def _points_label(points: int) -> str:
    """PointsAdjuster's label."""
    return ngettext("%(count)s point", "%(count)s points", points) % {"count": grouped(points)}


# --- Referrals ------------------------------------------------------------------------------------------------


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
