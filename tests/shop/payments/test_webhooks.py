"""POST /api/v1/payments/stripe/webhook/: verified, each event once, never moving an order backwards.

The event's body is only a hint: what happened is read from Stripe (localstripe here), so
these tests first make it happen at Stripe, then post the event."""

import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
from decimal import Decimal

import pytest
import stripe
from django.utils import timezone
from rest_framework.test import APIClient

from shop.core.money import Money
from shop.orders import services
from shop.orders.models import Order
from shop.payments import refunds
from shop.payments.models import Payment, Refund, WebhookEvent
from shop.payments.stripe_gateway import client
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/stripe/webhook/"
ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}
_ids = itertools.count(1)


def place_order(price="21.99", quantity=1, payment_method=None) -> Order:
    """An order placed through the API by a guest, with its open PaymentIntent (paid if payment_method)."""
    api = APIClient()
    product = ProductFactory(price=Decimal(price), stock=5)
    token = api.post("/api/v1/cart/items/", {"product": product.slug, "quantity": quantity}, format="json").data[
        "token"
    ]
    body = {"email": "ada@example.org", "shipping_address": ADDRESS}
    if payment_method:
        body["payment_method"] = payment_method
    response = api.post("/api/v1/checkout/", body, format="json", HTTP_X_CART_TOKEN=token, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201, response.data
    return Order.objects.get(number=response.data["number"])


def pay_at_stripe(payment: Payment, method="pm_card_visa"):
    """The customer pays with Stripe.js: the intent succeeds (or fails) at Stripe, and only a webhook tells us."""
    api = client().v1.payment_intents
    api.update(payment.intent_id, params={"payment_method": method})
    try:
        return api.confirm(payment.intent_id)
    except stripe.CardError:
        return api.retrieve(payment.intent_id)


def refund_at_stripe(payment: Payment, amount: int, **params) -> str:
    """A refund made in Stripe's dashboard; its id."""
    return client().v1.refunds.create(params={"payment_intent": payment.intent_id, "amount": amount, **params}).id


def intent_event(payment: Payment, kind="payment_intent.succeeded", event_id=None, **overrides) -> dict:
    obj = {
        "id": payment.intent_id,
        "object": "payment_intent",
        "amount": payment.amount_minor,
        "currency": payment.currency.lower(),
        "status": "succeeded" if kind.endswith("succeeded") else "requires_payment_method",
        **overrides,
    }
    if kind.endswith("payment_failed"):
        obj.setdefault("last_payment_error", {"message": "Your card has insufficient funds."})
    return {"id": event_id or f"evt_{next(_ids)}", "object": "event", "type": kind, "data": {"object": obj}}


def refund_event(payment: Payment, refunds: list[tuple[str, int]], event_id=None) -> dict:
    return {
        "id": event_id or f"evt_{next(_ids)}",
        "object": "event",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": payment.intent_id,
                "refunds": {
                    "data": [
                        {"id": rid, "amount": amount, "currency": payment.currency.lower(), "status": "succeeded"}
                        for rid, amount in refunds
                    ]
                },
            }
        },
    }


@pytest.fixture
def post_event(api, sign_stripe_event, django_capture_on_commit_callbacks):
    def post(payload: dict, signature: str | None = None):
        body, header = sign_stripe_event(payload)
        with django_capture_on_commit_callbacks(execute=True):
            return api.generic(
                "POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature or header
            )

    return post


def kinds(order: Order) -> list[str]:
    return list(order.events.values_list("kind", flat=True))


