"""What pricing a member's cart needs from loyalty, read once per pricing: two queries at most.

The points adjuster (points on the cart, points available), the referral adjuster (a
welcome discount still to use) and the cart's points panel (balance, pending points,
tier) all read the same member. The first of them reads it into the pricing's memo
(shop.cart.pricing.PricingContext.memo, also PricedCart.memo for the panels): one
query for the member's account and tier, the points on the cart and any pending
referral, then one for their lots of points if they have an account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from loyalty.models import Account, CartPoints, Referral
from loyalty.services import SPEND_STATES, Lot, lots
from shop.accounts.models import User
from shop.cart.pricing import customer_key, depends_on, valid_until
from shop.orders.models import Order

MEMO_KEY = "loyalty:member"


@dataclass
class Member:
    account: Account | None
    chosen: int = 0  # points the member put on the cart
    welcome_referral_id: int | None = None  # a referral whose welcome discount is still theirs to use
    lots: list[Lot] = field(default_factory=list)  # lots with points left, pending ones too, oldest expiry first

    def next_change(self, now):
        """The first moment after now when points become usable or expire (None: none to come)."""
        moments = [
            moment
            for lot in self.lots
            for moment in (lot.entry.available_at, lot.entry.expires_at)
            if moment is not None and moment > now
        ]
        return min(moments, default=None)

    def available(self, now=None) -> int:
        """Points usable now: past their pending period, not past their expiry."""
        now = now or timezone.now()
        return sum(
            lot.remaining
            for lot in self.lots
            if (lot.entry.available_at is None or lot.entry.available_at <= now)
            and not (lot.entry.expires_at is not None and lot.entry.expires_at <= now)
        )


def member(*, cart, customer, memo: dict | None = None, now=None) -> Member:
    """The customer's loyalty facts for this cart, from the memo when this pricing read them already."""
    if memo is not None and MEMO_KEY in memo:
        return memo[MEMO_KEY]
    if memo is not None:  # before the read: what changes the member replaces their token
        depends_on(memo, [customer_key(customer.pk)])
    on_cart = CartPoints.objects.filter(cart_id=cart.pk).values("points")[:1] if cart is not None and cart.pk else None
    pending = Referral.objects.filter(friend=OuterRef("pk"), status=Referral.Status.PENDING, welcome_order=None)
    row = (
        User.objects.filter(pk=customer.pk)
        .select_related("loyalty__tier")
        .annotate(
            welcome_referral=Subquery(pending.values("pk")[:1]),
            has_spent=Exists(Order.objects.filter(user=OuterRef("pk"), status__in=SPEND_STATES)),
        )
    )
    if on_cart is not None:
        row = row.annotate(cart_points=Subquery(on_cart))
    row = row.first()
    if row is None:
        found = Member(account=None)
    else:
        account = getattr(row, "loyalty", None) if _has_account(row) else None
        found = Member(
            account=account,
            chosen=getattr(row, "cart_points", None) or 0,
            welcome_referral_id=row.welcome_referral if not row.has_spent else None,
            lots=lots(account, now=now) if account is not None else [],
        )
    if memo is not None:
        memo[MEMO_KEY] = found
        valid_until(memo, found.next_change(now or timezone.now()))
    return found


def _has_account(user) -> bool:
    try:
        user.loyalty  # noqa: B018 (select_related read it, or found there is none)
    except Account.DoesNotExist:
        return False
    return True
