"""The Stripe gateway: PaymentIntents, server-side confirmation, refunds, status sync.

Talks to localstripe on loopback unless real keys are configured (settings.STRIPE_API_BASE).
Stripe calls happen outside database transactions where possible; where one
must not run twice (creating an order's intent), the order row is locked
around it and Stripe's idempotency key is derived from our own ids.
"""

from __future__ import annotations

import functools
import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from shop.core.errors import Conflict
from shop.core.money import Money
from shop.orders import services as orders
from shop.orders.models import Order
from shop.orders.payment import InvalidPaymentMethod, PaymentDeclined, PaymentSession, PaymentUnavailable
from shop.payments.models import Payment, Refund

log = logging.getLogger(__name__)


OPEN = Payment.Status.OPEN


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


@functools.lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    # One client per key and address, reused: its HTTP connections stay open (one
    # session per thread), so a checkout's three calls do not each open a new
    # connection (a TLS handshake with Stripe itself).
    kwargs = {"base_addresses": {"api": api_base}} if api_base else {}
    return stripe.StripeClient(secret_key, max_network_retries=1, **kwargs)


def _unavailable(exc: Exception) -> PaymentUnavailable:
    log.warning("Stripe unavailable: %s", exc)
    return PaymentUnavailable()


class StripeGateway:
    def create_payment(self, *, order: Order) -> PaymentSession:
        """The order's open PaymentIntent, created once: repeats return the same one.

        Stripe is called outside any transaction, so no lock is held during network I/O (on
        SQLite a transaction would stop every other writer meanwhile). Two concurrent callers
        send the same idempotency key, and Stripe answers both with one intent; the unique
        "one open payment per order" constraint keeps one row here. With a provider that
        ignores idempotency keys (localstripe), the losing intent is cancelled.
        """
        payment = order.payments.filter(status=OPEN).first()
        if payment is None:
            intent = self._new_intent(order)
            try:
                with transaction.atomic():
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
        return PaymentSession(payment.intent_id, payment.client_secret, payment.status)

    def _new_intent(self, order: Order):
        amount = order.total_money
        attempt = order.payments.count()
        try:
            return client().v1.payment_intents.create(
                params={
                    "amount": amount.to_minor_units(),
                    "currency": amount.currency.lower(),
                    "metadata": {"order": order.number},
                    "payment_method_types": ["card"],
                },
                options={"idempotency_key": f"order-{order.number}-intent-{attempt}"},
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise _unavailable(exc) from None

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
        session = self.create_payment(order=order)
        api = client().v1.payment_intents
        try:
            if payment_method.startswith("tok_"):
                payment_method = self._from_token(payment_method)
            api.update(session.intent_id, params={"payment_method": payment_method})
            intent = api.confirm(session.intent_id)
        except stripe.CardError as exc:
            self._declined(order, session.intent_id, exc.user_message or str(exc))
            reason = exc.user_message or _("Your card was declined.")
            raise PaymentDeclined(_("%(reason)s Try another card; your order is kept.") % {"reason": reason}) from None
        except stripe.InvalidRequestError as exc:
            raise InvalidPaymentMethod(
                _("That payment method cannot be used: %(reason)s") % {"reason": exc.user_message or "invalid"},
                field="payment_method",
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise _unavailable(exc) from None
        self.apply_intent(intent)
        return PaymentSession(intent.id, intent.client_secret, intent.status)

    def _from_token(self, token: str) -> str:
        """A card token from Stripe.js (createToken) as something a PaymentIntent accepts."""
        if settings.STRIPE_API_BASE:
            # localstripe cannot make a PaymentMethod from a token, but accepts the token's card.
            return client().v1.tokens.retrieve(token).card.id
        return client().v1.payment_methods.create(params={"type": "card", "card": {"token": token}}).id

    def _declined(self, order: Order, intent_id: str, message: str) -> None:
        # The failed intent is closed and the next attempt gets a fresh one.
        Payment.objects.filter(intent_id=intent_id, status=OPEN).update(status=Payment.Status.FAILED)
        self._cancel_intent(intent_id)
        orders.order_mark_payment_failed(order_id=order.pk, message=message, declined=True)

    def apply_intent(self, intent) -> None:
        """Record what a PaymentIntent says (from a webhook, a confirmation or a sync)."""
        payment = Payment.objects.select_related("order").filter(intent_id=intent.id).first()
        if payment is None:
            log.warning("PaymentIntent %s is not ours", intent.id)
            return
        if intent.status == "succeeded":
            self._succeeded(payment, Money.from_minor_units(intent.amount, intent.currency))
        elif intent.status in ("requires_payment_method", "canceled") and getattr(intent, "last_payment_error", None):
            Payment.objects.filter(pk=payment.pk, status=OPEN).update(status=Payment.Status.FAILED)
            message = getattr(intent.last_payment_error, "message", "") or ""
            orders.order_mark_payment_failed(order_id=payment.order_id, message=message)

    def _succeeded(self, payment: Payment, amount: Money) -> None:
        # The amount check comes first: a mismatched payment raises and stays open, never "succeeded".
        order, changed = orders.order_mark_paid(order_id=payment.order_id, amount=amount, reference=payment.intent_id)
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.SUCCEEDED)
        if not changed and order.status in ("expired", "cancelled"):
            # Paid after the order closed (its stock is gone): give the money back, once. The
            # payment row lock makes a redelivered or second "succeeded" event see the first refund.
            with transaction.atomic():
                Payment.objects.select_for_update().get(pk=payment.pk)
                if not Refund.objects.filter(payment=payment).exists():
                    self._refund_intent(
                        order, payment, amount, reason=_("Paid after the order had closed"), record=False
                    )

    def sync(self, *, order: Order) -> None:
        """Ask Stripe for the order's open intent (the confirmation page does not wait for the webhook)."""
        payment = order.payments.filter(status=OPEN).first()
        if payment is None:
            return
        try:
            self.apply_intent(client().v1.payment_intents.retrieve(payment.intent_id))
        except stripe.StripeError as exc:
            log.info("Could not sync %s: %s", payment.intent_id, exc)

    def refund(self, *, order: Order, amount: Money, actor=None, reason: str = "", cancel: bool = False) -> None:
        payment = order.payments.filter(status=Payment.Status.SUCCEEDED).first()
        if payment is None:
            raise Conflict(_("This order has no captured payment to refund."))
        self._refund_intent(order, payment, amount, reason=reason, actor=actor, keep_status=cancel)

    def _refund_intent(self, order, payment, amount: Money, *, reason="", actor=None, record=True, keep_status=False):
        try:
            refund = client().v1.refunds.create(
                params={
                    "payment_intent": payment.intent_id,
                    "amount": amount.to_minor_units(),
                    "metadata": {"order": order.number},
                },
                options={"idempotency_key": f"order-{order.number}-refund-{order.refunds.count()}"},
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise _unavailable(exc) from None
        record_refund(
            refund_id=refund.id,
            payment=payment,
            amount=amount,
            reason=reason,
            actor=actor,
            apply_to_order=record,
            keep_status=keep_status,
        )

    def cancel(self, *, order: Order) -> None:
        for payment in order.payments.filter(status=OPEN):
            self._cancel_intent(payment.intent_id)
            Payment.objects.filter(pk=payment.pk, status=OPEN).update(status=Payment.Status.CANCELED)


def record_refund(
    *, refund_id: str, payment: Payment, amount: Money, reason="", actor=None, apply_to_order=True, keep_status=False
) -> bool:
    """Record a refund once (by Stripe's id), whoever reports it first: our call or a webhook."""
    with transaction.atomic():
        _row, created = Refund.objects.get_or_create(
            refund_id=refund_id,
            defaults={
                "order_id": payment.order_id,
                "payment": payment,
                "amount": amount.amount,
                "currency": amount.currency,
                "reason": reason[:200],
                "created_by": actor,
            },
        )
        if created and apply_to_order:
            orders.order_record_refund(
                order_id=payment.order_id,
                amount=amount,
                reference=refund_id,
                actor=actor,
                reason=reason,
                keep_status=keep_status,
            )
    return created
