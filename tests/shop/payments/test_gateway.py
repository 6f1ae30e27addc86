"""shop.payments.stripe_gateway.StripeGateway against a real localstripe, through the orders seam."""

from decimal import Decimal

import pytest

from shop.core.money import Money
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from shop.orders.payment import PaymentDeclined, PaymentUnavailable, gateway
from shop.payments.models import Payment, Refund
from shop.payments.stripe_gateway import StripeGateway, client, record_refund
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")


def place(price="19.99", quantity=1, method="standard") -> Order:
    cart = CartFactory()
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal(price), stock=10), quantity=quantity)
    order, created = checkout_place(
        cart=cart, user=cart.user, email=cart.user.email, address=ADDRESS, shipping_method=method, idempotency_key="k"
    )
    assert created
    return order


def intents() -> list:
    return list(client().v1.payment_intents.list().data)


def kinds(order: Order) -> list[str]:
    return list(order.events.values_list("kind", flat=True))


def test_the_setting_chooses_the_stripe_gateway(settings):
    assert settings.SHOP_PAYMENT_GATEWAY == "shop.payments.stripe_gateway.StripeGateway"
    assert isinstance(gateway(), StripeGateway)


def test_it_creates_one_intent_per_order_however_often_asked(localstripe):
    order = place(price="19.99")  # + 5.00 shipping

    first = StripeGateway().create_payment(order=order)
    again = StripeGateway().create_payment(order=order)

    assert again == first
    assert first.intent_id.startswith("pi_")
    assert first.client_secret.startswith(first.intent_id)
    payment = Payment.objects.get()
    assert (payment.order, payment.intent_id, payment.status) == (order, first.intent_id, "open")
    assert (payment.amount_minor, payment.currency) == (2499, "USD")
    [intent] = intents()
    assert (intent.id, intent.amount, intent.currency) == (first.intent_id, 2499, "usd")
    assert intent.metadata["order"] == order.number
    order.refresh_from_db()
    assert order.status == "pending_payment"


@pytest.mark.parametrize(
    ("currency", "price", "minor"),
    [("USD", "1234.56", 123456), ("USD", "0.10", 10), ("EUR", "99.99", 9999), ("JPY", "1980", 1980)],
)
def test_it_sends_the_total_in_the_currencys_minor_units(localstripe, settings, currency, price, minor):
    settings.SHOP_CURRENCY = currency
    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Free", "price": "0"}}
    order = place(price=price)
    assert order.currency == currency
    assert order.total == Decimal(price)

    session = StripeGateway().create_payment(order=order)

    payment = Payment.objects.get()
    assert payment.amount_minor == minor
    assert payment.currency == currency
    intent = client().v1.payment_intents.retrieve(session.intent_id)
    assert (intent.amount, intent.currency) == (minor, currency.lower())


def test_it_confirms_on_the_server_and_pays_the_order(localstripe, django_capture_on_commit_callbacks):
    order = place()

    with django_capture_on_commit_callbacks(execute=True):
        session = StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")

    assert session.status == "succeeded"
    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order) == ["placed", "paid"]
    assert order.events.last().data == {"reference": session.intent_id}
    assert Payment.objects.get().status == "succeeded"
    assert client().v1.payment_intents.retrieve(session.intent_id).status == "succeeded"


def test_confirming_a_paid_order_again_charges_nothing(localstripe):
    order = place()
    first = StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")
    order.refresh_from_db()

    again = StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")

    assert (again.intent_id, again.status) == (first.intent_id, "succeeded")
    assert len(intents()) == 1
    assert kinds(Order.objects.get(pk=order.pk)) == ["placed", "paid"]


def test_a_declined_card_closes_the_intent_and_the_next_attempt_gets_a_fresh_one(localstripe):
    order = place()

    with pytest.raises(PaymentDeclined) as declined:
        StripeGateway().confirm_payment(order=order, payment_method="pm_card_chargeCustomerFail")

    assert declined.value.status_code == 402
    order.refresh_from_db()
    assert order.status == "payment_failed"
    assert kinds(order) == ["placed", "payment_declined"]
    failed = Payment.objects.get()
    assert failed.status == "failed"
    assert client().v1.payment_intents.retrieve(failed.intent_id).status == "canceled"

    session = StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")

    assert session.intent_id != failed.intent_id
    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order) == ["placed", "payment_declined", "paid"]
    assert sorted(order.payments.values_list("status", flat=True)) == ["failed", "succeeded"]
    assert len(intents()) == 2


