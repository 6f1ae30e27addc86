"""Every change to an order's status goes through here, and each writes one timeline event.

Transitions lock the order row (select_for_update) and check TRANSITIONS, so a
replayed webhook, a double click in the admin or the expiry job running twice
finds the order already moved and does nothing.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.catalog.models import Product, Variant
from shop.core.errors import Conflict, ShopError
from shop.core.money import Money
from shop.orders import signals
from shop.orders.models import UNPAID, EventKind, Order, OrderEmail, OrderEvent, OrderStatus

log = logging.getLogger(__name__)
S = OrderStatus


class PaymentMismatch(ShopError):
    code = "payment_mismatch"


def order_event(*, order: Order, kind: str, message: str = "", data: dict | None = None, actor=None) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        status=order.status,
        message=message[:300],
        data=data or {},
        actor=actor,
        created_at=timezone.now(),
    )


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _move(order: Order, status: str, kind: str, *, message="", data=None, actor=None, fields=()) -> None:
    order.status = status
    order.save(update_fields=["status", "updated_at", *fields])
    order_event(order=order, kind=kind, message=message, data=data, actor=actor)


def _restock(order: Order) -> None:
    """Give each line's quantity back to its variant and to its product (the sum of its variants')."""
    # Product then variant order, as at checkout, so restocking never deadlocks with a checkout.
    for line in order.lines.exclude(product=None).order_by("product_id", "variant_id"):
        if line.variant_id is not None:
            variants = Variant.objects.filter(pk=line.variant_id)
        elif line.sku:  # a line written without its variant (imported): the variant of that SKU, if any
            variants = Variant.objects.filter(product=line.product_id, sku=line.sku)
        elif Variant.objects.filter(product=line.product_id).count() == 1:
            variants = Variant.objects.filter(product=line.product_id)
        else:
            continue  # no way to know which variant it was: nothing to give back
        # The product's row first, then the variant's, as checkout and the catalog import lock them
        # (the other way round, two of them could each wait for the other). A variant taken off
        # sale keeps its stock out of its product's sum (Product.stock).
        Product.objects.filter(pk=line.product_id).filter(Exists(variants.filter(is_active=True))).update(
            stock=F("stock") + line.quantity
        )
        variants.update(stock=F("stock") + line.quantity)


def queue_email(*, order: Order, kind: str, reference: str = "") -> None:
    """Record the email with the change it reports; send it after commit (or let the sweep do it).

    One statement: the row is unique per order, kind and reference, so a repeat finds the row
    already there (it is sent once all the same: shop.core.outbox)."""
    [email] = OrderEmail.objects.bulk_create(
        [OrderEmail(order=order, kind=kind, reference=reference)],
        update_conflicts=True,
        unique_fields=["order", "kind", "reference"],
        update_fields=["kind"],  # unchanged: the row is only returned
    )
    transaction.on_commit(lambda: _enqueue_email(email.pk))


def _enqueue_email(email_id: int) -> None:
    from shop.orders.tasks import send_order_email

    try:
        send_order_email.delay(email_id=email_id)
    except Exception:  # the broker is down: the order stands, the sweep sends the email later
        log.warning("Could not enqueue order email %s; the scheduled sweep will send it.", email_id, exc_info=True)


def _send(signal, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send(sender=Order, **kwargs))


def order_mark_paid(*, order_id: int, amount: Money, reference: str = "") -> tuple[Order, bool]:
    """Record a successful payment. Returns (order, changed). Never pays an order twice.

    The amount and currency must be the order's; a payment for an order that
    already expired or was cancelled is reported (changed=False, status kept)
    so the caller can refund it.
    """
    with transaction.atomic():
        order = _locked(order_id)
        mismatch = amount.currency != order.currency or amount.amount != order.total
        changed = not mismatch and order.status in UNPAID
        if mismatch:
            order_event(
                order=order,
                kind=EventKind.NOTE,
                data={"amount": str(amount.amount), "currency": amount.currency},
                message=_("A payment of %(amount)s did not match the order total; not applied.")
                % {"amount": amount.format()},
            )
        elif changed:
            order.paid_at = timezone.now()
            order.expires_at = None
            _move(order, S.PAID, EventKind.PAID, data={"reference": reference}, fields=["paid_at", "expires_at"])
            queue_email(order=order, kind="confirmation")
            _send(signals.order_paid, order_id=order.pk, user_id=order.user_id)
    if mismatch:
        # Raised once the block has committed, so the note on the timeline is kept, not rolled back.
        raise PaymentMismatch(_("The payment does not match the order total."))
    return order, changed


def order_mark_payment_failed(*, order_id: int, message: str = "", declined: bool = False) -> Order:
    """A card was declined or a payment failed: the order is kept so the customer can try again."""
    with transaction.atomic():
        order = _locked(order_id)
        if order.status in UNPAID:
            kind = EventKind.PAYMENT_DECLINED if declined else EventKind.PAYMENT_FAILED
            _move(order, S.PAYMENT_FAILED, kind, message=message)
    return order


def order_ship(*, order_id: int, carrier: str, tracking_number: str, actor=None) -> Order:
    with transaction.atomic():
        order = _locked(order_id)
        _require(order, S.SHIPPED, _("Only paid orders can be shipped."))
        order.carrier, order.tracking_number = carrier, tracking_number
        _move(
            order,
            S.SHIPPED,
            EventKind.SHIPPED,
            actor=actor,
            fields=["carrier", "tracking_number"],
            message=f"{carrier} {tracking_number}".strip(),
            data={"carrier": carrier, "tracking_number": tracking_number},
        )
        queue_email(order=order, kind="shipped")
        _send(signals.order_shipped, order_id=order.pk)
    return order


def order_deliver(*, order_id: int, actor=None) -> Order:
    with transaction.atomic():
        order = _locked(order_id)
        _require(order, S.DELIVERED, _("Only shipped orders can be marked delivered."))
        _move(order, S.DELIVERED, EventKind.DELIVERED, actor=actor)
    return order


def order_cancel(*, order_id: int, actor=None, message: str = "") -> Order:
    """Cancel an order that has not shipped: its stock comes back; a paid order is refunded in full first.

    The refund is asked of the provider before the cancellation's transaction, never inside
    it. If the provider cannot be reached, the refund is recorded and retried by the
    gateway: the cancellation goes ahead and RefundPending is raised afterwards to say so.
    """
    from shop.orders.payment import RefundPending, gateway

    order = Order.objects.get(pk=order_id)
    _require(order, S.CANCELLED, _("Shipped, delivered or closed orders cannot be cancelled; refund them instead."))
    pending = None
    if order.is_paid and order.refundable.amount > 0:
        try:
            gateway().refund(order=order, amount=order.refundable, actor=actor, cancel=True)
        except RefundPending as exc:
            pending = exc
    with transaction.atomic():
        order = _locked(order_id)
        if order.status == S.CANCELLED:
            return order
        _require(order, S.CANCELLED, _("This order can no longer be cancelled."))
        _restock(order)
        _move(order, S.CANCELLED, EventKind.CANCELLED, actor=actor, message=message)
        _send(signals.order_cancelled, order_id=order.pk, reason="cancelled")
    if pending is not None:
        raise pending
    return order


def orders_expire(*, now=None, limit: int = 500) -> int:
    """Expire unpaid orders past their payment deadline; their stock comes back. Safe to run twice."""
    now = now or timezone.now()
    ids = list(
        Order.objects.filter(status__in=UNPAID, expires_at__lt=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for order_id in ids:
        with transaction.atomic():
            order = _locked(order_id)
            if order.status not in UNPAID or order.expires_at is None or order.expires_at >= now:
                continue  # paid or expired meanwhile
            _restock(order)
            _move(order, S.EXPIRED, EventKind.EXPIRED)
            _send(signals.order_cancelled, order_id=order.pk, reason="expired")
            if order.payments.filter(status="open").exists():
                # So the old client secret can no longer take money for a closed order.
                transaction.on_commit(lambda order=order: _cancel_payment(order))
            expired += 1
    return expired


def _cancel_payment(order: Order) -> None:
    from shop.orders.payment import gateway

    try:
        gateway().cancel(order=order)
    except Exception:  # best effort: a payment that still arrives is refunded automatically
        log.info("Could not cancel the payment of expired order %s", order.number, exc_info=True)


def order_record_refund(
    *, order_id: int, amount: Money, reference: str, actor=None, reason: str = "", keep_status: bool = False
) -> Order:
    """Record money given back (called by the payment gateway once the provider confirmed it).

    keep_status: the refund is part of a cancellation, which sets the status itself.
    """
    with transaction.atomic():
        order = _locked(order_id)
        if amount.currency != order.currency or amount.amount <= 0 or amount.amount > order.refundable.amount:
            raise Conflict(
                _("A refund must be more than zero and at most %(max)s.") % {"max": order.refundable.format()}
            )
        # Added in Python under the row lock: SQLite runs F("amount_refunded") + x in floating
        # point (8.97 + 8.98 > 17.95), which breaks the check constraint or misses the total.
        order.amount_refunded = order.amount_refunded + amount.amount
        order.save(update_fields=["amount_refunded", "updated_at"])
        full = order.amount_refunded == order.total
        data = {"amount": str(amount.amount), "reference": reference}
        message = reason or amount.format()
        if full and not keep_status and order.can_move_to(S.REFUNDED):
            _move(order, S.REFUNDED, EventKind.REFUNDED, actor=actor, data=data, message=message)
        else:
            order_event(
                order=order,
                kind=EventKind.PARTIALLY_REFUNDED if not full else EventKind.REFUNDED,
                actor=actor,
                data=data,
                message=message,
            )
        queue_email(order=order, kind="refunded", reference=reference)
        _send(signals.order_refunded, order_id=order.pk, amount=Decimal(amount.amount), refund_reference=reference)
    return order


def order_refund(*, order_id: int, amount: Money, actor=None, reason: str = "") -> Order:
    """Refund part or all of a paid order through the payment provider.

    Raises RefundPending when the provider could not be reached: the refund is recorded and retried."""
    order = Order.objects.get(pk=order_id)
    if not order.is_paid:
        raise Conflict(_("Only paid orders can be refunded."))
    if amount.amount <= 0 or amount.amount > order.refundable.amount:
        raise Conflict(
            _("A refund must be more than zero and at most %(max)s.") % {"max": order.refundable.format()},
            field="amount",
        )
    from shop.orders.payment import gateway

    gateway().refund(order=order, amount=amount, actor=actor, reason=reason)
    return Order.objects.get(pk=order_id)


def _require(order: Order, status: str, message: str) -> None:
    if not order.can_move_to(status):
        raise Conflict(message)


# The parts of a shipping address that say who and exactly where; city, region and country stay
# for the books (sales by place).
ERASED_ADDRESS_FIELDS = ("shipping_name", "shipping_line1", "shipping_line2", "shipping_postal_code", "shipping_phone")


def orders_anonymise(*, user, email: str) -> int:
    """The customer's erasure: their orders stay, with every amount, line and event, but no longer
    say who they were for. `email` is the address the orders keep instead. Emails about those
    orders not sent yet are dropped (they would go to nobody). Returns how many orders changed."""
    orders = Order.objects.filter(user=user)
    OrderEmail.objects.filter(order__in=orders, sent_at__isnull=True).delete()
    return orders.update(email=email, updated_at=timezone.now(), **dict.fromkeys(ERASED_ADDRESS_FIELDS, ""))
