"""Every change to points, tiers and referrals (DESIGN.md section 1: writes live here).

The rules that make the ledger trustworthy:
* A balance changes only with its Account row locked (select_for_update), in the
  same transaction as the ledger entry that explains it; Account.balance is the
  ledger's sum and a check constraint keeps it at zero or more.
* Entries are only ever added. A negative entry takes its points from lots
  (positive entries) oldest expiry first and records which (LotUse).
* What happens to an order's points is decided in one place, order_points_settle:
  it compares what the order earned and redeemed with what its status and
  refunds say should be kept, and writes the difference. Running it again
  writes nothing, whatever the number of webhook deliveries or signals.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.models import Account, CartPoints, Kind, LedgerEntry, LotUse, Reason, Referral, TierChange
from loyalty.program import Rules, current, grouped
from shop.core.errors import Conflict, NotFound, ShopError
from shop.orders.models import PAID_STATES, Order, OrderStatus

log = logging.getLogger(__name__)
CLOSED_UNPAID = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
SPEND_STATES = (*PAID_STATES, OrderStatus.REFUNDED)


class NotEnoughPoints(Conflict):
    code = "not_enough_points"


# --- accounts and lots ------------------------------------------------------------------------


def account_get(*, user) -> Account:
    account = Account.objects.filter(pk=user.pk).first()
    if account is None:
        with transaction.atomic():
            account = _locked(user.pk)
    return account


def _locked(user_id: int) -> Account:
    """The member's row, locked until the transaction ends: every balance change goes through here.

    A new member starts in the tier their spend so far reaches (the first tier needs none)."""
    account = Account.objects.select_for_update().filter(pk=user_id).first()
    if account is None:
        _account, created = Account.objects.get_or_create(user_id=user_id)  # a concurrent first use may win
        account = Account.objects.select_for_update().get(pk=user_id)
        if created:
            tier_refresh(account=account)
    return account


def used_points():
    """What a lot's uses took from it, as a correlated subquery: it reads the lot's uses by their
    index, where a join with GROUP BY would scan every use of every member."""
    uses = LotUse.objects.filter(lot=OuterRef("pk")).order_by().values("lot").annotate(n=Sum("points")).values("n")
    return Coalesce(Subquery(uses), 0)


@dataclass
class Lot:
    entry: LedgerEntry
    remaining: int


def lots(account: Account | int, *, now=None, spendable: bool = False) -> list[Lot]:
    """The account's lots with points left, oldest expiry first (those that never expire last).

    spendable: only lots usable now (past their pending period, not past their expiry).
    """
    now = now or timezone.now()
    rows = (
        LedgerEntry.objects.filter(account_id=getattr(account, "pk", account), points__gt=0)
        .annotate(used=used_points())
        .filter(used__lt=F("points"))
        .order_by(F("expires_at").asc(nulls_last=True), "created_at", "id")
    )
    if spendable:
        rows = rows.filter(Q(available_at__isnull=True) | Q(available_at__lte=now)).exclude(expires_at__lte=now)
    return [Lot(entry=row, remaining=row.points - row.used) for row in rows]


def available_points(*, user, now=None) -> int:
    """Points the customer can spend now."""
    return sum(lot.remaining for lot in lots(user.pk, now=now, spendable=True))


def take(available: list[Lot], points: int) -> list[tuple[Lot, int]]:
    """Take `points` from lots in the order given (FIFO). Raises ValueError if they do not hold enough."""
    taken, left = [], points
    for lot in available:
        if left == 0:
            break
        n = min(lot.remaining, left)
        if n > 0:
            taken.append((lot, n))
            left -= n
    if left:
        raise ValueError(f"{left} points short")
    return taken


def _write(
    account: Account,
    *,
    kind: str,
    reason: str,
    points: int,
    now,
    taken: list[tuple[Lot, int]] = (),
    **fields,
) -> LedgerEntry:
    """Append one entry and move the (locked) balance with it."""
    account.balance += points
    account.save(update_fields=["balance"])
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        reason=reason,
        points=points,
        balance_after=account.balance,
        created_at=now,
        **fields,
    )
    if taken:
        LotUse.objects.bulk_create([LotUse(entry=entry, lot=lot.entry, points=n) for lot, n in taken])
        for lot, n in taken:
            lot.remaining -= n
    return entry


def _credit(account: Account, rules: Rules, *, reason: str, points: int, now, pending: bool = False, **fields):
    available_at = now + dt.timedelta(days=rules.program.pending_days) if pending else now
    days = rules.program.expiry_days
    expires_at = now + dt.timedelta(days=days) if days else None
    kind = fields.pop("kind", Kind.EARN)
    return _write(
        account,
        kind=kind,
        reason=reason,
        points=points,
        now=now,
        available_at=available_at,
        expires_at=expires_at,
        **fields,
    )


def _expire_due(account: Account, now, held: list[Lot] | None = None) -> LedgerEntry | None:
    """One expiry entry for every lot past its date with points left (the account is locked).

    held: the account's lots, if just read."""
    held = lots(account, now=now) if held is None else held
    due = [lot for lot in held if lot.entry.expires_at and lot.entry.expires_at <= now]
    points = sum(lot.remaining for lot in due)
    if not points:
        return None
    return _write(
        account,
        kind=Kind.EXPIRE,
        reason=Reason.EXPIRY,
        points=-points,
        now=now,
        taken=[(lot, lot.remaining) for lot in due],
        data={"lots": len(due)},
    )


