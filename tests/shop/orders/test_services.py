"""shop.orders.services: transitions, refunds through the gateway, cancellation; each change on the timeline."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from shop.catalog.models import Product
from shop.core.errors import Conflict
from shop.core.money import Money
from shop.orders import services
from shop.orders.models import TRANSITIONS, Order, OrderEmail, OrderStatus
from shop.payments.models import Refund
from shop.payments.stripe_gateway import client
from tests.factories import ProductFactory
from tests.shop.payments.stripe_guard import guard_stripe_calls

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stripe_outside_transactions(monkeypatch):
    """No Stripe call from these services inside a transaction or row lock (tests/shop/payments/stripe_guard.py)."""
    offences = guard_stripe_calls(monkeypatch)
    yield
    assert not offences


ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


@pytest.fixture
def place(localstripe, django_capture_on_commit_callbacks):
    """place(price, quantity, pay=True) -> an order placed (and paid with pm_card_visa) through the API."""

    def make(price="30.00", quantity=2, pay=True) -> Order:
        api = APIClient()
        product = ProductFactory(price=Decimal(price), stock=10)
        token = api.post("/api/v1/cart/items/", {"product": product.slug, "quantity": quantity}, format="json").data[
            "token"
        ]
        body = {"email": "ada@example.org", "shipping_address": ADDRESS}
        if pay:
            body["payment_method"] = "pm_card_visa"
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                "/api/v1/checkout/", body, format="json", HTTP_X_CART_TOKEN=token, HTTP_IDEMPOTENCY_KEY="k"
            )
        assert response.status_code == 201, response.data
        return Order.objects.get(number=response.data["number"])

    return make


def kinds(order: Order) -> list[str]:
    return list(order.events.values_list("kind", flat=True))


def stock_of(order: Order) -> int:
    return Product.objects.get(pk=order.lines.get().product_id).stock


def stripe_refunds(order: Order) -> list:
    intent_id = order.payments.get(status="succeeded").intent_id
    return list(client().v1.refunds.list(params={"payment_intent": intent_id}).data)


def usd(amount) -> Money:
    return Money(Decimal(amount), "USD")


# A whole life on the timeline


def test_every_status_change_writes_exactly_one_event(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2)  # 60.00, free shipping

    services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z999")
    services.order_deliver(order_id=order.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund(order_id=order.pk, amount=usd("60.00"))

    order.refresh_from_db()
    assert order.status == "refunded"
    events = list(order.events.all())
    assert [e.kind for e in events] == ["placed", "paid", "shipped", "delivered", "refunded"]
    assert [e.status for e in events] == ["pending_payment", "paid", "shipped", "delivered", "refunded"]
    assert (order.carrier, order.tracking_number) == ("UPS", "1Z999")
    assert events[2].data == {"carrier": "UPS", "tracking_number": "1Z999"}


def test_it_refuses_moves_outside_the_transitions(place):
    order = place(pay=False)

    with pytest.raises(Conflict):
        services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1")
    with pytest.raises(Conflict):
        services.order_deliver(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert kinds(order) == ["placed"]


def test_paid_is_recorded_once(place):
    order = place(pay=False)

    _o, first = services.order_mark_paid(order_id=order.pk, amount=order.total_money, reference="pi_1")
    _o, second = services.order_mark_paid(order_id=order.pk, amount=order.total_money, reference="pi_1")

    assert (first, second) == (True, False)
    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order) == ["placed", "paid"]
    assert OrderEmail.objects.filter(order=order, kind="confirmation").count() == 1


def test_a_failed_payment_never_moves_a_paid_order_back(place):
    order = place()

    services.order_mark_payment_failed(order_id=order.pk, message="late", declined=True)

    order.refresh_from_db()
    assert order.status == "paid"
    assert kinds(order) == ["placed", "paid"]


def test_closed_states_have_no_way_out():
    for status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REFUNDED):
        assert TRANSITIONS[status] == set()
    assert OrderStatus.PENDING_PAYMENT not in TRANSITIONS[OrderStatus.PAID]
    assert OrderStatus.PAYMENT_FAILED not in TRANSITIONS[OrderStatus.PAID]


# Refunds through the gateway


def test_a_partial_refund_keeps_the_order_paid(place, django_capture_on_commit_callbacks, mailoutbox):
    order = place(price="30.00", quantity=2)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = services.order_refund(order_id=order.pk, amount=usd("10.00"), reason="Scratched")

    assert result.status == "paid"
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.amount_refunded == Decimal("10.00")
    assert kinds(order) == ["placed", "paid", "partially_refunded"]
    assert order.events.last().message == "Scratched"
    refund = Refund.objects.get(order=order)
    assert refund.amount == Decimal("10.00")
    assert [(r.id, r.amount) for r in stripe_refunds(order)] == [(refund.refund_id, 1000)]
    email = OrderEmail.objects.get(order=order, kind="refunded")
    assert email.reference == refund.refund_id
    assert email.sent_at is not None
    assert len(mailoutbox) == 1
    assert order.number in mailoutbox[0].subject


def test_partial_refunds_adding_up_to_the_total_refund_the_order(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund(order_id=order.pk, amount=usd("10.00"))
        services.order_refund(order_id=order.pk, amount=usd("50.00"))

    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.amount_refunded == order.total == Decimal("60.00")
    assert kinds(order) == ["placed", "paid", "partially_refunded", "refunded"]
    assert sorted(r.amount for r in stripe_refunds(order)) == [1000, 5000]
    assert OrderEmail.objects.filter(order=order, kind="refunded").count() == 2


def test_a_full_refund_marks_the_order_refunded(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund(order_id=order.pk, amount=order.total_money)

    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.amount_refunded == Decimal("60.00")
    assert kinds(order) == ["placed", "paid", "refunded"]
    assert [r.amount for r in stripe_refunds(order)] == [6000]
    assert OrderEmail.objects.filter(order=order, kind="refunded").exists()


@pytest.mark.parametrize("amount", ["60.01", "0", "-5.00"])
def test_it_refuses_a_refund_outside_the_refundable_amount(place, amount):
    order = place(price="30.00", quantity=2)

    with pytest.raises(Conflict):
        services.order_refund(order_id=order.pk, amount=usd(amount))

    order.refresh_from_db()
    assert order.status == "paid"
    assert order.amount_refunded == 0
    assert not Refund.objects.exists()
    assert stripe_refunds(order) == []


def test_it_refuses_to_refund_more_than_is_left(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund(order_id=order.pk, amount=usd("50.00"))

    with pytest.raises(Conflict):
        services.order_refund(order_id=order.pk, amount=usd("10.01"))

    order.refresh_from_db()
    assert order.amount_refunded == Decimal("50.00")
    assert len(stripe_refunds(order)) == 1


def test_it_refuses_to_refund_an_unpaid_order(place):
    order = place(pay=False)

    with pytest.raises(Conflict):
        services.order_refund(order_id=order.pk, amount=usd("1.00"))

    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert not Refund.objects.exists()


# Cancellation


def test_cancelling_an_unpaid_order_gives_the_stock_back(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2, pay=False)
    assert stock_of(order) == 8

    services.order_cancel(order_id=order.pk, message="Changed my mind")
    with pytest.raises(Conflict):  # twice: refused, and nothing more happens
        services.order_cancel(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert kinds(order) == ["placed", "cancelled"]
    assert order.events.last().message == "Changed my mind"
    assert stock_of(order) == 10
    assert not Refund.objects.exists()


def test_cancelling_a_paid_order_refunds_it_in_full_first(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.amount_refunded == order.total == Decimal("60.00")
    assert kinds(order) == ["placed", "paid", "refunded", "cancelled"]
    assert [e.status for e in order.events.all()] == ["pending_payment", "paid", "paid", "cancelled"]
    assert [r.amount for r in stripe_refunds(order)] == [6000]
    assert Refund.objects.get(order=order).amount == Decimal("60.00")
    assert stock_of(order) == 10


def test_cancelling_a_partly_refunded_order_refunds_the_rest(place, django_capture_on_commit_callbacks):
    order = place(price="30.00", quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund(order_id=order.pk, amount=usd("15.00"))
        services.order_cancel(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.amount_refunded == Decimal("60.00")
    assert sorted(r.amount for r in stripe_refunds(order)) == [1500, 4500]


@pytest.mark.parametrize("state", ["shipped", "delivered"])
def test_a_shipped_order_cannot_be_cancelled(place, state):
    order = place(price="30.00", quantity=2)
    services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z")
    if state == "delivered":
        services.order_deliver(order_id=order.pk)

    with pytest.raises(Conflict):
        services.order_cancel(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == state
    assert order.amount_refunded == 0
    assert stripe_refunds(order) == []
    assert stock_of(order) == 8


# Money arithmetic: exact on every database (SQLite would add these in floating point)

FLOAT_TRAPS = [
    ("17.95", ["8.97", "8.98"]),  # 17.950000000000003 in floating point: above the total
    ("0.30", ["0.10", "0.20"]),  # 0.30000000000000004
    ("10.00", ["3.33", "3.33", "3.34"]),
    ("0.60", ["0.20", "0.20", "0.20"]),  # 0.6000000000000001
]


@pytest.mark.parametrize(("total", "parts"), FLOAT_TRAPS, ids=["8.97+8.98", "0.1+0.2", "thirds", "0.2x3"])
def test_partial_refunds_that_floating_point_gets_wrong_add_up_exactly(
    place, settings, django_capture_on_commit_callbacks, total, parts
):
    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Free", "price": "0"}}
    order = place(price=total, quantity=1)
    assert order.total == Decimal(total)

    with django_capture_on_commit_callbacks(execute=True):
        for part in parts:
            services.order_refund(order_id=order.pk, amount=usd(part))

    order.refresh_from_db()
    assert order.amount_refunded == order.total == Decimal(total)
    assert order.status == "refunded"
    assert kinds(order)[-1] == "refunded"
    assert sorted(r.amount for r in stripe_refunds(order)) == sorted(int(Decimal(p) * 100) for p in parts)


@pytest.mark.parametrize(("total", "parts"), FLOAT_TRAPS, ids=["8.97+8.98", "0.1+0.2", "thirds", "0.2x3"])
def test_recording_refunds_is_exact_and_refuses_one_cent_more(place, settings, total, parts):
    """The service the gateway calls, on its own: the sum is made in Python under the row lock."""
    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Free", "price": "0"}}
    order = place(price=total, quantity=1)

    for n, part in enumerate(parts):
        services.order_record_refund(order_id=order.pk, amount=usd(part), reference=f"re_{n}")
    with pytest.raises(Conflict):
        services.order_record_refund(order_id=order.pk, amount=usd("0.01"), reference="re_more")

    order.refresh_from_db()
    assert order.amount_refunded == Decimal(total)
    assert order.status == "refunded"
