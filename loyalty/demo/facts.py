"""What happened to each member: their orders (with refunds, cancellations, points), reviews and referral
rewards, read a batch at a time. Which orders points can be put on: see the package docstring."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from loyalty.demo.common import SCOPE
from loyalty.models import Referral
from loyalty.services import CLOSED_UNPAID
from shop.cart.pricing import AdjustmentKind, PricedCart, PricedLine
from shop.catalog.models import Review, ReviewStatus
from shop.core.money import Money
from shop.orders.models import PAID_STATES, EventKind, Order, OrderAdjustment, OrderEvent, OrderLine
from shop.payments.models import Refund


@dataclass(frozen=True)
class LineFacts:
    id: int
    quantity: int
    unit_price: Decimal
    subtotal: Decimal
    discount: Decimal


@dataclass
class Spent:
    """Points a checkout spent on an order, and what they took off each of its lines."""

    points: int
    value: Decimal
    shares: dict[int, Decimal]
    earliest_expiry: dt.datetime | None  # of the lots they came from


@dataclass
class OrderFacts:
    id: int
    user_id: int
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    total: Decimal
    shipping_total: Decimal = Decimal(0)
    discount_total: Decimal = Decimal(0)
    key: str = ""  # the orders seeder's key ("" for an order placed through the checkout)
    status: str = ""
    currency: str = ""
    amount_refunded: Decimal = Decimal(0)
    basis: Decimal = Decimal(0)  # services.order_basis: merchandise after discounts (and points)
    lines: list[LineFacts] = field(default_factory=list)
    products: set[int] = field(default_factory=set)
    refunds: list[tuple[dt.datetime, Decimal]] = field(default_factory=list)  # (when, refunded so far)
    cancelled_at: dt.datetime | None = None  # after payment only
    closed_at: dt.datetime | None = None  # cancelled or expired before payment
    has_points: bool = False  # already paid partly with points
    spent: Spent | None = None  # the points the replay spent on it

    def can_take_points(self) -> bool:
        """A demo order that points can be written on with everything still adding up (the module docstring)."""
        if not self.key or self.has_points or not self.lines or self.refunds or self.amount_refunded:
            return False
        if any(line.discount for line in self.lines) or not any(line.subtotal > 0 for line in self.lines):
            return False
        if self.paid_at is not None:
            return self.status in PAID_STATES and self.cancelled_at is None
        return self.status in CLOSED_UNPAID and self.closed_at is not None

    def priced(self) -> PricedCart:
        """The order's cart as the pricing pipeline had it when the points adjuster ran (no line discounts)."""
        lines = [
            PricedLine(
                line_id=line.id,
                product=None,
                quantity=line.quantity,
                unit_price=Money(line.unit_price, self.currency),
                compare_at=None,
                total=Money(line.subtotal, self.currency),
            )
            for line in self.lines
        ]
        subtotal = Money(sum((line.subtotal for line in self.lines), Decimal(0)), self.currency)
        return PricedCart(currency=self.currency, lines=lines, subtotal=subtotal)

    def refunded(self, at: dt.datetime) -> Decimal:
        done = [amount for when, amount in self.refunds if when <= at]
        return done[-1] if done else Decimal(0)

    def is_cancelled(self, at: dt.datetime) -> bool:
        return self.cancelled_at is not None and self.cancelled_at <= at

    def is_paid(self, at: dt.datetime) -> bool:
        """In PAID_STATES at that moment: paid, not yet cancelled nor wholly refunded."""
        wholly_refunded = self.total > 0 and self.refunded(at) >= self.total
        return self.paid_at is not None and self.paid_at <= at and not self.is_cancelled(at) and not wholly_refunded

    def undone(self, at: dt.datetime) -> Decimal:
        """services.undone_fraction, as the order stood then: of what was paid for the merchandise."""
        if self.is_cancelled(at) or (self.total > 0 and self.refunded(at) >= self.total):
            return Decimal(1)
        merchandise = self.total - self.shipping_total
        if merchandise <= 0:
            return Decimal(0)
        return min(Decimal(1), self.refunded(at) / merchandise)


@dataclass
class Facts:
    """A batch of members' orders, reviews and referral rewards, read in a few queries."""

    orders: dict[int, list[OrderFacts]]
    reviews: dict[int, list[tuple[int, dt.datetime, str]]]
    referrals: dict[int, list[tuple[int, dt.datetime, str, int]]]

    @classmethod
    def load(cls, members, now) -> Facts:
        ids = [m.id for m in members]
        by_id: dict[int, OrderFacts] = {}
        orders = defaultdict(list)
        rows = (
            Order.objects.filter(user_id__in=ids)
            .order_by("placed_at", "id")
            .values_list(
                "id", "user_id", "placed_at", "paid_at", "total", "shipping_total", "discount_total",
                "idempotency_scope", "idempotency_key", "status", "currency", "amount_refunded",
            )
        )  # fmt: skip
        for pk, user_id, placed_at, paid_at, total, shipping, discount, scope, key, *rest in rows:
            key = key if scope == SCOPE else ""
            by_id[pk] = order = OrderFacts(pk, user_id, placed_at, paid_at, total, shipping, discount, key, *rest)
            orders[order.user_id].append(order)
        lines = OrderLine.objects.filter(order__user_id__in=ids).order_by("id")
        for pk, order_id, product_id, quantity, unit_price, subtotal, discount in lines.values_list(
            "id", "order_id", "product_id", "quantity", "unit_price", "subtotal", "discount"
        ):
            order = by_id[order_id]
            order.lines.append(LineFacts(pk, quantity, unit_price, subtotal, discount))
            order.basis += subtotal - discount
            order.products.add(product_id)
        refunds = Refund.objects.filter(order__user_id__in=ids).order_by("created_at", "id")
        for order_id, amount, created_at in refunds.values_list("order_id", "amount", "created_at"):
            order = by_id[order_id]
            order.refunds.append((created_at, order.refunded(now) + amount))
        for order_id, kind, created_at in OrderEvent.objects.filter(
            order__user_id__in=ids, kind__in=[EventKind.CANCELLED, EventKind.EXPIRED]
        ).values_list("order_id", "kind", "created_at"):
            order = by_id[order_id]
            if order.paid_at is None:
                order.closed_at = created_at
            elif kind == EventKind.CANCELLED:
                order.cancelled_at = created_at
        with_points = OrderAdjustment.objects.filter(order__user_id__in=ids, kind=AdjustmentKind.POINTS)
        for order_id in with_points.values_list("order_id", flat=True):
            by_id[order_id].has_points = True
        reviews = defaultdict(list)
        # Rewarded when published (a review hidden after reports had been published).
        shown = Review.objects.filter(user_id__in=ids, status__in=[ReviewStatus.PUBLISHED, ReviewStatus.HELD])
        for user_id, *review in shown.values_list("user_id", "product_id", "created_at", "product__name"):
            reviews[user_id].append(tuple(review))
        referrals = defaultdict(list)
        for pk, advocate_id, *rest in Referral.objects.filter(
            advocate_id__in=ids, status=Referral.Status.REWARDED, rewarded_order__isnull=False
        ).values_list("pk", "advocate_id", "decided_at", "friend__email", "rewarded_order_id"):
            referrals[advocate_id].append((pk, *rest))
        return cls(orders, reviews, referrals)
