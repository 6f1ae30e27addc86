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

Where each part lives (this package, loyalty/demo/):

* __init__.py: seed, the entry point (settings.DEMO_SEEDERS names loyalty.demo.seed).
* members.py: the demo customers as members, when they joined, and which
  histories to write (again).
* facts.py: what happened to each member (orders, refunds, reviews, referral
  rewards), read a batch at a time.
* replay.py: the replay of one member's history with the services' rules.
* writing.py: writing the replayed histories (accounts, ledger, tier changes,
  reminders).
* points_orders.py: orders paid partly with points (POINTS_SHARE), put on and
  taken off again.
* referrals.py: the demo referrals (REFERRALS).
* common.py: what the others share (the demo's names, small helpers).
"""

from __future__ import annotations

from collections import Counter

from django.utils import timezone

from loyalty.demo.common import SHOPPER
from loyalty.demo.facts import Facts
from loyalty.demo.members import _members, _to_write
from loyalty.demo.referrals import SAME_ADDRESS, _referrals
from loyalty.demo.replay import Replay
from loyalty.demo.writing import _write
from loyalty.program import current, forget
from shop.core.demo import DemoContext

__all__ = ["SAME_ADDRESS", "SHOPPER", "seed"]

BATCH = 1000  # members per batch


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