def test_it_rejects_a_bad_signature(api, localstripe, sign_stripe_event, post_event):
    order = place_order()
    payload = intent_event(order.payments.get())
    body, _header = sign_stripe_event(payload, secret="whsec_someone_else")

    for header in (_header, "", "t=1,v1=deadbeef"):
        response = api.generic("POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
        assert response.status_code == 400
        assert "Stripe-Signature" in response.json()["detail"]

    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert kinds(order) == ["placed"]
    assert not WebhookEvent.objects.exists()
    assert order.payments.get().status == "open"


def test_it_rejects_a_body_that_is_not_json(api, localstripe, settings):
    import hashlib
    import hmac
    import time

    body = b"not json"
    t = int(time.time())
    sig = hmac.new(settings.STRIPE_WEBHOOK_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()

    response = api.generic("POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={t},v1={sig}")

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_it_pays_the_order_on_payment_intent_succeeded(localstripe, post_event, mailoutbox):
    order = place_order()
    payment = order.payments.get()
    pay_at_stripe(payment)

    response = post_event(intent_event(payment))

    assert response.status_code == 200
    assert response.json()["detail"] == "paid"
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.paid_at is not None
    assert order.expires_at is None
    assert kinds(order) == ["placed", "paid"]
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert WebhookEvent.objects.get().outcome == "paid"
    assert len(mailoutbox) == 1


def test_it_processes_the_same_event_once(localstripe, post_event, mailoutbox):
    order = place_order()
    pay_at_stripe(order.payments.get())
    event = intent_event(order.payments.get())

    first = post_event(event)
    second = post_event(event)

    assert first.status_code == second.status_code == 200
    assert second.json()["detail"] == "Already processed."
    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order) == ["placed", "paid"]
    assert WebhookEvent.objects.count() == 1
    assert len(mailoutbox) == 1


def test_it_never_pays_twice_for_two_succeeded_events_of_one_intent(localstripe, post_event, mailoutbox):
    order = place_order()
    payment = order.payments.get()
    pay_at_stripe(payment)

    post_event(intent_event(payment))
    response = post_event(intent_event(payment))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order).count("paid") == 1
    assert WebhookEvent.objects.count() == 2
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("later", ["paid", "shipped", "delivered"])
def test_a_late_payment_failed_never_moves_a_paid_order_back(localstripe, post_event, later):
    order = place_order()
    payment = order.payments.get()
    pay_at_stripe(payment)
    post_event(intent_event(payment))
    if later in ("shipped", "delivered"):
        services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z")
    if later == "delivered":
        services.order_deliver(order_id=order.pk)
    before = kinds(Order.objects.get(pk=order.pk))

    response = post_event(intent_event(payment, kind="payment_intent.payment_failed"))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == later
    assert kinds(order) == before
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_payment_failed_marks_an_unpaid_order_failed_once(localstripe, post_event):
    order = place_order()
    payment = order.payments.get()
    pay_at_stripe(payment, method="pm_card_chargeCustomerFail")

    response = post_event(intent_event(payment, kind="payment_intent.payment_failed"))
    again = post_event(intent_event(payment, kind="payment_intent.payment_failed"))  # redelivered, new event id

    assert response.status_code == 200
    assert (response.json()["detail"], again.json()["detail"]) == ("payment failed", "already closed")
    order.refresh_from_db()
    assert order.status == "payment_failed"
    assert kinds(order) == ["placed", "payment_failed"]
    assert order.events.last().message == "Your card was declined."  # Stripe's words, not the body's
    payment.refresh_from_db()
    assert payment.status == "failed"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(100, "usd"), (219900, "usd"), (2699, "eur"), (2699, "jpy")],
    ids=["less", "more", "eur", "jpy"],
)
def test_a_payment_stripe_took_for_the_wrong_amount_is_given_back_and_never_applied(
    localstripe, post_event, mailoutbox, amount, currency
):
    """Say the intent was changed at Stripe after it was made: Stripe's figures count, and they do not match."""
    order = place_order(price="21.99")  # 26.99 with shipping
    payment = order.payments.get()
    other = client().v1.payment_intents.create(
        params={"amount": amount, "currency": currency, "payment_method_types": ["card"]}
    )
    Payment.objects.filter(pk=payment.pk).update(intent_id=other.id)
    payment.refresh_from_db()
    pay_at_stripe(payment)

    response = post_event(intent_event(payment, amount=2699, currency="usd"))  # the body says it matches
    again = post_event(intent_event(payment))

    assert response.status_code == 200
    assert response.json()["detail"] == "amount or currency mismatch: given back"
    assert again.json()["detail"] == "amount or currency mismatch: already given back"
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert order.paid_at is None
    assert kinds(order) == ["placed", "note"]
    note = order.events.last()
    assert "did not match" in note.message
    assert note.data["currency"] == currency.upper()
    payment.refresh_from_db()
    assert payment.status == "mismatched"
    refund = Refund.objects.get()
    assert (refund.status, refund.applies_to_order, refund.currency) == ("succeeded", False, currency.upper())
    at_stripe = client().v1.refunds.retrieve(refund.refund_id)
    assert (at_stripe.amount, at_stripe.payment_intent) == (amount, other.id)
    assert order.amount_refunded == 0
    assert mailoutbox == []


