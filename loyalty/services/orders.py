"""Points and orders: redeeming at checkout, and settling refunds, cancellations and expiry in one place."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.models import CartPoints, Kind, LedgerEntry, Reason
from loyalty.program import current, grouped
from loyalty.services.earning import order_points_earn
from loyalty.services.ledger import (
    CLOSED_UNPAID,
    NotEnoughPoints,
    _expire_due,
    _locked,
    _take_back,
    _write,
    available_points,
    lots,
    points_share,
    take,
    undone_fraction,
)
from loyalty.services.referrals import _settle_referral, referral_reward
from loyalty.services.tiers import tier_refresh
from shop.cart.snapshot import carts_changed
from shop.core.errors import ShopError
from shop.core.tracking import track
from shop.orders.models import PAID_STATES, Order, OrderStatus


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
    value = rules.points_value(points)
    # Told once committed (the seam's rule): redeem_points, the points chosen and what they are worth.
    transaction.on_commit(lambda: track("redeem_points", points=points, value=value))
    return chosen


def cart_points_remove(*, cart) -> int:
    """Take the chosen points off the cart (they stay in the account); 1 if there were, else 0."""
    if cart is None or not cart.pk:
        return 0
    # A queryset delete of a model nothing cascades to or listens on: one DELETE statement.
    removed, _by_model = CartPoints.objects.filter(cart=cart).delete()
    if removed:
        carts_changed([cart.pk])
    return removed


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