# --- earning ----------------------------------------------------------------------------------


def order_basis(order: Order) -> Decimal:
    """What an order earns on: its merchandise after discounts and points (shipping earns nothing)."""
    return sum((line.subtotal - line.discount for line in order.lines.all()), Decimal(0))


def order_points_earn(*, order_id: int, now=None) -> LedgerEntry | None:
    """A paid order earns once (a unique constraint on (order, kind)); the points are pending for the return window."""
    now = now or timezone.now()
    order = Order.objects.get(pk=order_id)
    rules = current()
    if order.user_id is None or not rules.program.is_active or order.status not in PAID_STATES:
        return None
    try:
        with transaction.atomic():
            account = _locked(order.user_id)
            existing = LedgerEntry.objects.filter(order=order, kind=Kind.EARN).first()
            if existing:
                return existing
            points = rules.earned_on(order_basis(order), account.tier_id)
            entry = None
            if points > 0:
                entry = _credit(
                    account,
                    rules,
                    reason=Reason.ORDER,
                    points=points,
                    now=now,
                    pending=True,
                    order=order,
                    data={"tier": account.tier.name if account.tier else ""},
                )
            tier_refresh(account=account, rules=rules, now=now)
            return entry
    except IntegrityError:  # another delivery of the same event got there first
        return LedgerEntry.objects.filter(order=order, kind=Kind.EARN).first()


def orders_catch_up(*, days: int = 3, now=None) -> int:
    """Orders of the last `days` whose background task never ran: paid ones with no earn entry earn
    (and decide their referral) now; refunded, cancelled or expired ones are settled. All idempotent;
    orders that earn nothing are simply checked again."""
    now = now or timezone.now()
    if not current().program.is_active:
        return 0
    missing = (
        Order.objects.filter(status__in=PAID_STATES, user__isnull=False, paid_at__gte=now - dt.timedelta(days=days))
        .exclude(pk__in=LedgerEntry.objects.filter(kind=Kind.EARN, order__isnull=False).values("order_id"))
        .values_list("pk", flat=True)
    )
    caught = 0
    for order_id in list(missing):
        if order_points_earn(order_id=order_id, now=now):
            caught += 1
        referral_reward(order_id=order_id, now=now)
    undone = Order.objects.filter(user__isnull=False, updated_at__gte=now - dt.timedelta(days=days)).filter(
        Q(status__in=(*CLOSED_UNPAID, OrderStatus.REFUNDED)) | Q(amount_refunded__gt=0)
    )
    for order_id in list(undone.values_list("pk", flat=True)):
        if order_points_settle(order_id=order_id, now=now):  # writes only what is missing
            caught += 1
    return caught


def reward(*, user_id: int, reason: str, points: int, reference: str, now=None, pending=False, data=None):
    """A one-off reward (sign-up, review, birthday, referral), once per reference. Returns None if already given."""
    rules = current()
    if points <= 0 or not rules.program.is_active:
        return None
    now = now or timezone.now()
    try:
        with transaction.atomic():
            account = _locked(user_id)
            if LedgerEntry.objects.filter(account=account, kind=Kind.EARN, reference=reference).exists():
                return None
            return _credit(
                account,
                rules,
                reason=reason,
                points=points,
                now=now,
                pending=pending,
                reference=reference,
                data=data or {},
            )
    except IntegrityError:
        return None


