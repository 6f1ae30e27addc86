"""The Stripe gateway: PaymentIntents, server-side confirmation, refunds, status sync.

Talks to localstripe on loopback unless real keys are configured (settings.STRIPE_API_BASE).
No Stripe call runs inside a database transaction or while a row lock is held: rows are
written in short transactions before or after each call. Where a call must not run
twice, Stripe's idempotency key is derived from our own ids, and refunds are rows
claimed once and retried (shop.payments.refunds).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext

import stripe
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from shop.core.errors import Conflict
from shop.core.money import Money
from shop.orders import selectors
from shop.orders import services as orders
from shop.orders.models import EventKind, Order
from shop.orders.payment import (
    InvalidPaymentMethod,
    PaymentDeclined,
    PaymentSession,
    PaymentUnavailable,
    RefundPending,
)
from shop.orders.services import PaymentMismatch
from shop.payments import refunds
from shop.payments.models import Payment
from shop.payments.refunds import record_refund
from shop.payments.stripe_client import TRANSIENT, client

__all__ = ["StripeGateway", "client", "record_refund"]
log = logging.getLogger(__name__)


OPEN = Payment.Status.OPEN


def _unavailable(exc: Exception) -> PaymentUnavailable:
    log.warning("Stripe unavailable: %s", exc)
    return PaymentUnavailable()


def _refused(exc: Exception) -> PaymentUnavailable:
    """Stripe refused the store itself (its key revoked, rotated or restricted): staff must act, the
    shopper sees what an outage shows and keeps the order."""
    log.error("Stripe refused the store's request (check STRIPE_SECRET_KEY): %s", exc)
    return PaymentUnavailable()


def _invalid_payment_method(exc: stripe.InvalidRequestError) -> InvalidPaymentMethod:
    return InvalidPaymentMethod(
        _("That payment method cannot be used: %(reason)s") % {"reason": exc.user_message or "invalid"},
        field="payment_method",
    )


class StripeGateway:
    def create_payment(self, *, order: Order) -> PaymentSession:
        """The order's open PaymentIntent, created once: repeats return the same one."""
        payment, _attached = self._open_payment(order)
        return PaymentSession(payment.intent_id, payment.client_secret, payment.status)

    def _open_payment(self, order: Order, payment_method: str = "") -> tuple[Payment, bool]:
        """The order's open payment, made with a new PaymentIntent if it has none; and whether
        `payment_method` is already attached to its intent (a new intent is created with it).

        Stripe is called outside any transaction, so no lock is held during network I/O (on
        SQLite a transaction would stop every other writer meanwhile). Two concurrent callers
        send the same idempotency key, and Stripe answers both with one intent; the unique
        "one open payment per order" constraint keeps one row here. With a provider that
        ignores idempotency keys (localstripe), the losing intent is cancelled.
        """
        # One read of the order's payments (none for an order checkout has just placed: it carries them).
        payments = list(order.payments.all())
        payment = next((p for p in payments if p.status == OPEN), None)
        if payment is not None:
            return payment, False
        intent = self._new_intent(order, attempt=len(payments), payment_method=payment_method)
        selectors.forget(order, "payments")  # it has one now
        try:
            # One statement in autocommit, as here in production (no Stripe call is made inside a
            # transaction); inside a caller's transaction, a savepoint keeps a duplicate from breaking it.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                payment = Payment.objects.create(
                    order=order,
                    intent_id=intent.id,
                    client_secret=intent.client_secret,
                    amount_minor=intent.amount,
                    currency=order.currency,
                )
        except IntegrityError:
            payment = order.payments.get(status=OPEN)
            if payment.intent_id != intent.id:
                self._cancel_intent(intent.id)
        return payment, bool(payment_method) and payment.intent_id == intent.id

    def _new_intent(self, order: Order, *, attempt: int, payment_method: str = ""):
        amount = order.total_money
        params = {
            "amount": amount.to_minor_units(),
            "currency": amount.currency.lower(),
            "metadata": {"order": order.number},
            "payment_method_types": ["card"],
        }
        key = f"order-{order.number}-intent-{attempt}"
        if payment_method:
            # Attached now, confirmed once the payment is recorded: one call fewer than
            # attaching it later. Its own key: the same key with other parameters is refused.
            params["payment_method"] = payment_method
            key = f"{key}-{payment_method}"
        try:
            return client().v1.payment_intents.create(params=params, options={"idempotency_key": key})
        except stripe.InvalidRequestError as exc:
            if payment_method:
                raise _invalid_payment_method(exc) from None
            raise
        except TRANSIENT as exc:
            raise _unavailable(exc) from None
        except stripe.StripeError as exc:  # a revoked or restricted key (401, 403): the store's, not the shopper's
            raise _refused(exc) from None

    @staticmethod
    def _cancel_intent(intent_id: str) -> None:
        try:
            client().v1.payment_intents.cancel(intent_id)
        except stripe.StripeError:
            log.info("Could not cancel intent %s", intent_id)

    def confirm_payment(self, *, order: Order, payment_method: str) -> PaymentSession:
        """Confirm on the server with a payment method id (pm_…, or a card from Stripe.js)."""
        if not order.is_unpaid:
            payment = order.payments.first()
            return PaymentSession(
                payment.intent_id if payment else "", "", "succeeded" if order.is_paid else order.status
            )
        if payment_method.startswith("tok_"):
            payment_method = self._from_token(payment_method)
        payment, attached = self._open_payment(order, payment_method)
        api = client().v1.payment_intents
        try:
            if not attached:
                api.update(payment.intent_id, params={"payment_method": payment_method})
            intent = api.confirm(payment.intent_id)
        except stripe.CardError as exc:
            self._declined(order, payment.intent_id, exc.user_message or str(exc))
            reason = exc.user_message or _("Your card was declined.")
            raise PaymentDeclined(_("%(reason)s Try another card; your order is kept.") % {"reason": reason}) from None
        except stripe.InvalidRequestError as exc:
            raise _invalid_payment_method(exc) from None
        except TRANSIENT as exc:
            raise _unavailable(exc) from None
        except stripe.StripeError as exc:  # a revoked or restricted key (401, 403): the store's, not the shopper's
            raise _refused(exc) from None
        payment.order = order
        self._apply(payment, intent)
        return PaymentSession(intent.id, intent.client_secret, intent.status)

    def _from_token(self, token: str) -> str:
        """A card token from Stripe.js (createToken) as something a PaymentIntent accepts."""
        try:
            if settings.STRIPE_API_BASE:
                # localstripe cannot make a PaymentMethod from a token, but accepts the token's card.
                return client().v1.tokens.retrieve(token).card.id
            return client().v1.payment_methods.create(params={"type": "card", "card": {"token": token}}).id
        except stripe.InvalidRequestError as exc:
            raise _invalid_payment_method(exc) from None
        except TRANSIENT as exc:
            raise _unavailable(exc) from None
        except stripe.StripeError as exc:  # a revoked or restricted key (401, 403): the store's, not the shopper's
            raise _refused(exc) from None

    def _declined(self, order: Order, intent_id: str, message: str) -> None:
        # The failed intent is closed and the next attempt gets a fresh one.
        Payment.objects.filter(intent_id=intent_id, status=OPEN).update(status=Payment.Status.FAILED)
        self._cancel_intent(intent_id)
        orders.order_mark_payment_failed(order_id=order.pk, message=message, declined=True)

    def apply_intent(self, intent) -> str:
        """Record what a PaymentIntent read from Stripe says (after a webhook, a confirmation or a sync).

        Never an intent built from a webhook's body: anyone who knows the webhook secret could write that."""
        payment = Payment.objects.select_related("order").filter(intent_id=intent.id).first()
        if payment is None:
            log.warning("PaymentIntent %s is not ours", intent.id)
            return "not ours"
        return self._apply(payment, intent)

    def _apply(self, payment: Payment, intent) -> str:
        if intent.status == "succeeded":
            return self._succeeded(payment, Money.from_minor_units(intent.amount, intent.currency))
        if intent.status in ("requires_payment_method", "canceled") and getattr(intent, "last_payment_error", None):
            # The conditional update claims the failure, so a redelivered event adds nothing to the timeline.
            if not Payment.objects.filter(pk=payment.pk, status=OPEN).update(status=Payment.Status.FAILED):
                return "already closed"
            message = getattr(intent.last_payment_error, "message", "") or ""
            orders.order_mark_payment_failed(order_id=payment.order_id, message=message)
            return "payment failed"
        return f"nothing to do: the payment is {intent.status}"

    def _succeeded(self, payment: Payment, amount: Money) -> str:
        if payment.status == Payment.Status.MISMATCHED:
            return "amount or currency mismatch: already given back"
        try:
            order, changed = orders.order_mark_paid(
                order_id=payment.order_id, amount=amount, reference=payment.intent_id
            )
        except PaymentMismatch:
            # Never applied and never kept: the whole payment goes back, and the order can be paid again.
            Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.MISMATCHED)
            self._give_back(payment, amount, _("The payment did not match the order total"))
            return "amount or currency mismatch: given back"
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.SUCCEEDED)
        if changed:
            return "paid"
        if order.events.filter(kind=EventKind.PAID, data__reference=payment.intent_id).exists():
            return "already paid"
        # Paid after the order closed (its stock is gone), or a second payment of a paid order: give it back, once.
        reason = _("Paid after the order had closed") if order.paid_at is None else _("The order was already paid")
        self._give_back(payment, amount, reason)
        return "paid after the order closed: given back"

    @staticmethod
    def _give_back(payment: Payment, amount: Money, reason: str) -> None:
        row = refunds.refund_return_payment(payment=payment, amount=amount, reason=reason)
        if row is not None:
            refunds.refund_send(refund_pk=row.pk)  # if Stripe fails, the row is retried and shown to staff

    def sync(self, *, order: Order) -> None:
        """Ask Stripe for the order's open intent (the confirmation page does not wait for the webhook)."""
        payment = order.payments.filter(status=OPEN).first()
        if payment is None:
            return
        try:
            intent = client().v1.payment_intents.retrieve(payment.intent_id)
        except stripe.StripeError as exc:
            log.info("Could not sync %s: %s", payment.intent_id, exc)
            return
        self.apply_intent(intent)

    def refund(self, *, order: Order, amount: Money, actor=None, reason: str = "", cancel: bool = False) -> None:
        """Refund through Stripe: recorded first, then sent. Raises RefundPending if Stripe could not be reached
        (the refund is kept and retried), Conflict if Stripe refused it (staff see it under payments)."""
        payment = order.payments.filter(status=Payment.Status.SUCCEEDED).first()
        if payment is None:
            raise Conflict(_("This order has no captured payment to refund."))
        if cancel:  # all that is left, less any refund still on its way
            amount = refunds.refundable_now(order)
            if amount.amount <= 0:
                return
        row = refunds.refund_request(payment=payment, amount=amount, reason=reason, actor=actor, keep_status=cancel)
        if refunds.refund_send(refund_pk=row.pk):
            return
        row.refresh_from_db()
        if row.status == row.Status.SUCCEEDED:
            return  # a webhook recorded it first
        if row.status == row.Status.FAILED:
            raise Conflict(_("Stripe refused the refund: %(error)s") % {"error": row.last_error})
        raise RefundPending()

    def cancel(self, *, order: Order) -> None:
        for payment in order.payments.filter(status=OPEN):
            self._cancel_intent(payment.intent_id)
            Payment.objects.filter(pk=payment.pk, status=OPEN).update(status=Payment.Status.CANCELED)