def test_a_forged_succeeded_event_pays_nothing(localstripe, post_event, mailoutbox):
    """Signed with the right secret, but Stripe says the intent was never paid."""
    order = place_order()
    payment = order.payments.get()

    response = post_event(intent_event(payment))

    assert response.status_code == 200
    assert response.json()["detail"] == "nothing to do: the payment is requires_payment_method"
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert kinds(order) == ["placed"]
    payment.refresh_from_db()
    assert payment.status == "open"
    assert mailoutbox == []


def test_the_amount_in_the_body_is_ignored(localstripe, post_event):
    order = place_order(price="21.99")
    payment = order.payments.get()
    pay_at_stripe(payment)

    response = post_event(intent_event(payment, amount=1, currency="eur"))

    assert response.json()["detail"] == "paid"
    order.refresh_from_db()
    assert order.status == "paid"


def test_it_answers_503_and_records_nothing_while_stripe_is_unreachable(localstripe, post_event, settings):
    order = place_order()
    payment = order.payments.get()
    pay_at_stripe(payment)
    event = intent_event(payment)
    real_base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    response = post_event(event)

    assert response.status_code == 503
    assert "send the event again" in response.json()["detail"]
    assert not WebhookEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == "pending_payment"

    settings.STRIPE_API_BASE = real_base  # Stripe sends the same event again later
    retried = post_event(event)

    assert (retried.status_code, retried.json()["detail"]) == (200, "paid")
    order.refresh_from_db()
    assert order.status == "paid"
    assert WebhookEvent.objects.get().outcome == "paid"


def test_it_ignores_intents_that_are_not_ours(localstripe, post_event):
    order = place_order()

    response = post_event(
        {
            "id": "evt_x",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_unknown", "amount": 2199, "currency": "usd", "status": "succeeded"}},
        }
    )

    assert response.status_code == 200
    assert response.json()["detail"] == "not ours"
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_it_records_a_refund_once_even_if_replayed(localstripe, post_event, mailoutbox):
    order = place_order(price="21.99", payment_method="pm_card_visa")
    payment = order.payments.get()
    mailoutbox.clear()
    re_1 = refund_at_stripe(payment, 500)
    event = refund_event(payment, [(re_1, 500)])

    first = post_event(event)
    replayed = post_event(event)
    redelivered = post_event(refund_event(payment, [(re_1, 500)]))  # a new event id, the same refund

    assert first.json()["detail"] == "1 refund(s) recorded"
    assert replayed.json()["detail"] == "Already processed."
    assert redelivered.json()["detail"] == "0 refund(s) recorded"
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.amount_refunded == Decimal("5.00")
    assert kinds(order) == ["placed", "paid", "partially_refunded"]
    refund = Refund.objects.get()
    assert (refund.refund_id, refund.amount, refund.payment, refund.status) == (
        re_1,
        Decimal("5.00"),
        payment,
        "succeeded",
    )
    assert len(mailoutbox) == 1


