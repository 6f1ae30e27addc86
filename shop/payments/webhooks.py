"""Stripe webhooks: signature verified, each event processed once, never moving an order backwards."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop.core.errors import ShopError
from shop.core.money import Money
from shop.orders.services import PaymentMismatch
from shop.payments.models import Payment, WebhookEvent
from shop.payments.stripe_gateway import StripeGateway, record_refund

log = logging.getLogger(__name__)


def _ns(value):
    """Plain JSON to attribute access, so handlers read webhook objects like SDK objects."""
    return json.loads(json.dumps(value), object_hook=lambda d: SimpleNamespace(**d))


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        event = stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature", ""), settings.STRIPE_WEBHOOK_SECRET
        )
    except ValueError:
        return JsonResponse({"detail": "The body is not a Stripe event."}, status=400)
    except stripe.SignatureVerificationError:
        return JsonResponse({"detail": "The Stripe-Signature header does not verify."}, status=400)
    data = json.loads(request.body)
    try:
        with transaction.atomic():
            record = WebhookEvent.objects.create(event_id=data["id"], type=data.get("type", ""))
            try:
                with transaction.atomic():
                    outcome = handle(data.get("type", ""), _ns(data.get("data", {}).get("object", {})))
            except ShopError as exc:
                # A rule refused it (e.g. a refund above what is left): recorded, not retried forever.
                outcome = f"refused: {exc.message}"
            record.outcome = outcome[:200]
            record.save(update_fields=["outcome"])
    except IntegrityError:
        return JsonResponse({"detail": "Already processed."})
    log.info("Stripe event %s %s: %s", event["id"], data.get("type"), outcome)
    return JsonResponse({"detail": outcome})


def handle(event_type: str, obj) -> str:
    gateway = StripeGateway()
    if event_type == "payment_intent.succeeded":
        payment = Payment.objects.filter(intent_id=obj.id).first()
        if payment is None:
            return "not ours"
        try:
            gateway._succeeded(payment, Money.from_minor_units(int(obj.amount), obj.currency))
        except PaymentMismatch:
            return "amount or currency mismatch: not applied"
        return "paid"
    if event_type == "payment_intent.payment_failed":
        return _failed(obj)
    if event_type == "charge.refunded":
        payment = Payment.objects.filter(intent_id=getattr(obj, "payment_intent", None)).first()
        refunds = getattr(getattr(obj, "refunds", None), "data", []) or []
        created = sum(_refund(payment, r) for r in refunds) if payment else 0
        return f"{created} refund(s) recorded"
    if event_type in ("refund.created", "charge.refund.updated", "refund.updated"):
        payment = Payment.objects.filter(intent_id=getattr(obj, "payment_intent", None)).first()
        return "refund recorded" if payment and _refund(payment, obj) else "nothing to do"
    return "ignored"


def _failed(obj) -> str:
    from shop.orders.services import order_mark_payment_failed

    updated = Payment.objects.filter(intent_id=obj.id, status=Payment.Status.OPEN).update(status=Payment.Status.FAILED)
    payment = Payment.objects.filter(intent_id=obj.id).first()
    if payment is None:
        return "not ours"
    error = getattr(obj, "last_payment_error", None)
    order_mark_payment_failed(order_id=payment.order_id, message=getattr(error, "message", "") or "")
    return "payment failed" if updated else "already closed"


def _refund(payment: Payment, refund) -> bool:
    if getattr(refund, "status", "succeeded") not in ("succeeded", "pending"):
        return False
    amount = Money.from_minor_units(int(refund.amount), refund.currency)
    return record_refund(refund_id=refund.id, payment=payment, amount=amount, reason="Stripe")
