"""Stripe webhooks: signature verified, each event processed once, never moving an order backwards.

An event is only a hint. Its id and type are read from the body; what happened is read
from Stripe itself (the PaymentIntent, the refunds), so a body written by anyone who
holds the signing secret (a leaked or demo secret) can move no money and pay no order.

No transaction wraps the handling: the handlers call Stripe, and no Stripe call may run
inside a transaction. Each handler is idempotent on its own (order transitions under the
order lock, refunds unique by Stripe's id, a given-back payment unique per payment), so
two deliveries of one event racing each other change things once; the event row written
afterwards only saves work on a redelivery. If Stripe cannot be reached, the answer is a
503 and the event is not recorded: Stripe delivers it again (for up to three days),
which is simpler than a queue of our own and loses nothing.
"""

from __future__ import annotations

import json
import logging

import stripe
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shop.core.errors import ShopError
from shop.orders.payment import PaymentUnavailable
from shop.payments import refunds
from shop.payments.models import Payment, WebhookEvent
from shop.payments.stripe_client import client
from shop.payments.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)

INTENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")
REFUND_EVENTS = ("refund.created", "refund.updated", "charge.refund.updated")
# What the object of each handled event must carry (Stripe's always do); anything else is a 400.
REQUIRED = {
    **dict.fromkeys(INTENT_EVENTS, (("id", str), ("amount", int), ("currency", str))),
    "charge.refunded": (("id", str), ("payment_intent", str)),
    **dict.fromkeys(REFUND_EVENTS, (("id", str),)),
}


class MalformedEvent(Exception):
    pass


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        # Verified before parsing: the body is JSON only once we know Stripe wrote it.
        stripe.WebhookSignature.verify_header(
            request.body.decode("utf-8", "replace"),
            request.headers.get("Stripe-Signature", ""),
            settings.STRIPE_WEBHOOK_SECRET,
            stripe.Webhook.DEFAULT_TOLERANCE,
        )
    except stripe.SignatureVerificationError:
        return JsonResponse({"detail": "The Stripe-Signature header does not verify."}, status=400)
    try:
        event = parse_event(request.body)
    except MalformedEvent as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    if WebhookEvent.objects.filter(event_id=event["id"]).exists():
        return JsonResponse({"detail": "Already processed."})
    try:
        outcome = handle(event["type"], event["data"]["object"])
    except PaymentUnavailable:
        log.warning("Stripe unreachable while handling event %s; Stripe will send it again.", event["id"])
        return JsonResponse({"detail": "Stripe could not be reached; send the event again later."}, status=503)
    except ShopError as exc:
        # A rule refused it (e.g. a refund above what is left): recorded, not retried forever.
        outcome = f"refused: {exc.message}"
    _record, created = WebhookEvent.objects.get_or_create(
        event_id=event["id"], defaults={"type": event["type"][:100], "outcome": outcome[:200]}
    )
    if not created:  # a concurrent delivery of the same event finished first
        return JsonResponse({"detail": "Already processed."})
    log.info("Stripe event %s %s: %s", event["id"], event["type"], outcome)
    return JsonResponse({"detail": outcome})


def parse_event(body: bytes) -> dict:
    """The event as a dict with a string id and type and an object in data.object; MalformedEvent otherwise."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise MalformedEvent("The body is not a Stripe event.") from None
    if not isinstance(event, dict):
        raise MalformedEvent("The body is not a Stripe event: an event is a JSON object.")
    if not _valid(event.get("id"), str):
        raise MalformedEvent("The event has no id.")
    if len(event["id"]) > WebhookEvent._meta.get_field("event_id").max_length:
        raise MalformedEvent("The event id is too long to be Stripe's.")
    if not _valid(event.get("type"), str):
        raise MalformedEvent("The event has no type.")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedEvent("The event's data.object is not an object.")
    for field, kind in REQUIRED.get(event["type"], ()):
        if not _valid(data["object"].get(field), kind):
            raise MalformedEvent(f"The event's object has no valid {field}.")
    return event


def _valid(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind) and bool(value)


def handle(event_type: str, obj: dict) -> str:
    if event_type in INTENT_EVENTS:
        return _intent(obj["id"])
    if event_type == "charge.refunded":
        return _charge_refunded(obj["payment_intent"])
    if event_type in REFUND_EVENTS:
        return _refund(obj["id"])
    return "ignored"


def _from_stripe(call):
    """Stripe's answer; None if Stripe does not know the object; PaymentUnavailable (503) if it cannot answer."""
    try:
        return call(client().v1)
    except stripe.InvalidRequestError:
        return None
    except stripe.StripeError as exc:
        log.warning("Stripe unavailable: %s", exc)
        raise PaymentUnavailable() from None


def _intent(intent_id: str) -> str:
    if not Payment.objects.filter(intent_id=intent_id).exists():
        return "not ours"  # and no need to ask Stripe about it
    intent = _from_stripe(lambda v1: v1.payment_intents.retrieve(intent_id))
    if intent is None:
        return "unknown at Stripe"
    return StripeGateway().apply_intent(intent)


def _charge_refunded(intent_id: str) -> str:
    payment = Payment.objects.filter(intent_id=intent_id).first()
    if payment is None:
        return "not ours"
    # Every refund of the payment as Stripe lists it, not as the body says.
    listed = _from_stripe(lambda v1: v1.refunds.list(params={"payment_intent": intent_id, "limit": 100}))
    found = listed.data if listed is not None else []
    created = sum(refunds.refund_record_reported(payment=payment, stripe_refund=r) for r in found)
    return f"{created} refund(s) recorded"


def _refund(refund_id: str) -> str:
    refund = _from_stripe(lambda v1: v1.refunds.retrieve(refund_id))
    if refund is None:
        return "unknown at Stripe"
    payment = Payment.objects.filter(intent_id=getattr(refund, "payment_intent", None) or "").first()
    if payment is None:
        return "not ours"
    if not refunds.refund_record_reported(payment=payment, stripe_refund=refund):
        return "nothing to do"
    return "refund failed at Stripe: shown to staff" if refund.status in ("failed", "canceled") else "refund recorded"
