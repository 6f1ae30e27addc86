"""Reads about the points on a cart, for the cart page's panel, its views and the API (like
marketing/discounts/carts.py): whether they apply and why not, the most a cart can take,
and what an order earns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty import adjusters, members, selectors
from loyalty.models import Tier
from loyalty.program import Rules, current, grouped
from shop.cart.pricing import AdjustmentKind, PricedCart
from shop.core.money import Money


@dataclass(frozen=True)
class CartPointsStatus:
    summary: selectors.Summary
    is_active: bool
    min_points: int
    max_percent: int
    chosen: int  # points the member put on the cart (0: none)
    used: int  # how many of them apply to this cart
    saving: Money | None  # what they take off
    problem: str  # why chosen points do not apply, or apply only in part
    blocked: str  # why the form is not offered
    most: int  # the most points this cart can take now
    earn: int  # roughly what this order earns
    tier: Tier | None

    @property
    def show_form(self) -> bool:
        return not self.blocked

    @property
    def left(self) -> int:
        """The points still available besides those this cart uses."""
        return max(self.summary.available - self.used, 0)

    @property
    def offer_change(self) -> bool:
        """Whether the form is worth showing: no points on the cart yet, or a different number would apply."""
        return self.show_form and (not self.chosen or bool(self.problem) or self.most != self.used)


def points_adjustment(priced: PricedCart):
    return next((a for a in priced.adjustments if a.kind == AdjustmentKind.POINTS), None)


def _before_points(priced: PricedCart) -> PricedCart:
    """The cart as priced before the points (they are the last adjuster)."""
    return replace(priced, adjustments=[a for a in priced.adjustments if a.kind != AdjustmentKind.POINTS])


def points_cap(priced: PricedCart, rules: Rules) -> Money:
    """The most that points can pay on this cart (the program's share of the merchandise left to pay)."""
    return rules.points_cap(sum(_before_points(priced).left_to_pay().values(), Decimal(0)), priced.currency)


def most_points(priced: PricedCart, *, available: int) -> int:
    """The most points this cart can take now: the available ones, within the program's share."""
    points, _value = adjusters.usable_points(_before_points(priced), chosen=available, available=available)
    return points


def earned_estimate(priced: PricedCart, rules: Rules, tier_id: int | None) -> int:
    """Roughly what the order earns once paid: on the merchandise left to pay in money."""
    if not rules.program.is_active:
        return 0
    left = sum((v for v in priced.left_to_pay().values() if v > 0), Decimal(0))
    return rules.earned_on(left, tier_id)


def _problem(rules: Rules, *, chosen: int, used: int, available: int, saving, cap: Money) -> str:
    program = rules.program
    if not chosen:
        return ""
    if not program.is_active:
        return _paused()
    if used == 0:
        if chosen < program.min_redeem_points:
            return _("Use at least %(min)s points at a time.") % {"min": grouped(program.min_redeem_points)}
        if available < program.min_redeem_points:
            return ngettext(
                "You have %(count)s point available now, fewer than the minimum of %(min)s.",
                "You have %(count)s points available now, fewer than the minimum of %(min)s.",
                available,
            ) % {"count": grouped(available), "min": grouped(program.min_redeem_points)}
        return _too_small(rules, cap)
    if used < chosen and available < chosen:
        return ngettext(
            "You have %(count)s point available now: %(used)s of the %(chosen)s on your cart apply.",
            "You have %(count)s points available now: %(used)s of the %(chosen)s on your cart apply.",
            available,
        ) % {"count": grouped(available), "used": grouped(used), "chosen": grouped(chosen)}
    if used < chosen and saving is not None and saving >= cap:
        return _("Points pay at most %(percent)d%% of an order: %(used)s of the %(chosen)s on your cart apply.") % {
            "percent": program.max_redeem_percent,
            "used": grouped(used),
            "chosen": grouped(chosen),
        }
    return ""


def _paused() -> str:
    return _("Our loyalty program is paused: points cannot be used or earned right now.")


def _too_small(rules: Rules, cap: Money) -> str:
    return _(
        "Points pay at most %(percent)d%% of an order (%(cap)s here): too little for the minimum of %(min)s points."
    ) % {"percent": rules.program.max_redeem_percent, "cap": cap, "min": grouped(rules.program.min_redeem_points)}


def _blocked(rules: Rules, *, available: int, most: int, cap: Money) -> str:
    program = rules.program
    if not program.is_active:
        return _paused()
    if available < program.min_redeem_points:
        return ngettext(
            "Collect %(count)s more point to use your points (at least %(min)s at a time).",
            "Collect %(count)s more points to use your points (at least %(min)s at a time).",
            program.min_redeem_points - available,
        ) % {"count": grouped(program.min_redeem_points - available), "min": grouped(program.min_redeem_points)}
    if most < program.min_redeem_points:
        return _too_small(rules, cap)
    return ""


def cart_points_status(*, cart, priced: PricedCart, user, now: dt.datetime | None = None) -> CartPointsStatus | None:
    """What the cart panel shows a member (None for a visitor): their points, those on the cart and
    whether they apply (and why not), the most they can use, and what the order earns."""
    if user is None or not user.is_authenticated:
        return None
    rules = current()
    facts = members.member(cart=cart, customer=user, memo=priced.memo, now=now)  # what pricing read
    summary = selectors.summary(user=user, now=now, member=facts)
    chosen = facts.chosen
    adjustment = points_adjustment(priced)
    used = adjusters.points_of(adjustment) if adjustment else 0
    saving = -adjustment.amount if adjustment else None
    cap = points_cap(priced, rules)
    most = most_points(priced, available=summary.available) if rules.program.is_active else 0
    account = summary.account
    return CartPointsStatus(
        summary=summary,
        is_active=rules.program.is_active,
        min_points=rules.program.min_redeem_points,
        max_percent=rules.program.max_redeem_percent,
        chosen=chosen,
        used=used,
        saving=saving,
        problem=_problem(rules, chosen=chosen, used=used, available=summary.available, saving=saving, cap=cap),
        blocked=_blocked(rules, available=summary.available, most=most, cap=cap),
        most=most,
        earn=earned_estimate(priced, rules, account.tier_id if account else None),
        tier=account.tier if account else None,
    )
