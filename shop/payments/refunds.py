"""Refunds: recorded first, sent to Stripe once, retried until Stripe has answered.

The pattern of shop.core.outbox, for money instead of email:
1. the decision is a `Refund` row with status "requested", committed before Stripe hears of it;
2. a worker claims the row with a conditional update (status, due time, no live claim), so
   two workers, a retry racing the sweep or a staff "retry now" never call Stripe twice for it;
3. Stripe is called outside any transaction and row lock, with an idempotency key derived
   from the row's id, so even a repeat after a crash between Stripe's answer and our commit
   is one refund at Stripe;
4. a failure Stripe may get over (unreachable, rate limit, server error) is recorded on the
   row with a backoff and retried by a task at that time; a scheduled sweep
   (`refunds_retry_due`) finds rows whose task never ran. After MAX_ATTEMPTS, or when
   Stripe refuses outright, the row is "failed" and staff see it in the admin.
"""

from __future__ import annotations

import datetime as dt
import logging

import stripe
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.core.errors import Conflict, ShopError
from shop.core.money import Money
from shop.core.outbox import CLAIM
from shop.orders import services as orders
from shop.orders.models import EventKind, Order
from shop.payments import stripe_client
from shop.payments.models import Payment, Refund

log = logging.getLogger(__name__)
R = Refund.Status
MAX_ATTEMPTS = 10


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, … minutes after the 1st, 2nd, 3rd failure; at most 6 hours (about 14 hours in all)."""
    return dt.timedelta(minutes=min(2 ** (attempts - 1), 360))


def refundable_now(order: Order) -> Money:
    """What can still be refunded: the order's refundable amount less the refunds still on their way."""
    pending = order.refunds.filter(status=R.REQUESTED, applies_to_order=True).aggregate(s=Sum("amount"))["s"] or 0
    return Money(order.refundable.amount - pending, order.currency)


def refund_request(*, payment: Payment, amount: Money, reason="", actor=None, keep_status=False) -> Refund:
    """Record a refund of an order's money, within what is left. Send it with `refund_send` after commit."""
    with transaction.atomic():
        # The order row lock makes two staff refunds at once see each other's request.
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        left = refundable_now(order)
        if amount.currency != order.currency or not 0 < amount.amount <= left.amount:
            raise Conflict(
                _("A refund must be more than zero and at most %(max)s.") % {"max": left.format()}, field="amount"
            )
        return Refund.objects.create(
            order=order,
            payment=payment,
            amount=amount.amount,
            currency=amount.currency,
            reason=reason[:200],
            created_by=actor,
            keep_status=keep_status,
            status=R.REQUESTED,
            next_attempt_at=timezone.now(),
        )


def refund_return_payment(*, payment: Payment, amount: Money, reason: str) -> Refund | None:
    """Record that a payment the order never counted (it had closed, or the amount was wrong) goes back in full.

    Once per payment, however often Stripe reports it (a unique constraint). None if already recorded."""
    try:
        with transaction.atomic():
            return Refund.objects.create(
                order_id=payment.order_id,
                payment=payment,
                amount=amount.amount,
                currency=amount.currency,
                reason=reason[:200],
                applies_to_order=False,
                status=R.REQUESTED,
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return None


def refund_send(*, refund_pk: int) -> bool:
    """Claim a due refund, ask Stripe for it, record the answer. False if not due, claimed or settled already,
    or if Stripe failed (the row then says when it is tried again, or that it failed)."""
    now = timezone.now()
    claimed = Refund.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=refund_pk,
        status=R.REQUESTED,
        next_attempt_at__lte=now,
    ).update(claimed_until=now + CLAIM)
    if claimed != 1:
        return False
    row = Refund.objects.select_related("order", "payment").get(pk=refund_pk)
    try:
        answer = stripe_client.client().v1.refunds.create(
            params={
                "payment_intent": row.payment.intent_id,
                "amount": Money(row.amount, row.currency).to_minor_units(),
                "metadata": {"order": row.order.number, "refund": str(row.pk)},
            },
            options={"idempotency_key": f"order-{row.order.number}-refund-{row.pk}"},
        )
    except stripe_client.TRANSIENT as exc:
        _attempt_failed(row, exc, retry=True)
        return False
    except stripe.StripeError as exc:  # refused (already refunded, disputed…): a person must look
        _attempt_failed(row, exc, retry=False)
        return False
    return refund_settle(refund_pk=row.pk, stripe_refund_id=answer.id)


def _attempt_failed(row: Refund, exc: Exception, *, retry: bool) -> None:
    attempts = row.attempts + 1
    give_up = not retry or attempts >= MAX_ATTEMPTS
    delay = backoff(attempts)
    Refund.objects.filter(pk=row.pk).update(
        attempts=attempts,
        last_error=str(exc)[:300],
        claimed_until=None,
        status=R.FAILED if give_up else R.REQUESTED,
        next_attempt_at=None if give_up else timezone.now() + delay,
    )
    log.warning("Refund %s failed (attempt %d%s): %s", row.pk, attempts, ", giving up" if give_up else "", exc)
    if not give_up:
        _schedule(row.pk, delay)


def _schedule(refund_pk: int, delay: dt.timedelta) -> None:
    from shop.payments.tasks import send_refund

    try:
        send_refund.apply_async(kwargs={"refund_pk": refund_pk}, countdown=delay.total_seconds())
    except Exception:  # the broker is down: the scheduled sweep sends it when it is due
        log.warning("Could not schedule refund %s; the sweep will retry it.", refund_pk, exc_info=True)


