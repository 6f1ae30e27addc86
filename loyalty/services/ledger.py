"""The ledger's core: members' rows locked for every change, lots and what is left of them, entries
appended with the balance, staff adjustments, and expiry."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from loyalty.models import Account, Kind, LedgerEntry, LotUse, Reason
from loyalty.program import Rules, current
from loyalty.services.tiers import tier_refresh
from shop.cart.pricing import customer_changed
from shop.core.errors import Conflict, ShopError
from shop.orders.models import Order, OrderStatus

log = logging.getLogger(__name__)
CLOSED_UNPAID = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)


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


def points_forfeit(*, user, now=None) -> LedgerEntry | None:
    """The customer's erasure (loyalty/privacy.py): every point left, pending ones too, is forfeited
    by one entry that says so, taken from the lots as any debit is. None for a customer who never
    was a member or has nothing left. The entry names the account itself as its author: the
    erasure's own record (shop.accounts.models.Erasure) says who asked for it."""
    now = now or timezone.now()
    if not Account.objects.filter(pk=user.pk).exists():
        return None  # never a member: nothing to forfeit, and no account is opened for it
    with transaction.atomic():
        account = _locked(user.pk)
        held = lots(account, now=now)
        points = sum(lot.remaining for lot in held)
        if not points:
            return None
        return _write(
            account,
            kind=Kind.ADJUST,
            reason=Reason.ERASURE,
            points=-points,
            now=now,
            taken=[(lot, lot.remaining) for lot in held],
            note=_("Points forfeited: the account was erased."),
            actor=user,
        )


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
    customer_changed(due)  # bulk writes send no signals; an account's key is its user's
    return len(entries)
