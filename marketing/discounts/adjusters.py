"""Discounts in the pricing pipeline (docs/architecture.md, "Pricing adjusters").

Two adjusters, because free shipping must see the shipping line while the
merchandise discounts must come before it (the free-shipping threshold looks
at what the customer pays for the goods). settings.SHOP_PRICE_ADJUSTERS:
DiscountAdjuster, the shipping adjuster, then ShippingDiscountAdjuster.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from marketing.discounts import engine, index, services, terms
from marketing.discounts.models import Promotion
from shop.cart.pricing import Adjustment, AdjustmentKind, PricedCart, PricingContext, depends_on
from shop.core.errors import Conflict

MERCHANDISE = {Promotion.Kind.PERCENTAGE, Promotion.Kind.FIXED, Promotion.Kind.BUY_X_GET_Y}


def _adjustments(applied: list[engine.Applied], source: str) -> list[Adjustment]:
    return [
        Adjustment(
            label=f"{a.promotion.name} ({a.code.code})" if a.code else a.promotion.name,
            amount=-a.amount,
            source=source,
            kind=AdjustmentKind.DISCOUNT,
            reference=services.reference(a.promotion, a.code),
            allocations=tuple(a.allocations.items()),
            on_lines=a.code is None and promised_on_product_pages(a.promotion),
            # A code's terms are said by its own panel and message (carts.CartCodeStatus.terms), once.
            terms="" if a.code else terms.describe(a.promotion),
        )
        for a in applied
    ]


def promised_on_product_pages(promotion: Promotion) -> bool:
    """Whether product pages show this promotion's price (offers.public_promotions: anyone gets it, one
    unit is enough), so the cart shows its lines at that price."""
    return (
        not promotion.requires_code
        and promotion.kind in (Promotion.Kind.PERCENTAGE, Promotion.Kind.FIXED)
        and not promotion.first_order_only
        and not promotion.segment
        and promotion.usage_limit_per_customer is None
        and promotion.min_subtotal is None
        and (promotion.min_quantity is None or promotion.min_quantity <= 1)
        and not engine.for_chosen_customers(promotion)
    )


def _commit(adjuster, order, adjustments, context) -> None:
    code = cart_code(context.cart, context.memo)  # as pricing read it, inside this transaction
    if (
        code is not None
        and code.promotion.kind in adjuster.kinds
        and not any(services.parse_reference(a.reference)[1] == code.code for a in adjustments)
    ):
        # The code was on the cart but no longer applies (used up meanwhile, expired): the
        # customer must see the new total rather than pay it unawares.
        raise Conflict(
            _("The code %(code)s no longer applies to your order. Your cart shows why and the new total.")
            % {"code": code.code},
            field="code",
        )
    services.redemptions_claim(
        order=order, adjustments=adjustments, customer=context.customer, cart=context.cart, code=code
    )


def cart_code(cart, memo: dict):
    """The cart's code, read once per pricing: both adjusters and the cart's code panel use it."""
    if "discounts:code" not in memo:
        code = memo["discounts:code"] = services.cart_code(cart)
        if code is not None:  # which code is on the cart is the cart's own token (shop.cart.snapshot)
            depends_on(memo, [index.code_key(code.pk)], late=True)
    return memo["discounts:code"]


def candidates(priced: PricedCart, *, cart, customer, memo: dict, kinds) -> list[Promotion]:
    """The running automatic promotions of every kind that could apply, read once per pricing (the
    lines are the same for both adjusters and the code panel), then those of the given kinds.

    The cart's code has its promotion prepared in the same read (engine.candidates)."""
    if "discounts:candidates" not in memo:
        memo["discounts:candidates"] = engine.candidates(
            priced=priced,
            customer=customer,
            kinds=set(Promotion.Kind.values),
            now=timezone.now(),
            code=cart_code(cart, memo),
            memo=memo,
        )
    return [p for p in memo["discounts:candidates"] if p.kind in kinds]


class DiscountAdjuster:
    source = "discounts"
    kinds = MERCHANDISE

    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]:
        if priced.is_empty:
            return []
        code = cart_code(context.cart, context.memo)
        applied, _verdict = engine.evaluate(
            priced=priced,
            customer=context.customer,
            code=code,
            kinds=MERCHANDISE,
            found=candidates(
                priced, cart=context.cart, customer=context.customer, memo=context.memo, kinds=MERCHANDISE
            ),
        )
        return _adjustments(applied, self.source)

    def commit(self, order, adjustments, context) -> None:
        _commit(self, order, adjustments, context)


class ShippingDiscountAdjuster:
    source = "discounts-shipping"
    kinds = {Promotion.Kind.FREE_SHIPPING}

    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]:
        shipping = sum((a.amount.amount for a in priced.adjustments if a.kind == AdjustmentKind.SHIPPING), Decimal(0))
        if priced.is_empty or shipping <= 0:
            return []
        code = cart_code(context.cart, context.memo)
        applied, _verdict = engine.evaluate(
            priced=priced,
            customer=context.customer,
            code=code,
            kinds=self.kinds,
            shipping=shipping,
            found=candidates(priced, cart=context.cart, customer=context.customer, memo=context.memo, kinds=self.kinds),
        )
        return _adjustments(applied, self.source)

    def commit(self, order, adjustments, context) -> None:
        if order.shipping_total <= 0:
            # Shipping is free anyway (over the threshold): a free-shipping code saves nothing
            # here, which is no reason to stop the order. Nothing to claim; the code stays unused.
            return
        _commit(self, order, adjustments, context)