def signup_reward(*, user_id: int) -> LedgerEntry | None:
    return reward(user_id=user_id, reason=Reason.SIGNUP, points=current().program.signup_points, reference="signup")


def review_reward(*, review_id: int) -> LedgerEntry | None:
    """The first review of a product the customer bought and paid for earns points, once per product."""
    from shop.catalog.models import Review
    from shop.orders.models import OrderLine

    review = Review.objects.select_related("product").filter(pk=review_id).first()
    if review is None:
        return None
    bought = OrderLine.objects.filter(
        order__user_id=review.user_id, order__status__in=PAID_STATES, product_id=review.product_id
    ).exists()
    if not bought:
        return None
    return reward(
        user_id=review.user_id,
        reason=Reason.REVIEW,
        points=current().program.review_points,
        reference=f"review:{review.product_id}",
        data={"product": review.product.name},
    )


def birthdays_reward(*, today: dt.date | None = None) -> int:
    """Birthday points for everyone whose birthday is today (29 February counts on the 28th in other years).

    Once a year per member (the reference holds the year): safe to run twice.
    """
    from shop.accounts.models import Profile

    today = today or timezone.localdate()
    days = [(today.month, today.day)]
    if today.month == 2 and today.day == 28 and not _leap(today.year):
        days.append((2, 29))
    query = Q()
    for month, day in days:
        query |= Q(birthday__month=month, birthday__day=day)
    user_ids = Profile.objects.filter(query, user__is_active=True).values_list("user_id", flat=True)
    points = current().program.birthday_points
    given = 0
    for user_id in user_ids.iterator():
        if reward(user_id=user_id, reason=Reason.BIRTHDAY, points=points, reference=f"birthday:{today.year}"):
            given += 1
    return given


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# --- redeeming --------------------------------------------------------------------------------


def points_redeem(*, order: Order, user, points: int, now=None) -> LedgerEntry:
    """Debit points for an order, inside the checkout transaction (the pricing pipeline's commit).

    The account row lock makes two checkouts spending the same points queue: the
    second sees the first's debit and is refused, which rolls its order back.
    """
    now = now or timezone.now()
    account = _locked(user.pk)
    held = lots(account, now=now)  # read once: past-due lots are written off, the usable ones spent
    _expire_due(account, now, held)
    spendable = [lot for lot in held if lot.remaining and not lot.entry.is_pending(now)]
    try:
        taken = take(spendable, points)
    except ValueError:
        have = sum(lot.remaining for lot in spendable)
        raise NotEnoughPoints(
            ngettext(
                "You have %(count)s point available now, fewer than the %(wanted)s on your cart. "
                "Your cart shows the new total.",
                "You have %(count)s points available now, fewer than the %(wanted)s on your cart. "
                "Your cart shows the new total.",
                have,
            )
            % {"count": grouped(have), "wanted": grouped(points)},
            field="points",
        ) from None
    return _write(account, kind=Kind.REDEEM, reason=Reason.ORDER, points=-points, now=now, taken=taken, order=order)