def test_refunds_of_the_full_amount_mark_the_order_refunded(localstripe, post_event):
    order = place_order(price="21.99", payment_method="pm_card_visa")
    payment = order.payments.get()

    post_event(refund_event(payment, [(refund_at_stripe(payment, 500), 500)]))
    refund_at_stripe(payment, 2199)
    # Stripe's charge.refunded lists every refund of the charge so far; the body's list is not read.
    response = post_event(refund_event(payment, [("re_forged", 99)]))

    assert response.json()["detail"] == "1 refund(s) recorded"
    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.amount_refunded == order.total == Decimal("26.99")  # 21.99 and 5.00 shipping
    assert kinds(order) == ["placed", "paid", "partially_refunded", "refunded"]
    assert Refund.objects.count() == 2


def test_it_refunds_a_payment_that_arrives_after_the_order_expired(localstripe, post_event):
    order = place_order(price="21.99")
    payment = order.payments.get()
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.orders_expire() == 1
    # The customer's browser still confirms the old intent with Stripe.js.
    stripe = client().v1.payment_intents
    stripe.update(payment.intent_id, params={"payment_method": "pm_card_visa"})
    assert stripe.confirm(payment.intent_id).status == "succeeded"

    response = post_event(intent_event(payment))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "expired"
    assert order.paid_at is None
    assert "paid" not in kinds(order)
    refund = Refund.objects.get()
    assert refund.order == order
    assert refund.amount == order.total == Decimal("26.99")
    assert refund.payment == payment
    assert refund.refund_id.startswith("re_")
    at_stripe = client().v1.refunds.retrieve(refund.refund_id)
    assert at_stripe.amount == 2699
    assert at_stripe.payment_intent == payment.intent_id


def test_it_answers_other_event_types_with_200(localstripe, post_event):
    response = post_event({"id": "evt_other", "type": "customer.created", "data": {"object": {"id": "cus_1"}}})

    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == "ignored"


def test_a_late_payment_is_refunded_once_even_if_reported_twice(localstripe, post_event):
    order = place_order(price="21.99")
    payment = order.payments.get()
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    services.orders_expire()
    stripe = client().v1.payment_intents
    stripe.update(payment.intent_id, params={"payment_method": "pm_card_visa"})
    stripe.confirm(payment.intent_id)

    first = post_event(intent_event(payment))
    second = post_event(intent_event(payment))  # another event id, same intent

    assert (first.status_code, second.status_code) == (200, 200)
    order.refresh_from_db()
    assert order.status == "expired"
    assert Refund.objects.count() == 1
    assert len(client().v1.refunds.list(params={"payment_intent": payment.intent_id}).data) == 1


def test_a_succeeded_event_after_a_paid_order_was_cancelled_refunds_nothing_more(
    localstripe, post_event, django_capture_on_commit_callbacks
):
    order = place_order(price="21.99", payment_method="pm_card_visa")
    payment = order.payments.get()
    post_event(intent_event(payment, event_id="evt_paid"))
    services.order_cancel(order_id=order.pk)  # refunded in full at Stripe, then cancelled
    assert Refund.objects.count() == 1

    response = post_event(intent_event(payment, event_id="evt_paid_again"))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.amount_refunded == order.total
    assert kinds(order).count("paid") == 1
    assert Refund.objects.count() == 1
    assert len(client().v1.refunds.list(params={"payment_intent": payment.intent_id}).data) == 1


