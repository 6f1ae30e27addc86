"""The pricing pipeline (docs/architecture.md, "Pricing adjusters").

A cart is priced line by line, then each adjuster named in
settings.SHOP_PRICE_ADJUSTERS, in order, may add adjustment lines: discounts
(negative), shipping (positive), points (negative). Every amount is rounded to
the currency's minor unit once, where it is made; the total never goes below zero.

At checkout, inside the transaction that creates the order, each adjuster's
commit(order, adjustments) claims what it used (a code, points) under row locks
and may veto by raising a ShopError, which rolls the whole order back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from shop.core.money import Money, quantize


class AdjustmentKind:
    DISCOUNT = "discount"
    SHIPPING = "shipping"
    POINTS = "points"


@dataclass(frozen=True)
class Adjustment:
    label: str
    amount: Money
    source: str  # which adjuster made it, e.g. "discounts"
    kind: str
    reference: str = ""  # what it refers to in its source, e.g. a code
    # How a discount splits over the cart's lines: ((cart line id, amount), ...), adding up to -amount.
    # Checkout stores each line's share, so a refund line by line knows what was paid.
    allocations: tuple = ()


@dataclass(frozen=True)
class PricedLine:
    line_id: int | None
    product: object
    quantity: int
    unit_price: Money
    compare_at: Money | None
    total: Money


@dataclass
class PricedCart:
    currency: str
    lines: list[PricedLine]
    subtotal: Money
    adjustments: list[Adjustment] = field(default_factory=list)
    unavailable: list = field(default_factory=list)  # cart lines whose product is no longer sold
    # What the adjusters read while pricing (PricingContext.memo): the panels that show this
    # cart (a code, points) use it instead of reading the same rows again.
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> Money:
        total = self.subtotal
        for adjustment in self.adjustments:
            total = total + adjustment.amount
        return total.at_least_zero()

    def left_to_pay(self) -> dict:
        """Each line's total less its share of the adjustments so far: {cart line id: Decimal}."""
        left = {line.line_id: line.total.amount for line in self.lines}
        for adjustment in self.adjustments:
            for line_id, share in adjustment.allocations:
                left[line_id] = left.get(line_id, Decimal(0)) - share
        return left

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines


def allocate(amount: Decimal, weights: dict, currency: str) -> dict:
    """Split `amount` over keys in proportion to weights, rounded, adding up exactly (largest remainder).

    Adjusters use it to spread a discount over the cart's lines (Adjustment.allocations).
    """
    total = sum(weights.values(), Decimal(0))
    if total <= 0 or amount <= 0:
        return {}
    unit = quantize(Decimal(1), currency).as_tuple().exponent
    step = Decimal(1).scaleb(unit)
    exact = {key: amount * weight / total for key, weight in weights.items()}
    floors = {key: (value // step) * step for key, value in exact.items()}
    leftover = int((quantize(amount, currency) - sum(floors.values(), Decimal(0))) / step)
    for key in sorted(exact, key=lambda k: (exact[k] - floors[k], str(k)), reverse=True)[:leftover]:
        floors[key] += step
    return {key: value for key, value in floors.items() if value > 0}


@dataclass(frozen=True)
class PricingContext:
    """What adjusters may look at besides the lines: who buys, and the choices made at checkout."""

    cart: object | None = None
    customer: object | None = None
    shipping_method: str | None = None  # None on the cart page: shipping is chosen at checkout
    # What an app reads once per pricing and uses in several of its adjusters (discounts: the
    # cart's code and the candidate promotions), keyed by the app's own names. A new one per
    # pricing, so nothing read here outlives it.
    memo: dict = field(default_factory=dict, compare=False)


class Adjuster(Protocol):
    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]: ...

    def commit(self, order, adjustments: list[Adjustment], context: PricingContext) -> None: ...


@cache
def _load(paths: tuple[str, ...]) -> tuple[Adjuster, ...]:
    return tuple(import_string(path)() for path in paths)


def adjusters() -> tuple[Adjuster, ...]:
    return _load(tuple(settings.SHOP_PRICE_ADJUSTERS))


def price_lines(lines, currency: str | None = None) -> PricedCart:
    """Subtotals only: each line is unit price × quantity, rounded.

    Lines whose product is no longer sold are left out of the totals and listed
    in `unavailable`, for the cart to show and the customer to remove.
    """
    currency = currency or settings.SHOP_CURRENCY
    lines = list(lines)
    unavailable = [line for line in lines if not line.product.is_active]
    lines = [line for line in lines if line.product.is_active]
    priced = [
        PricedLine(
            line_id=line.pk,
            product=line.product,
            quantity=line.quantity,
            unit_price=line.product.price_money,
            compare_at=line.product.compare_at_money,
            total=(line.product.price_money * line.quantity).rounded(),
        )
        for line in lines
    ]
    subtotal = Money.zero(currency)
    for line in priced:
        subtotal = subtotal + line.total
    return PricedCart(currency=currency, lines=priced, subtotal=subtotal, unavailable=unavailable)


def price_cart(cart, *, customer=None, shipping_method: str | None = None, lines=None) -> PricedCart:
    """Price a cart whose lines (with products) are loaded, then run every adjuster in order.

    Each adjuster sees the adjustments made before it (shipping sees the discounts).
    """
    if customer is not None and not getattr(customer, "is_authenticated", False):
        customer = None
    context = PricingContext(cart=cart, customer=customer, shipping_method=shipping_method)
    priced = price_lines(lines if lines is not None else (cart.lines.all() if cart is not None else []))
    priced.memo = context.memo
    for adjuster in adjusters():
        for adjustment in adjuster.adjust(priced, context):
            priced.adjustments.append(
                Adjustment(
                    label=adjustment.label,
                    amount=adjustment.amount.rounded(),
                    source=adjustment.source,
                    kind=adjustment.kind,
                    reference=adjustment.reference,
                    allocations=adjustment.allocations,
                )
            )
    return priced