def test_it_reports_stripe_unreachable_without_writing_a_payment(localstripe, settings):
    order = place()
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    with pytest.raises(PaymentUnavailable) as unavailable:
        StripeGateway().create_payment(order=order)
    with pytest.raises(PaymentUnavailable):
        StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")

    assert unavailable.value.status_code == 503
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert kinds(order) == ["placed"]


def test_sync_applies_a_payment_made_with_stripe_js(localstripe):
    order = place()
    session = StripeGateway().create_payment(order=order)
    api = client().v1.payment_intents
    api.update(session.intent_id, params={"payment_method": "pm_card_visa"})
    api.confirm(session.intent_id)

    StripeGateway().sync(order=order)
    StripeGateway().sync(order=order)

    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order) == ["placed", "paid"]


def test_cancel_closes_the_open_intent_at_stripe(localstripe):
    order = place()
    session = StripeGateway().create_payment(order=order)

    StripeGateway().cancel(order=order)

    assert Payment.objects.get().status == "canceled"
    assert client().v1.payment_intents.retrieve(session.intent_id).status == "canceled"


def test_a_refund_goes_through_stripe_and_is_recorded_once(localstripe):
    order = place(price="40.00")  # 45.00 with shipping
    StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")
    order.refresh_from_db()

    StripeGateway().refund(order=order, amount=Money(Decimal("15.00"), "USD"), reason="Damaged")

    refund = Refund.objects.get()
    assert (refund.amount, refund.currency, refund.reason) == (Decimal("15.00"), "USD", "Damaged")
    at_stripe = client().v1.refunds.retrieve(refund.refund_id)
    assert at_stripe.amount == 1500
    # The same refund reported again (say by a webhook) is not counted twice.
    assert not record_refund(refund_id=refund.refund_id, payment=refund.payment, amount=Money(Decimal("15.00"), "USD"))
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("15.00")
    assert order.status == "paid"
    assert kinds(order) == ["placed", "paid", "partially_refunded"]


def test_a_refund_in_yen_sends_whole_yen(localstripe, settings):
    settings.SHOP_CURRENCY = "JPY"
    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Free", "price": "0"}}
    order = place(price="3000")
    StripeGateway().confirm_payment(order=order, payment_method="pm_card_visa")
    order.refresh_from_db()
    assert order.status == "paid"

    StripeGateway().refund(order=order, amount=Money(Decimal("1000"), "JPY"))

    refund = Refund.objects.get()
    assert client().v1.refunds.retrieve(refund.refund_id).amount == 1000
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("1000")


def test_a_concurrent_intent_for_the_same_order_is_cancelled_and_one_payment_kept(localstripe, monkeypatch):
    """Another worker's payment lands while ours talks to Stripe (no lock is held during the call)."""
    order = place()
    gateway = StripeGateway()
    real_new_intent = gateway._new_intent

    def racing_new_intent(order_arg, **kwargs):
        theirs = real_new_intent(order_arg, **kwargs)
        Payment.objects.create(
            order=order_arg,
            intent_id=theirs.id,
            client_secret=theirs.client_secret,
            amount_minor=theirs.amount,
            currency=order_arg.currency,
        )
        return real_new_intent(order_arg, **kwargs)  # localstripe ignores idempotency keys: a second intent

    monkeypatch.setattr(gateway, "_new_intent", racing_new_intent)
    session = gateway.create_payment(order=order)

    kept = Payment.objects.get(order=order)
    assert session.intent_id == kept.intent_id
    others = [i for i in client().v1.payment_intents.list().data if i.id != kept.intent_id]
    assert [i.status for i in others] == ["canceled"]


@pytest.mark.django_db(transaction=True)
def test_a_paid_api_checkout_calls_stripe_outside_any_transaction(
    api, localstripe, monkeypatch, stripe_outside_transactions
):
    """Two calls (the intent made with the card attached, then confirmed), each with no transaction open."""
    from tests.shop.orders.test_api_checkout import add_to_cart

    requestor, calls = client()._requestor, []
    real = requestor.request

    def counted(method, url, *args, **kwargs):
        calls.append(url)
        return real(method, url, *args, **kwargs)

    monkeypatch.setattr(requestor, "request", counted)
    token = add_to_cart(api, ProductFactory(price=Decimal("30.00"), stock=5), 1)

    response = api.post(
        "/api/v1/checkout/",
        {"email": "ada@example.org", "shipping_address": vars(ADDRESS), "payment_method": "pm_card_visa"},
        format="json",
        HTTP_X_CART_TOKEN=token,
        HTTP_IDEMPOTENCY_KEY="paid-at-once",
    )

    assert response.status_code == 201, response.data
    assert response.data["status"] == "paid"
    assert not stripe_outside_transactions
    assert len(calls) == 2 and calls[1].endswith("/confirm"), calls
