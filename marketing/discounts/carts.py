"""Reads about the code on a cart, for the cart page's panel, its views and the API."""

from __future__ import annotations

from dataclasses import dataclass

from marketing.discounts import engine, services, terms
from marketing.discounts.models import DiscountCode, Promotion
from shop.core.money import Money
from shop.core.ratelimit import client_ip


@dataclass(frozen=True)
class CartCodeStatus:
    code: DiscountCode
    verdict: engine.Verdict
    saving: Money | None  # None while the discount is not on the cart's lines (free shipping: at checkout)
    replaced: tuple = ()  # the automatic promotions this code stands in for (it does not combine with them)

    @property
    def terms(self) -> str:
        """Its offer, cap and conditions in words ("50% off, up to $60; on orders of $100 or more")."""
        return terms.describe(self.code.promotion)


def customer_of(request):
    return request.user if request.user.is_authenticated else None


def client_key(request) -> str:
    """Whose wrong guesses count together: the customer's wherever they are, else the client address's."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{client_ip(request)}"


def code_saving(priced, code: DiscountCode) -> Money | None:
    """What the code takes off this priced cart, or None if it gives nothing here."""
    reference = services.reference(code.promotion, code)
    amounts = [-a.amount for a in priced.adjustments if a.reference == reference]
    return sum(amounts, Money.zero(priced.currency)) if amounts else None


def cart_code_status(*, cart, priced, customer) -> CartCodeStatus | None:
    """The code on the cart, whether it still applies (and why not), and what it saves.

    Reads what pricing this cart already read (priced.memo: the code, the candidate promotions).
    """
    from marketing.discounts.adjusters import candidates, cart_code

    code = cart_code(cart, priced.memo)
    if code is None:
        return None
    saving = code_saving(priced, code)
    if saving is not None:  # pricing applied it: nothing to judge again
        return CartCodeStatus(code=code, verdict=engine.OK, saving=saving, replaced=_replaced(priced, customer, cart))
    found = (
        candidates(priced, cart=cart, customer=customer, memo=priced.memo, kinds=set(Promotion.Kind.values))
        if priced.lines
        else None
    )
    verdict = services.code_verdict(code=code, priced=priced, customer=customer, found=found)
    return CartCodeStatus(code=code, verdict=verdict, saving=code_saving(priced, code) if verdict.ok else None)


def _replaced(priced, customer, cart) -> tuple:
    """The automatic promotions that would apply without the code but do not with it (it does not combine)."""
    from marketing.discounts.adjusters import MERCHANDISE, DiscountAdjuster, candidates

    found = (
        candidates(priced, cart=cart, customer=customer, memo=priced.memo, kinds=MERCHANDISE) if priced.lines else []
    )
    if not found:
        return ()
    without, _verdict = engine.apply_in_order(found, priced=priced, customer=customer)
    kept = {services.parse_reference(a.reference)[0] for a in priced.adjustments if a.source == DiscountAdjuster.source}
    return tuple(a.promotion for a in without if a.promotion.pk not in kept)
