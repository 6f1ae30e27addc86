"""The pricing pipeline (docs/architecture.md, "Pricing adjusters").

A cart is priced line by line, then each adjuster named in
settings.SHOP_PRICE_ADJUSTERS, in order, may add adjustment lines: discounts
(negative), shipping (positive), points (negative). Every amount is rounded to
the currency's minor unit once, where it is made; the total never goes below zero.

At checkout, inside the transaction that creates the order, each adjuster's
commit(order, adjustments) claims what it used (a code, points) under row locks
and may veto by raising a ShopError, which rolls the whole order back.

What a pricing depends on is declared as it reads (depends_on, valid_until): the version
tokens (shop.core.tokens) of the rows each step read and the moment its answer stops being
true (a promotion starts or ends, points expire). shop.cart.snapshot keeps a priced cart
while those tokens hold and that moment has not come.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache, cached_property
from typing import NamedTuple, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from shop.core import tokens
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
    # A saving the product pages already promise (an automatic promotion anyone gets): the cart
    # shows it on its lines, each at the price its product page said, the original struck through,
    # rather than as a line of the summary. Only a discount whose allocations add up to it.
    on_lines: bool = False
    # Its cap and conditions in words, for wherever the saving is shown ("50% off, up to $60").
    terms: str = ""


@dataclass(frozen=True)
class PricedLine:
    line_id: int | None
    product: object
    quantity: int
    unit_price: Money
    compare_at: Money | None
    total: Money
    variant: object = None  # the cart line's variant (its options, its own stock)

    @property
    def max_quantity(self) -> int:
        """The most the quantity field offers: the stock while it is low enough for pages to show
        (catalog.models.stock_shown: such a change replaces the product's token), else the most a
        line holds; the cart's services check the stock either way."""
        from shop.cart.services import MAX_LINE_QUANTITY
        from shop.catalog.models import stock_shown

        stock = (self.variant or self.product).stock
        return stock if stock_shown(stock) == stock else MAX_LINE_QUANTITY


class LineSaving(NamedTuple):
    adjustment: Adjustment  # the promotion's adjustment (its label, its terms)
    amount: Money  # what it takes off this line (positive)


@dataclass(frozen=True)
class ShownLine:
    """A cart line as the cart shows it: after the savings its product page promised (Adjustment.on_lines)."""

    line: PricedLine
    unit_price: Money  # each unit after those savings (rounded: the line's total is what counts)
    total: Money  # the line's total after them
    savings: tuple[LineSaving, ...]  # the promotions that lowered it

    @property
    def reduced(self) -> bool:
        return self.total != self.line.total

    def __getattr__(self, name):  # line_id, product, quantity, max_quantity, compare_at: the line's own
        if name == "line" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.line, name)


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

    def _on_lines(self, adjustment: Adjustment) -> bool:
        if not adjustment.on_lines or not adjustment.allocations:
            return False
        return sum((share for _line, share in adjustment.allocations), Decimal(0)) == -adjustment.amount.amount

    @cached_property
    def shown_lines(self) -> list[ShownLine]:
        """The lines at the prices the product pages promised (each line's total less its on-line savings)."""
        savings: dict = {}
        for adjustment in self.adjustments:
            if self._on_lines(adjustment):
                for line_id, share in adjustment.allocations:
                    savings.setdefault(line_id, []).append(LineSaving(adjustment, Money(share, self.currency)))
        shown = []
        for line in self.lines:
            mine = tuple(savings.get(line.line_id, ()))
            total = line.total
            for _adjustment, share in mine:
                total = total - share
            unit = (
                Money(quantize(total.amount / line.quantity, self.currency), self.currency) if mine else line.unit_price
            )
            shown.append(ShownLine(line=line, unit_price=unit, total=total, savings=mine))
        return shown

    @property
    def lines_total(self) -> Money:
        """What the shown lines add up to: the subtotal less the savings shown on the lines."""
        total = Money.zero(self.currency)
        for line in self.shown_lines:
            total = total + line.total
        return total

    @property
    def summary_adjustments(self) -> list[Adjustment]:
        """The adjustments the summary lists under the lines' total (the rest are on the lines)."""
        return [a for a in self.adjustments if not self._on_lines(a)]

    @property
    def line_savings(self) -> Money:
        """What the savings shown on the lines add up to (positive)."""
        return self.subtotal - self.lines_total

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

    def depends_on(self, keys, *, late: bool = False) -> None:
        depends_on(self.memo, keys, late=late)

    def valid_until(self, moment) -> None:
        valid_until(self.memo, moment)


# -- what a pricing depends on ----------------------------------------------------------------

