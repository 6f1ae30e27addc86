"""The replay: one member's history played in time order, in memory, with the services' rules and the
scheduled jobs' runs."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from collections import Counter
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from loyalty.adjusters import usable_points
from loyalty.demo.common import _unit
from loyalty.demo.facts import Facts, OrderFacts, Spent
from loyalty.demo.members import Member, _joined
from loyalty.demo.points_orders import ALL_POINTS_SHARE, POINTS_SHARE, SHOPPER_POINTS
from loyalty.models import ExpiryNotice, Kind, LedgerEntry, Reason, Tier, TierChange
from loyalty.program import Rules
from loyalty.services import Lot, masked_email, points_share, take
from shop.cart.pricing import allocate

# The scheduled jobs' periods (settings.CELERY_BEAT_SCHEDULE), used to date what they wrote.
JOBS = {
    "expire": ("expire-loyalty-points", 3600),
    "remind": ("queue-points-expiry-reminders", 6 * 3600),
    "birthday": ("birthday-points", 6 * 3600),
    "tiers": ("refresh-loyalty-tiers", 24 * 3600),
}
SEND_DELAY = dt.timedelta(seconds=40)  # a reminder goes out right after it is queued
CLAIM = dt.timedelta(minutes=5)  # shop.core.outbox.CLAIM


# Events at the same moment happen in this order.
JOIN, PLACED, PAID, SETTLE, REWARD, EXPIRE, REMIND, TIERS = range(8)


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