def cart_points_set(*, cart, user, points: int, now=None) -> CartPoints:
    """Choose how many points to spend on the cart; checked against the balance and the program's limits."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise ShopError(_("Log in to use your points."), field="points")
    rules = current()
    if not rules.program.is_active:
        raise ShopError(_("The loyalty program is paused: points cannot be used right now."), field="points")
    if points < max(1, rules.program.min_redeem_points):
        minimum = grouped(rules.program.min_redeem_points)
        raise ShopError(_("Use at least %(min)s points at a time.") % {"min": minimum}, field="points")
    if rules.points_value(points).amount <= 0:
        raise ShopError(_("That many points are worth less than the smallest coin: use more."), field="points")
    available = available_points(user=user, now=now)
    if points > available:
        raise ShopError(
            ngettext("You have %(count)s point available.", "You have %(count)s points available.", available)
            % {"count": grouped(available)},
            field="points",
        )
    chosen, _created = CartPoints.objects.update_or_create(cart=cart, defaults={"points": points})
    return chosen


def cart_points_remove(*, cart) -> None:
    if cart is not None and cart.pk:
        CartPoints.objects.filter(cart=cart).delete()


# --- refunds, cancellations: one place ---------------------------------------------------------


def points_share(points: int, fraction: Decimal) -> int:
    return int((Decimal(points) * fraction).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def undone_fraction(order: Order) -> Decimal:
    """How much of an order's merchandise was taken back: 1 if cancelled, expired or fully refunded, else
    refunded / what was paid for the merchandise (points are earned and spent on merchandise, not shipping)."""
    if order.status in (*CLOSED_UNPAID, OrderStatus.REFUNDED):
        return Decimal(1)
    merchandise = order.total - order.shipping_total
    if merchandise <= 0:
        return Decimal(0)
    return min(Decimal(1), order.amount_refunded / merchandise)


def order_points_settle(*, order_id: int, now=None) -> list[LedgerEntry]:
    """Make an order's points match its state: reverse what it earned, in proportion to what was refunded,
    and give back what it redeemed, in the same proportion. Writes only the difference, so it is safe to
    call after every refund, cancellation or expiry, and again."""
    now = now or timezone.now()
    order = Order.objects.get(pk=order_id)
    written: list[LedgerEntry] = []
    if order.user_id is not None:
        with transaction.atomic():
            account = _locked(order.user_id)
            order.refresh_from_db()
            fraction = undone_fraction(order)
            reason = Reason.CANCEL if order.status in CLOSED_UNPAID else Reason.REFUND
            written += _settle_earned(account, order, fraction, reason, now)
            written += _settle_redeemed(account, order, fraction, reason, now)
            if written:
                tier_refresh(account=account, rules=current(), now=now)
    _settle_referral(order, now)
    return written


def _reversed(order: Order, *, positive: bool) -> int:
    entries = LedgerEntry.objects.filter(order=order, kind=Kind.REVERSE)
    entries = entries.filter(points__gt=0) if positive else entries.filter(points__lt=0)
    return abs(entries.aggregate(n=Coalesce(Sum("points"), 0))["n"])


def _settle_earned(account, order, fraction, reason, now) -> list[LedgerEntry]:
    earned = LedgerEntry.objects.filter(order=order, kind=Kind.EARN).first()
    if earned is None:
        return []
    owed = points_share(earned.points, fraction) - _reversed(order, positive=False)
    return _take_back(account, earned, owed, now, reason=reason, order=order)


def _take_back(account, lot_entry: LedgerEntry, owed: int, now, **fields) -> list[LedgerEntry]:
    """Take back up to `owed` points from what is left of one lot (an order's earned points, a reward).

    Only from that lot: usually intact, as it is pending through the return window; what the customer
    has already spent stays spent (recorded as not recovered), and their other points are never touched.
    """
    if owed <= 0:
        return []
    own = next((lot for lot in lots(account, now=now) if lot.entry.pk == lot_entry.pk), None)
    points = min(owed, own.remaining if own else 0)
    if points <= 0:
        return []
    entry = _write(
        account,
        kind=Kind.REVERSE,
        points=-points,
        now=now,
        taken=[(own, points)],
        data={**fields.pop("data", {}), **({"not_recovered": owed - points} if owed > points else {})},
        **fields,
    )
    return [entry]


def _settle_redeemed(account, order, fraction, reason, now) -> list[LedgerEntry]:
    redeemed = LedgerEntry.objects.filter(order=order, kind=Kind.REDEEM).first()
    if redeemed is None:
        return []
    owed = points_share(-redeemed.points, fraction) - _reversed(order, positive=True)
    if owed <= 0:
        return []
    # Given back with the earliest expiry of the lots they came from: cancelling an order is
    # no way to make old points young again.
    expiries = [use.lot.expires_at for use in redeemed.lots_used.select_related("lot") if use.lot.expires_at]
    entry = _write(
        account,
        kind=Kind.REVERSE,
        reason=reason,
        points=owed,
        now=now,
        order=order,
        available_at=now,
        expires_at=min(expiries) if expiries else None,
    )
    return [entry]


# --- staff adjustments ------------------------------------------------------------------------


def points_adjust(*, user, points: int, note: str, actor, now=None) -> LedgerEntry:
    """A correction by staff: who, when and why are kept on the entry. Removing points takes the oldest first."""
    note = (note or "").strip()
    if not note:
        raise ShopError(_("Say why: a note is required for every adjustment."), field="note")
    if not points:
        raise ShopError(_("Enter a number of points other than zero."), field="points")
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(user.pk)
        if points > 0:
            return _credit(
                account,
                current(),
                reason=Reason.STAFF,
                points=points,
                now=now,
                note=note,
                actor=actor,
                kind=Kind.ADJUST,
            )
        _expire_due(account, now)
        held = lots(account, now=now)
        if -points > sum(lot.remaining for lot in held):
            raise Conflict(
                _("This member has %(balance)s points; you cannot remove more.")
                % {"balance": number_format(account.balance, force_grouping=True)},
                field="points",
            )
        return _write(
            account,
            kind=Kind.ADJUST,
            reason=Reason.STAFF,
            points=points,
            now=now,
            taken=take(held, -points),
            note=note,
            actor=actor,
        )


# --- expiry -----------------------------------------------------------------------------------


def due_lots(*, now=None):
    """Lots past their expiry date with points left, with `used` annotated."""
    now = now or timezone.now()
    return (
        LedgerEntry.objects.filter(points__gt=0, expires_at__lte=now)
        .annotate(used=used_points())
        .filter(used__lt=F("points"))
    )


def due_accounts(*, now=None) -> list[int]:
    """Ids of accounts holding lots past their expiry date with points left, in id order."""
    # A set: the query groups by lot (for `used`), so an account with several due lots comes back several times.
    return sorted(set(due_lots(now=now).values_list("account_id", flat=True)))


def points_expire(*, now=None, batch: int = 500) -> int:
    """Write the expiry entries that are due, one per account. Safe to run twice, or on two workers:
    accounts are locked (a batch at a time, in id order) and their lots re-read under the locks, so a
    second run finds nothing left to expire. A batch is a few queries, whatever its size."""
    now = now or timezone.now()
    if not current().program.is_active:
        return 0  # paused: balances are kept as they are
    ids = due_accounts(now=now)
    expired = 0
    for start in range(0, len(ids), batch):
        with transaction.atomic():
            expired += _expire_batch(ids[start : start + batch], now)
    return expired


def _expire_batch(account_ids: list[int], now) -> int:
    accounts = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk")}
    due: dict[int, list] = {}
    rows = due_lots(now=now).filter(account_id__in=account_ids).order_by("account_id", "expires_at", "id")
    for lot_id, account_id, left in rows.values_list("pk", "account_id", F("points") - F("used")):
        due.setdefault(account_id, []).append((lot_id, left))
    entries = []
    for account_id, account_lots in due.items():
        account = accounts[account_id]
        points = sum(left for _lot_id, left in account_lots)
        account.balance -= points
        entries.append(
            LedgerEntry(
                account=account,
                kind=Kind.EXPIRE,
                reason=Reason.EXPIRY,
                points=-points,
                balance_after=account.balance,
                created_at=now,
                data={"lots": len(account_lots)},
            )
        )
    LedgerEntry.objects.bulk_create(entries)  # sets their ids (PostgreSQL, SQLite 3.35+)
    LotUse.objects.bulk_create(
        [LotUse(entry=entry, lot_id=lot_id, points=left) for entry in entries for lot_id, left in due[entry.account_id]]
    )
    # One UPDATE: each balance becomes its new entry's balance_after (the rows are locked).
    new_balance = LedgerEntry.objects.filter(pk__in=[e.pk for e in entries], account_id=OuterRef("pk"))
    Account.objects.filter(pk__in=list(due)).update(balance=Subquery(new_balance.values("balance_after")[:1]))
    return len(entries)


# --- tiers ------------------------------------------------------------------------------------


def spend_in_window(*, user_id: int, rules: Rules, now) -> Decimal:
    """What the customer paid (net of refunds) over the tier window. Points they spent do not count down."""
    since = now - dt.timedelta(days=rules.program.tier_window_days)
    row = Order.objects.filter(user_id=user_id, status__in=SPEND_STATES, paid_at__gte=since).aggregate(
        paid=Coalesce(Sum(F("total") - F("amount_refunded")), Decimal(0))
    )
    return row["paid"]


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


# --- referrals --------------------------------------------------------------------------------


def comparable_email(email: str) -> str:
    """An email as a person owns it: case, "+tags" and (for Gmail) dots do not make a different person."""
    local, _at, domain = (email or "").strip().lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def comparable_address(line1: str, postal_code: str, country: str) -> str:
    return "|".join("".join(ch for ch in part.lower() if ch.isalnum()) for part in (line1, postal_code, country))


def referral_attach(*, friend, code: str) -> Referral:
    """A new customer arrived through a referral link (or typed the code)."""
    code = (code or "").strip().upper()
    advocate = Account.objects.select_related("user").filter(referral_code=code).first()
    if advocate is None:
        raise NotFound(_("That referral code does not exist."), field="code")
    if advocate.pk == friend.pk:
        raise ShopError(_("You cannot refer yourself."), field="code")
    if Referral.objects.filter(friend=friend).exists():
        raise Conflict(_("Your account was already referred by a friend."), field="code")
    if Order.objects.filter(user=friend, status__in=SPEND_STATES).exists():
        raise Conflict(_("Referral rewards are for new customers, before their first order."), field="code")
    referral = Referral(advocate=advocate.user, friend=friend)
    if comparable_email(advocate.user.email) == comparable_email(friend.email):
        referral.status, referral.refusal = Referral.Status.REFUSED, Referral.Refusal.SAME_EMAIL
        referral.decided_at = timezone.now()
    try:
        with transaction.atomic():
            referral.save()
    except IntegrityError:
        raise Conflict(_("Your account was already referred by a friend."), field="code") from None
    return referral


def welcome_referral(user) -> Referral | None:
    """The referral whose welcome discount this customer may still use on a first order."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    referral = Referral.objects.filter(friend=user, status=Referral.Status.PENDING, welcome_order=None).first()
    if referral is None or Order.objects.filter(user=user, status__in=SPEND_STATES).exists():
        return None
    return referral


def referral_welcome_claim(*, order: Order, user) -> None:
    """At checkout: the welcome discount is used by one order only (two checkouts at once: one wins)."""
    claimed = Referral.objects.filter(friend=user, status=Referral.Status.PENDING, welcome_order=None).update(
        welcome_order=order
    )
    if claimed != 1:
        raise Conflict(
            _("Your welcome discount is already used by another order. Your cart shows the new total."),
            field="cart",
        )


def referral_reward(*, order_id: int, now=None) -> Referral | None:
    """The friend's first order was paid: reward the advocate, unless the abuse rules say no."""
    now = now or timezone.now()
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.user_id is None:
        return None
    if not current().program.is_active:
        return None  # decided once the program runs again (the sweep retries paid orders)
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(friend_id=order.user_id).first()
        if referral is None or referral.status != Referral.Status.PENDING:
            return referral
        # The advocate's row too: two friends paid at once must not both fit under the monthly cap.
        _locked(referral.advocate_id)
        refusal = _referral_refusal(referral, order, now)
        referral.decided_at = now
        referral.rewarded_order = order
        if refusal:
            referral.status, referral.refusal = Referral.Status.REFUSED, refusal
        else:
            referral.status = Referral.Status.REWARDED
        referral.save(update_fields=["status", "refusal", "decided_at", "rewarded_order"])
        if not refusal:
            reward(
                user_id=referral.advocate_id,
                reason=Reason.REFERRAL,
                points=current().program.referral_points,
                reference=f"referral:{referral.pk}",
                now=now,
                pending=True,
                data={"friend": masked_email(referral.friend.email), "order": order.pk},
            )
    return referral


def _referral_refusal(referral: Referral, order: Order, now) -> str:
    first = Order.objects.filter(user_id=order.user_id, status__in=SPEND_STATES).order_by("paid_at", "pk").first()
    if first is not None and first.pk != order.pk:
        return Referral.Refusal.NOT_FIRST_ORDER
    if comparable_email(referral.advocate.email) == comparable_email(order.email):
        return Referral.Refusal.SAME_EMAIL
    shipped_to = comparable_address(order.shipping_line1, order.shipping_postal_code, order.shipping_country)
    if shipped_to in advocate_addresses(referral.advocate_id):
        return Referral.Refusal.SAME_ADDRESS
    month_start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = Referral.objects.filter(
        advocate_id=referral.advocate_id, status=Referral.Status.REWARDED, decided_at__gte=month_start
    ).count()
    if this_month >= current().program.referral_monthly_cap:
        return Referral.Refusal.MONTHLY_CAP
    return ""


def advocate_addresses(user_id: int) -> set[str]:
    from shop.accounts.models import Address

    saved = Address.objects.filter(user_id=user_id).values_list("line1", "postal_code", "country")
    shipped = (
        Order.objects.filter(user_id=user_id)
        .values_list("shipping_line1", "shipping_postal_code", "shipping_country")
        .distinct()
    )
    return {comparable_address(*row) for row in [*saved, *shipped]}


def masked_email(email: str) -> str:
    local, _at, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _settle_referral(order: Order, now) -> None:
    """A welcome discount on an order that never completed is free again; a referral reward whose
    order was wholly refunded or cancelled is taken back."""
    if order.status in CLOSED_UNPAID and order.paid_at is None:
        Referral.objects.filter(welcome_order=order, status=Referral.Status.PENDING).update(welcome_order=None)
    if undone_fraction(order) < 1:
        return
    referral = Referral.objects.filter(rewarded_order=order, status=Referral.Status.REWARDED).first()
    if referral is None:
        return
    with transaction.atomic():
        account = _locked(referral.advocate_id)
        given = LedgerEntry.objects.filter(account=account, kind=Kind.EARN, reference=f"referral:{referral.pk}").first()
        if given is None or LedgerEntry.objects.filter(account=account, kind=Kind.REVERSE, reference=given.reference):
            return
        _take_back(
            account,
            given,
            given.points,
            now,
            reason=Reason.REFERRAL,
            reference=given.reference,
            data={"order": order.pk},
        )


# --- expiry reminders -------------------------------------------------------------------------


def expiry_notices_queue(*, now=None, batch: int = 500) -> int:
    """Write a reminder for every member with points expiring within the reminder period that no
    earlier reminder announced. A reminder announces everything expiring within twice the period,
    so nothing falls between two reminders and a member who keeps earning hears from us about once
    a period, not daily. Safe to run twice: accounts are locked (a batch at a time, in id order) and
    their last reminder re-read under the locks."""
    from loyalty.models import ExpiryNotice

    now = now or timezone.now()
    program = current().program
    days = program.expiry_reminder_days
    if not days or not program.is_active:
        return 0
    horizon = now + dt.timedelta(days=days)
    announced = ExpiryNotice.objects.filter(account_id=OuterRef("account_id"), covers_until__gte=OuterRef("expires_at"))
    candidates = (
        LedgerEntry.objects.filter(points__gt=0, expires_at__gt=now, expires_at__lte=horizon)
        .exclude(Exists(announced))
        .annotate(used=used_points())
        .filter(used__lt=F("points"))
        .values_list("account_id", flat=True)
    )
    ids = sorted(set(candidates))
    queued = 0
    for start in range(0, len(ids), batch):
        with transaction.atomic():
            queued += _notices_batch(ids[start : start + batch], now, horizon, now + dt.timedelta(days=2 * days))
    return queued


def _notices_batch(account_ids: list[int], now, horizon, covers_until) -> int:
    from loyalty.models import ExpiryNotice

    list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
    last = dict(
        ExpiryNotice.objects.filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(until=Max("covers_until"))
        .values_list("account_id", "until")
    )
    coming: dict[int, list] = {}
    rows = (
        LedgerEntry.objects.filter(account_id__in=account_ids, points__gt=0, expires_at__gt=now)
        .filter(expires_at__lte=covers_until)
        .annotate(used=used_points())
        .filter(used__lt=F("points"))
        .values_list("account_id", "expires_at", F("points") - F("used"))
    )
    for account_id, expires_at, left in rows:
        if expires_at > max(now, last.get(account_id) or now):  # not announced by an earlier reminder
            coming.setdefault(account_id, []).append((expires_at, left))
    notices = [
        ExpiryNotice(
            account_id=account_id,
            points=sum(left for _at, left in lots_),
            first_expiry=min(at for at, _left in lots_),
            covers_until=covers_until,
        )
        for account_id, lots_ in coming.items()
        if any(at <= horizon for at, _left in lots_)
    ]
    ExpiryNotice.objects.bulk_create(notices)
    for notice in notices:
        transaction.on_commit(lambda pk=notice.pk: _enqueue_notice(pk))
    return len(notices)


def _enqueue_notice(notice_id: int) -> None:
    from loyalty.tasks import send_expiry_notice

    try:
        send_expiry_notice.delay(notice_id=notice_id)
    except Exception:  # the broker is down: the scheduled sweep sends it later
        log.warning("Could not enqueue expiry reminder %s; the sweep will send it.", notice_id, exc_info=True)