def test_it_records_a_refund_event_above_what_is_left_without_a_500(client, localstripe, sign_stripe_event):
    """A rule refusing an event is an answer (recorded, 200), not a crash Stripe would retry forever."""
    from shop.orders.checkout import ShippingAddress, checkout_place
    from shop.orders.payment import gateway
    from shop.payments.models import WebhookEvent
    from shop.payments.stripe_gateway import client as stripe_client
    from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

    user = UserFactory()
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("60.00"), stock=3))
    order, _ = checkout_place(
        cart=cart,
        user=user,
        email=user.email,
        shipping_method="standard",
        address=ShippingAddress(name="A", line1="1 St", city="Austin", postal_code="78701", country="US"),
    )
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")
    intent = order.payments.get().intent_id
    # localstripe lets a dashboard refund exceed the charge; the store must not count it.
    stripe_client().v1.refunds.create(params={"payment_intent": intent, "amount": 999999})
    body, signature = sign_stripe_event(
        {
            "id": "evt_too_much",
            "type": "charge.refunded",
            "data": {
                "object": {
                    "id": "ch_1",
                    "payment_intent": intent,
                    "refunds": {
                        "data": [{"id": "re_too_much", "amount": 999999, "currency": "usd", "status": "succeeded"}]
                    },
                }
            },
        }
    )
    response = client.post(
        "/api/v1/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get(event_id="evt_too_much").outcome.startswith("refused")
    order.refresh_from_db()
    assert order.amount_refunded == 0
    assert order.status == "paid"


# Malformed events with a valid signature: a 400 that says why, never a 500


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "an event is a JSON object"),
        ([{"id": "evt_1", "type": "payment_intent.succeeded"}], "an event is a JSON object"),
        ("evt_1", "an event is a JSON object"),
        (None, "an event is a JSON object"),
        ({"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}, "no id"),
        ({"id": 12, "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}, "no id"),
        ({"id": "evt_" + "x" * 200, "type": "customer.created", "data": {"object": {"id": "c"}}}, "too long"),
        ({"id": "evt_1", "data": {"object": {"id": "pi_1"}}}, "no type"),
        ({"id": "evt_1", "type": "payment_intent.succeeded"}, "data.object is not an object"),
        ({"id": "evt_1", "type": "payment_intent.succeeded", "data": []}, "data.object is not an object"),
        ({"id": "evt_1", "type": "payment_intent.succeeded", "data": "x"}, "data.object is not an object"),
        ({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": [1]}}, "data.object is not an object"),
        (
            {
                "id": "evt_1",
                "type": "payment_intent.succeeded",
                "data": {"object": {"amount": 2699, "currency": "usd"}},
            },
            "no valid id",
        ),
        (
            {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1", "currency": "usd"}}},
            "no valid amount",
        ),
        (
            {
                "id": "evt_1",
                "type": "payment_intent.payment_failed",
                "data": {"object": {"id": "pi_1", "amount": "26.99", "currency": "usd"}},
            },
            "no valid amount",
        ),
        ({"id": "evt_1", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}, "no valid payment_intent"),
        ({"id": "evt_1", "type": "refund.created", "data": {"object": {"amount": 100}}}, "no valid id"),
    ],
    ids=[
        "empty-array",
        "array-of-events",
        "string",
        "null",
        "no-id",
        "numeric-id",
        "id-too-long",
        "no-type",
        "no-data",
        "data-array",
        "data-string",
        "object-array",
        "intent-without-id",
        "intent-without-amount",
        "amount-as-string",
        "charge-without-intent",
        "refund-without-id",
    ],
)
def test_a_signed_but_malformed_event_is_a_400_with_a_message(api, localstripe, sign_stripe_event, payload, message):
    order = place_order()
    body = json.dumps(payload).encode()
    t = int(time.time())
    signature = hmac.new(b"whsec_test_secret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()

    response = api.generic(
        "POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={t},v1={signature}"
    )

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not WebhookEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == "pending_payment"


# Nothing lost


def test_a_late_payment_whose_refund_fails_is_kept_and_retried(localstripe, post_event, monkeypatch):
    order = place_order(price="21.99")
    payment = order.payments.get()
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    services.orders_expire()
    pay_at_stripe(payment)
    api = client().v1.refunds
    real_create = api.create

    def down(*args, **kwargs):
        raise stripe.APIConnectionError("Stripe is unreachable")

    monkeypatch.setattr(api, "create", down)

    response = post_event(intent_event(payment))

    assert (response.status_code, response.json()["detail"]) == (200, "paid after the order closed: given back")
    row = Refund.objects.get()
    assert (row.status, row.attempts, row.applies_to_order, row.amount) == ("requested", 1, False, Decimal("26.99"))
    assert row.next_attempt_at > timezone.now()

    monkeypatch.setattr(api, "create", real_create)
    Refund.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert refunds.refunds_retry_due() == 1

    row.refresh_from_db()
    assert row.status == "succeeded"
    assert client().v1.refunds.retrieve(row.refund_id).amount == 2699
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("expired", 0)


def test_a_refund_stripe_made_before_our_answer_was_saved_is_settled_by_the_webhook(localstripe, post_event):
    """We crashed after Stripe refunded: the webhook finds our row by the metadata and settles it once."""
    order = place_order(price="21.99", payment_method="pm_card_visa")
    payment = order.payments.get()
    row = refunds.refund_request(payment=payment, amount=Money(Decimal("5.00"), "USD"))
    stripe_id = refund_at_stripe(payment, 500, metadata={"refund": str(row.pk)})

    response = post_event(refund_event(payment, [(stripe_id, 500)]))

    assert response.json()["detail"] == "1 refund(s) recorded"
    row.refresh_from_db()
    assert (row.status, row.refund_id) == ("succeeded", stripe_id)
    assert Refund.objects.count() == 1
    assert not refunds.refund_send(refund_pk=row.pk)  # the retry finds nothing left to do
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("5.00")
    assert len(client().v1.refunds.list(params={"payment_intent": payment.intent_id}).data) == 1


def test_a_refund_event_is_read_from_stripe(localstripe, post_event):
    order = place_order(price="21.99", payment_method="pm_card_visa")
    payment = order.payments.get()
    stripe_id = refund_at_stripe(payment, 700)

    response = post_event(
        {"id": "evt_re", "type": "refund.created", "data": {"object": {"id": stripe_id, "amount": 999999}}}
    )
    forged = post_event({"id": "evt_re2", "type": "refund.created", "data": {"object": {"id": "re_forged"}}})

    assert response.json()["detail"] == "refund recorded"
    assert forged.json()["detail"] == "unknown at Stripe"
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("7.00")


def test_a_second_payment_of_a_paid_order_is_given_back(localstripe, post_event):
    order = place_order(price="21.99")
    first = order.payments.get()
    pay_at_stripe(first)
    post_event(intent_event(first))
    # A second intent for the same order (say, a second tab) also succeeds at Stripe.
    second_intent = client().v1.payment_intents.create(
        params={"amount": 2699, "currency": "usd", "payment_method_types": ["card"]}
    )
    second = Payment.objects.create(
        order=order, intent_id=second_intent.id, client_secret="s", amount_minor=2699, currency="USD", status="failed"
    )
    pay_at_stripe(second)

    response = post_event(intent_event(second))

    assert response.json()["detail"] == "paid after the order closed: given back"
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("paid", 0)
    refund = Refund.objects.get()
    assert (refund.payment, refund.applies_to_order, refund.reason) == (second, False, "The order was already paid")
    assert client().v1.refunds.retrieve(refund.refund_id).payment_intent == second_intent.id


def test_a_refund_stripe_later_reports_failed_is_shown_to_staff(localstripe, post_event, monkeypatch):
    order = place_order(price="21.99", payment_method="pm_card_visa")
    payment = order.payments.get()
    gateway_refund = refunds.refund_request(payment=payment, amount=Money(Decimal("5.00"), "USD"))
    assert refunds.refund_send(refund_pk=gateway_refund.pk)
    gateway_refund.refresh_from_db()
    api = client().v1.refunds
    real = api.retrieve(gateway_refund.refund_id)
    # localstripe never fails a refund: Stripe's later answer, at the boundary.
    failed = stripe.Refund.construct_from(
        {**real.to_dict(), "status": "failed", "failure_reason": "expired_or_canceled_card"}, "k"
    )
    monkeypatch.setattr(api, "retrieve", lambda refund_id, *a, **k: failed)

    response = post_event(
        {"id": "evt_failed", "type": "refund.updated", "data": {"object": {"id": gateway_refund.refund_id}}}
    )

    assert response.json()["detail"] == "refund failed at Stripe: shown to staff"
    gateway_refund.refresh_from_db()
    assert gateway_refund.status == "failed"
    assert gateway_refund.needs_attention
    assert "expired_or_canceled_card" in gateway_refund.last_error