def refund_settle(*, refund_pk: int, stripe_refund_id: str) -> bool:
    """Stripe has made the refund: record it once (our call or a webhook, whichever comes first)."""
    try:
        with transaction.atomic():
            row = Refund.objects.select_for_update().get(pk=refund_pk)
            if row.status == R.SUCCEEDED:
                return False
            row.status, row.refund_id, row.last_error = R.SUCCEEDED, stripe_refund_id, ""
            row.claimed_until = row.next_attempt_at = None
            row.save(
                update_fields=["status", "refund_id", "last_error", "claimed_until", "next_attempt_at", "updated_at"]
            )
            if row.applies_to_order:
                orders.order_record_refund(
                    order_id=row.order_id,
                    amount=Money(row.amount, row.currency),
                    reference=stripe_refund_id,
                    actor=row.created_by,
                    reason=row.reason,
                    keep_status=row.keep_status,
                )
    except ShopError as exc:
        # Stripe gave the money back but the order refuses it (more than is left): staff must look.
        Refund.objects.filter(pk=refund_pk).update(
            status=R.FAILED, refund_id=stripe_refund_id, claimed_until=None, last_error=str(exc.message)[:300]
        )
        log.error("Refund %s made at Stripe (%s) but not recorded: %s", refund_pk, stripe_refund_id, exc.message)
        return False
    return True


def record_refund(*, refund_id: str, payment: Payment, amount: Money, reason: str = "") -> bool:
    """A refund made outside the store (Stripe's dashboard), reported by a webhook: recorded once, by Stripe's id."""
    with transaction.atomic():
        _row, created = Refund.objects.get_or_create(
            refund_id=refund_id,
            defaults={
                "order_id": payment.order_id,
                "payment": payment,
                "amount": amount.amount,
                "currency": amount.currency,
                "reason": reason[:200],
            },
        )
        if created:
            orders.order_record_refund(order_id=payment.order_id, amount=amount, reference=refund_id, reason=reason)
    return created


def refund_record_reported(*, payment: Payment, stripe_refund) -> bool:
    """A refund as Stripe reports it (read from Stripe, not from a webhook body). True if it changed anything."""
    if stripe_refund.status in ("failed", "canceled"):
        return _failed_at_stripe(stripe_refund)
    if stripe_refund.status not in ("succeeded", "pending"):
        return False
    ours = getattr(getattr(stripe_refund, "metadata", None), "refund", None)
    row = Refund.objects.filter(refund_id=stripe_refund.id).first()
    if row is None and ours and str(ours).isdigit():
        row = Refund.objects.filter(pk=int(ours), payment=payment).first()
    if row is not None:
        return refund_settle(refund_pk=row.pk, stripe_refund_id=stripe_refund.id)
    amount = Money.from_minor_units(int(stripe_refund.amount), stripe_refund.currency)
    return record_refund(refund_id=stripe_refund.id, payment=payment, amount=amount, reason="Stripe")


def _failed_at_stripe(stripe_refund) -> bool:
    """A refund Stripe accepted and later could not pay out (the card was closed…): the customer still
    waits for the money, so staff must see it. The order's figures are theirs to correct."""
    reason = getattr(stripe_refund, "failure_reason", None) or stripe_refund.status
    failed = Refund.objects.filter(refund_id=stripe_refund.id, status=R.SUCCEEDED).update(
        status=R.FAILED, last_error=f"Stripe reports the refund {stripe_refund.status} ({reason})"[:300]
    )
    if failed:
        log.error("Refund %s %s at Stripe (%s)", stripe_refund.id, stripe_refund.status, reason)
    return bool(failed)


def refunds_retry_due(*, limit: int = 100) -> int:
    """Scheduled sweep: send every refund that is due and not claimed (its task never ran). Returns how many went."""
    now = timezone.now()
    ids = list(
        Refund.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(status=R.REQUESTED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(refund_send(refund_pk=pk) for pk in ids)


def refund_retry(*, refund_pk: int) -> bool:
    """Staff: try a waiting or failed refund now. Not one Stripe already made (its id is known)."""
    now = timezone.now()
    reset = (
        Refund.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(pk=refund_pk, status__in=[R.REQUESTED, R.FAILED], refund_id="")
        .update(status=R.REQUESTED, next_attempt_at=now)
    )
    return bool(reset) and refund_send(refund_pk=refund_pk)


def refund_mark_resolved(*, refund_pk: int, actor) -> bool:
    """Staff dealt with it another way (say, in Stripe's dashboard): no more retries; noted on the order."""
    now = timezone.now()
    with transaction.atomic():
        resolved = (
            Refund.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .filter(pk=refund_pk, status__in=[R.REQUESTED, R.FAILED])
            .update(status=R.RESOLVED, next_attempt_at=None, claimed_until=None)
        )
        if resolved:
            row = Refund.objects.select_related("order").get(pk=refund_pk)
            orders.order_event(
                order=row.order,
                kind=EventKind.NOTE,
                actor=actor,
                data={"refund": row.pk, "amount": str(row.amount)},
                message=_("Refund of %(amount)s marked resolved by staff.")
                % {"amount": Money(row.amount, row.currency).format()},
            )
    return bool(resolved)
