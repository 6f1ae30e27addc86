"""Orders paid partly with points: which and how many (used by the replay), what the checkout wrote for
them, and taking it off again before a history is written again."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.utils.translation import ngettext

from loyalty.adjusters import PointsAdjuster
from loyalty.demo.common import ROWS, SCOPE, _chunks
from loyalty.demo.facts import OrderFacts
from loyalty.program import grouped
from shop.cart.pricing import AdjustmentKind, allocate
from shop.core.money import Money
from shop.orders.models import Order, OrderAdjustment, OrderLine
from shop.payments.models import Payment

# Points spent at checkout: the share of demo orders whose customer put points on the cart (if they had enough),
# and of those, the share who used all that could apply (the others typed a round number).
POINTS_SHARE = 0.12
ALL_POINTS_SHARE = 0.3
# The demo shopper's, by order key (shop/orders/demo.py SHOPPER_ORDERS): the points put on the cart. The first
# checkout took the signup bonus and most of the oldest referral reward, and was cancelled: the points came
# back with the bonus's expiry date and expired with it five weeks ago. The second, two weeks ago, took the rest
# of that reward and most of the next one, whose last points expire within the month.
SHOPPER_POINTS = {"demo-shopper-2": 500, "demo-shopper-4": 500}


def _points_put_on(orders: list[OrderFacts]) -> None:
    """What the checkout wrote for the points on each order: the adjustment (PointsAdjuster's), the lines'
    shares, the lower totals and payments of the new total (marketing/discounts/demo.py History.write)."""
    OrderAdjustment.objects.bulk_create(
        [
            OrderAdjustment(
                order_id=order.id,
                kind=AdjustmentKind.POINTS,
                label=_points_label(order.spent.points),
                amount=-order.spent.value,
                source=PointsAdjuster.source,
                reference=f"points:{order.spent.points}",
            )
            for order in orders
        ],
        batch_size=ROWS,
    )
    lines = [
        OrderLine(pk=line.id, discount=line.discount + order.spent.shares[line.id])
        for order in orders
        for line in order.lines
        if line.id in order.spent.shares
    ]
    OrderLine.objects.bulk_update(lines, ["discount"], batch_size=ROWS)
    totals = {order.id: (order.discount_total + order.spent.value, order.total, order.currency) for order in orders}
    _totals_set(totals)


def _points_changed_since(member_ids: set[int]) -> set[int]:
    """Members with a demo order paid partly with points whose discount_total no longer agrees with its
    adjustments: something changed it since (a promotion written over it), so its points could not be
    taken off exactly. Such members are left as they are."""
    changed = set()
    for ids in _chunks(sorted(member_ids)):
        orders = Order.objects.filter(user_id__in=ids, idempotency_scope=SCOPE, adjustments__kind=AdjustmentKind.POINTS)
        adjusted = defaultdict(Decimal)
        for order_id, amount in (
            OrderAdjustment.objects.filter(order__in=orders)
            .exclude(kind=AdjustmentKind.SHIPPING)
            .values_list("order_id", "amount")
        ):
            adjusted[order_id] -= amount
        for pk, user_id, discount_total in orders.values_list("pk", "user_id", "discount_total"):
            if discount_total != adjusted[pk]:
                changed.add(user_id)
    return changed


def _points_taken_off(member_ids: set[int]) -> int:
    """Put the members' demo orders paid partly with points back as they were before (their histories are
    about to be written again, which decides again). Exact: the points were spread over the lines'
    subtotals (those orders had no line discounts), so the same allocation takes them off."""
    restored = 0
    for ids in _chunks(sorted(member_ids)):
        adjustments = OrderAdjustment.objects.filter(
            kind=AdjustmentKind.POINTS,
            source=PointsAdjuster.source,
            order__user_id__in=ids,
            order__idempotency_scope=SCOPE,
        )
        value = {order_id: -amount for order_id, amount in adjustments.values_list("order_id", "amount")}
        if not value:
            continue
        orders = Order.objects.filter(pk__in=list(value)).values_list("id", "discount_total", "total", "currency")
        totals = {pk: (discount - value[pk], total + value[pk], currency) for pk, discount, total, currency in orders}
        subtotals = defaultdict(dict)
        discounts = {}
        for pk, order_id, subtotal, discount in OrderLine.objects.filter(order_id__in=list(value)).values_list(
            "id", "order_id", "subtotal", "discount"
        ):
            if subtotal > 0:
                subtotals[order_id][pk] = subtotal
            discounts[pk] = discount
        lines = [
            OrderLine(pk=pk, discount=discounts[pk] - share)
            for order_id, weights in subtotals.items()
            for pk, share in allocate(value[order_id], weights, totals[order_id][2]).items()
        ]
        OrderLine.objects.bulk_update(lines, ["discount"], batch_size=ROWS)
        _totals_set(totals)
        adjustments.delete()
        restored += len(value)
    return restored


def _totals_set(totals: dict[int, tuple[Decimal, Decimal, str]]) -> None:
    """{order id: (discount_total, total, currency)}: the orders' totals, and their payments of the total."""
    Order.objects.bulk_update(
        [Order(pk=pk, discount_total=discount, total=total) for pk, (discount, total, _c) in totals.items()],
        ["discount_total", "total"],
        batch_size=ROWS,
    )
    payments = [
        Payment(pk=pk, amount_minor=Money(totals[order_id][1], totals[order_id][2]).to_minor_units())
        for ids in _chunks(sorted(totals))
        for pk, order_id in Payment.objects.filter(order_id__in=ids).values_list("id", "order_id")
    ]
    Payment.objects.bulk_update(payments, ["amount_minor"], batch_size=ROWS)


def _points_label(points: int) -> str:
    """PointsAdjuster's label."""
    return ngettext("%(count)s point", "%(count)s points", points) % {"count": grouped(points)}
