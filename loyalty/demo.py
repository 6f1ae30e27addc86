"""Demo loyalty data: the points, tiers and referrals the demo customers would have by now.

Runs last (after the orders and discounts seeders) and writes what loyalty.services
and the scheduled jobs would have written at the time, had the program been running
all along with its current rules:

* Every demo customer is a member from when they joined (their first order, if
  that came first; the demo shopper since SHOPPER_MEMBER_BEFORE their first
  order, about 400 days), with the sign-up bonus then.
* Each paid order earns when paid: the merchandise after discounts × earn_rate ×
  the multiplier of the tier the customer had then, pending for pending_days,
  expiring after expiry_days. Refunds take back in proportion, a cancellation
  after payment all of it (order_points_settle: the order's own lot first, never
  below zero).
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

Historical redemptions are left out: a points redemption changes an order's
totals, line discounts, adjustments and payments, and the demo orders are kept as
the orders and discounts seeders made them.

How: each member's events are replayed in time order, in memory, with the
services' rules (program.Rules, services.take), the jobs' runs included, and the
rows are written with bulk_create (created_at set to when it happened).

Idempotent: a member whose ledger has entries is left alone, so a rerun writes
nothing. A larger --scale gives old customers new orders in the middle of their
history (and may give a referred friend an earlier first order, which changes the
referral). The ledger cannot take entries in the past (balances run in time
order), so such a member's history is written again from the start, provided it
holds only what this seeder writes (no redemption, no staff adjustment).
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
from loyalty.program import Rules, current, forget
from loyalty.services import SPEND_STATES, Lot, comparable_address, masked_email, points_share, take
from shop.accounts.models import Address, User
from shop.catalog.models import Review
from shop.core.demo import DemoContext
from shop.orders.models import PAID_STATES, EventKind, Order, OrderEvent, OrderLine
from shop.payments.models import Refund

DEMO_DOMAIN = "@example.net"
SHOPPER = "shopper@example.com"
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
    ("shopper", Referral.Status.REWARDED, 210),
    ("shopper", Referral.Status.REWARDED, 75),
    ("shopper", Referral.Status.PENDING, 20),
    ("customer", Referral.Status.REWARDED, 150),
    ("customer", Referral.Status.REWARDED, 40),
    ("customer", Referral.Status.PENDING, 60),
    ("customer", Referral.Status.REFUSED, 100),
]
SAME_ADDRESS = Referral.Refusal.SAME_ADDRESS

# Events at the same moment happen in this order.
JOIN, PAID, SETTLE, REWARD, EXPIRE, REMIND, TIERS = range(7)


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
        replays = [Replay(rules, member, facts, now).play() for member in batch]
        written.update(_write(replays))
    ctx.log(
        f"loyalty: {written['entries']:,} ledger entries, {written['changes']:,} tier changes, "
        f"{written['notices']:,} expiry reminders"
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
    kept = set(
        LedgerEntry.objects.filter(account_id__in=stale, kind__in=[Kind.REDEEM, Kind.ADJUST])
        .values_list("account_id", flat=True)
        .distinct()
    )
    if kept:
        ctx.log(f"loyalty: {len(kept):,} members have new orders but points they spent or staff gave: left alone")
    stale -= kept
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


@dataclass
class OrderFacts:
    id: int
    user_id: int
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    total: Decimal
    basis: Decimal = Decimal(0)  # services.order_basis: merchandise after discounts
    products: set[int] = field(default_factory=set)
    refunds: list[tuple[dt.datetime, Decimal]] = field(default_factory=list)  # (when, refunded so far)
    cancelled_at: dt.datetime | None = None  # after payment only

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
        """services.undone_fraction, as the order stood then."""
        if self.is_cancelled(at) or (self.total > 0 and self.refunded(at) >= self.total):
            return Decimal(1)
        if self.total <= 0:
            return Decimal(0)
        return min(Decimal(1), self.refunded(at) / self.total)


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
        for row in (
            Order.objects.filter(user_id__in=ids)
            .order_by("placed_at", "id")
            .values_list("id", "user_id", "placed_at", "paid_at", "total")
        ):
            by_id[row[0]] = order = OrderFacts(*row)
            orders[order.user_id].append(order)
        for order_id, product_id, subtotal, discount in OrderLine.objects.filter(
            order__user_id__in=ids, order__paid_at__isnull=False
        ).values_list("order_id", "product_id", "subtotal", "discount"):
            by_id[order_id].basis += subtotal - discount
            by_id[order_id].products.add(product_id)
        refunds = Refund.objects.filter(order__user_id__in=ids).order_by("created_at", "id")
        for order_id, amount, created_at in refunds.values_list("order_id", "amount", "created_at"):
            order = by_id[order_id]
            order.refunds.append((created_at, order.refunded(now) + amount))
        for order_id, created_at in OrderEvent.objects.filter(
            order__user_id__in=ids, order__paid_at__isnull=False, kind=EventKind.CANCELLED
        ).values_list("order_id", "created_at"):
            by_id[order_id].cancelled_at = created_at
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

    def __init__(self, rules: Rules, member: Member, facts: Facts, now: dt.datetime):
        self.rules, self.program, self.member, self.now = rules, rules.program, member, now
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
        self.lots.append(Lot(entry=entry, remaining=points))
        if expires_at:
            self.at(_run_at(expires_at, "expire"), EXPIRE, self.expire)
            if p.expiry_reminder_days:
                warn = max(expires_at - dt.timedelta(days=p.expiry_reminder_days), now)
                self.at(_run_at(warn, "remind"), REMIND, self.remind)
        return entry

    def held(self) -> list[Lot]:
        """services.lots(): with points left, oldest expiry first, those that never expire last."""
        held = [lot for lot in self.lots if lot.remaining > 0]
        held.sort(key=lambda lot: (lot.entry.expires_at is None, lot.entry.expires_at or self.now))
        return held

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

    def settle(self, now, order: OrderFacts, reason: str) -> None:
        """services.order_points_settle for what an order earned (the demo orders redeemed nothing)."""
        earned = self.earned.get(order.id)
        owed = points_share(earned.points, order.undone(now)) - self.taken_back[order.id] if earned else 0
        if owed > 0:
            candidates = self.held()
            candidates.sort(key=lambda lot: lot.entry is not earned)  # the order's own lot first
            points = min(owed, sum(lot.remaining for lot in candidates))
            if points > 0:
                self.write(
                    now,
                    kind=Kind.REVERSE,
                    reason=reason,
                    points=-points,
                    taken=take(candidates, points),
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
        coming = [lot for lot in self.held() if lot.entry.expires_at and start < lot.entry.expires_at <= now + days]
        if not coming:
            return
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
    return Counter(entries=len(entries), changes=len(changes), notices=len(notices))


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
