"""Loyalty in the pricing pipeline (docs/architecture.md, "Pricing adjusters"): two adjusters.

ReferralWelcomeAdjuster runs with the merchandise discounts (before shipping):
a referred friend's first order gets the welcome discount. PointsAdjuster runs
last: the points chosen on the cart pay part of the merchandise left to pay,
spread over the lines like a discount, so refunds and earning know what each
line cost in money. At checkout, commit debits the points (or claims the
welcome discount) under row locks, or vetoes the order.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty import members, services
from loyalty.models import CartPoints
from loyalty.program import TOKEN_KEY, current, grouped
from shop.cart.pricing import Adjustment, AdjustmentKind, PricedCart, PricingContext, allocate
from shop.core.errors import Conflict
from shop.core.money import Money, quantize


def points_of(adjustment: Adjustment) -> int:
    """The points a points adjustment spends (its reference is "points:<n>")."""
    return int(adjustment.reference.split(":", 1)[1])


def chosen_points(cart) -> int:
    if cart is None or cart.pk is None:
        return 0
    row = CartPoints.objects.filter(cart=cart).values_list("points", flat=True).first()
    return row or 0


def usable_points(priced: PricedCart, *, chosen: int, available: int) -> tuple[int, Money]:
    """How many of the chosen points apply to this cart, and what they take off.

    At most the available points and the program's share of the merchandise left to pay;
    never a fraction of a minor unit (the points used are the fewest that pay the amount).
    """
    rules = current()
    cap = rules.points_cap(sum(priced.left_to_pay().values(), Decimal(0)), priced.currency)
    value = min(rules.points_value(min(chosen, available), priced.currency), cap)
    if value.amount <= 0:
        return 0, Money.zero(priced.currency)
    return rules.points_for(value), value


class PointsAdjuster:
    source = "loyalty-points"

    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]:
        customer = context.customer
        if priced.is_empty or customer is None:
            return []
        context.depends_on([TOKEN_KEY])  # before the rules are read
        if not current().program.is_active:
            return []  # guests' carts hold no points
        facts = members.member(cart=context.cart, customer=customer, memo=context.memo)
        if not facts.chosen:
            return []
        points, value = usable_points(priced, chosen=facts.chosen, available=facts.available())
        if points <= 0 or points < current().program.min_redeem_points:
            return []  # worth less than the minor unit, or fewer than the program's minimum
        shares = allocate(value.amount, {k: v for k, v in priced.left_to_pay().items() if v > 0}, priced.currency)
        label = ngettext("%(count)s point", "%(count)s points", points) % {"count": grouped(points)}
        return [
            Adjustment(
                label=label,
                amount=-value,
                source=self.source,
                kind=AdjustmentKind.POINTS,
                reference=f"points:{points}",
                allocations=tuple(shares.items()),
            )
        ]

    def commit(self, order, adjustments, context: PricingContext) -> None:
        if context.customer is None:
            return
        if not current().program.is_active:
            services.cart_points_remove(cart=context.cart)  # paused: the points stay in the account
            return
        # Off the cart first: what the delete finds is what was chosen (one statement, not a read and a delete).
        if services.cart_points_remove(cart=context.cart) and not adjustments:
            # Points were on the cart but no longer apply (spent elsewhere meanwhile): the customer
            # must see the new total rather than pay it unawares. (The veto rolls the delete back.)
            raise Conflict(
                _("Your points no longer apply to this order. Your cart shows why and the new total."), field="points"
            )
        for adjustment in adjustments:
            services.points_redeem(order=order, user=context.customer, points=points_of(adjustment))


class ReferralWelcomeAdjuster:
    source = "loyalty-referral"

    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]:
        if priced.is_empty or context.customer is None:
            return []
        context.depends_on([TOKEN_KEY])
        rules = current()
        percent = rules.program.referral_discount_percent
        if not percent or not rules.program.is_active:
            return []
        facts = members.member(cart=context.cart, customer=context.customer, memo=context.memo)
        referral_id = facts.welcome_referral_id
        if referral_id is None:
            return []
        left = {k: v for k, v in priced.left_to_pay().items() if v > 0}
        amount = (sum(left.values(), Decimal(0)) * percent / 100).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        amount = quantize(min(amount, rules.program.referral_discount_max), priced.currency)
        if amount <= 0:
            return []
        return [
            Adjustment(
                label=_("Welcome gift from a friend (%(percent)d%% off)") % {"percent": percent},
                amount=Money(-amount, priced.currency),
                source=self.source,
                kind=AdjustmentKind.DISCOUNT,
                reference=f"referral:{referral_id}",
                allocations=tuple(allocate(amount, left, priced.currency).items()),
            )
        ]

    def commit(self, order, adjustments, context: PricingContext) -> None:
        if adjustments:
            services.referral_welcome_claim(order=order, user=context.customer)