DEPENDS, KNOWN, LATE, UNTIL = "pricing:depends", "pricing:known", "pricing:late", "pricing:until"


def customer_key(customer_id: int) -> str:
    """The token of what pricing reads about one customer: their orders, uses of promotions, points,
    tier, referrals. Replaced by customer_changed()."""
    return f"pricing:customer:{customer_id}"


def customer_changed(customer_ids) -> None:
    """Something pricing reads about these customers changed (an order, a redemption, a points entry)."""
    tokens.bump(customer_key(pk) for pk in customer_ids if pk is not None)


def depends_on(memo: dict, keys, *, late: bool = False) -> None:
    """What this pricing reads stays true while the tokens under these keys hold.

    Declare before reading the rows they stand for, so that a write landing in between is seen.
    `late`: the rows were read first (the tokens' keys depend on them, e.g. the code on the
    cart); a snapshot holding such a token is only trusted once a later pricing has read it
    beforehand (KNOWN: the tokens a snapshot read before pricing began). A pricing that nothing
    keeps (no KNOWN in its memo) reads no token.
    """
    if KNOWN not in memo:
        return  # nothing keeps this pricing (checkout, a cart changed): no token to read
    held = memo.setdefault(DEPENDS, {})
    known = memo[KNOWN]
    new = [key for key in keys if key not in held]
    if not new:
        return
    unread = [key for key in new if key not in known]
    held.update({key: known[key] for key in new if key in known})
    if unread:
        held.update(tokens.read(unread))
        if late:
            memo[LATE] = True


def valid_until(memo: dict, moment) -> None:
    """What this pricing found stops being true at this moment (None: no such moment)."""
    if moment is not None and (memo.get(UNTIL) is None or moment < memo[UNTIL]):
        memo[UNTIL] = moment


class Adjuster(Protocol):
    def adjust(self, priced: PricedCart, context: PricingContext) -> list[Adjustment]: ...

    def commit(self, order, adjustments: list[Adjustment], context: PricingContext) -> None: ...


@cache
def _load(paths: tuple[str, ...]) -> tuple[Adjuster, ...]:
    return tuple(import_string(path)() for path in paths)


def adjusters() -> tuple[Adjuster, ...]:
    return _load(tuple(settings.SHOP_PRICE_ADJUSTERS))


def _sold_as(line):
    """What a line sells: its variant (its price, its stock), or its product for a line that has
    none (a promotion's preview in the admin prices products)."""
    variant = getattr(line, "variant", None)
    if variant is None:
        return line.product
    variant.product = line.product  # the same row, read with the line: no query per variant
    return variant


def _sold(line) -> bool:
    return line.product.is_active and _sold_as(line).is_active


def price_lines(lines, currency: str | None = None) -> PricedCart:
    """Subtotals only: each line is unit price × quantity, rounded.

    Lines whose product is no longer sold are left out of the totals and listed
    in `unavailable`, for the cart to show and the customer to remove.
    """
    currency = currency or settings.SHOP_CURRENCY
    lines = list(lines)
    unavailable = [line for line in lines if not _sold(line)]
    lines = [line for line in lines if _sold(line)]
    priced = []
    for line in lines:
        sold = _sold_as(line)
        priced.append(
            PricedLine(
                line_id=line.pk,
                product=line.product,
                quantity=line.quantity,
                unit_price=sold.price_money,
                compare_at=sold.compare_at_money,
                total=(sold.price_money * line.quantity).rounded(),
                variant=sold if sold is not line.product else None,
            )
        )
    subtotal = Money.zero(currency)
    for line in priced:
        subtotal = subtotal + line.total
    return PricedCart(currency=currency, lines=priced, subtotal=subtotal, unavailable=unavailable)


def price_cart(
    cart, *, customer=None, shipping_method: str | None = None, lines=None, memo: dict | None = None
) -> PricedCart:
    """Price a cart whose lines (with products) are loaded, then run every adjuster in order.

    Each adjuster sees the adjustments made before it (shipping sees the discounts). `memo`:
    a snapshot's start (the tokens it read before the rows, KNOWN).
    """
    if customer is not None and not getattr(customer, "is_authenticated", False):
        customer = None
    context = PricingContext(
        cart=cart, customer=customer, shipping_method=shipping_method, memo=memo if memo is not None else {}
    )
    priced = price_lines(lines if lines is not None else (cart.lines.all() if cart is not None else []))
    priced.memo = context.memo
    for adjuster in adjusters():
        for adjustment in adjuster.adjust(priced, context):
            priced.adjustments.append(replace(adjustment, amount=adjustment.amount.rounded()))
    return priced
