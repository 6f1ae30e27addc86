"""Order emails: confirmation, shipped, refunded; text and HTML; once; the sweep when the broker was down."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from shop.core.money import Money
from shop.orders import services, tasks
from shop.orders.models import Order, OrderEmail
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


@pytest.fixture
def place(localstripe, django_capture_on_commit_callbacks):
    def make(payment_method="pm_card_visa", expect=201) -> Order:
        api = APIClient()
        product = ProductFactory(name="Brass lamp", price=Decimal("30.00"), stock=10)
        token = api.post("/api/v1/cart/items/", {"product": product.slug, "quantity": 2}, format="json").data["token"]
        body = {"email": "ada@example.org", "shipping_address": ADDRESS, "payment_method": payment_method}
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                "/api/v1/checkout/", body, format="json", HTTP_X_CART_TOKEN=token, HTTP_IDEMPOTENCY_KEY="k"
            )
        assert response.status_code == expect, response.data
        return Order.objects.get(number=response.data["number"])

    return make


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.send_order_email, "delay", refuse)


def html_of(message) -> str:
    htmls = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(htmls) == 1
    return htmls[0]


def age(email: OrderEmail, minutes=3) -> None:
    OrderEmail.objects.filter(pk=email.pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes))


def test_it_sends_a_confirmation_with_text_and_html_when_paid(place, mailoutbox):
    order = place()

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ada@example.org"]
    assert message.subject == f"Your order {order.number} is confirmed"
    assert order.number in message.body
    assert "Brass lamp" in message.body
    html = html_of(message)
    assert order.number in html
    assert "Brass lamp" in html
    assert "<" in html and "<html" not in message.body
    email = OrderEmail.objects.get(order=order)
    assert (email.kind, email.attempts) == ("confirmation", 1)
    assert email.sent_at is not None


def test_it_sends_no_confirmation_for_an_unpaid_order(place, mailoutbox):
    order = place(payment_method="pm_card_chargeCustomerFail", expect=402)

    assert mailoutbox == []
    assert not OrderEmail.objects.filter(order=order).exists()


def test_it_sends_a_shipped_email_with_the_tracking_number(place, mailoutbox, django_capture_on_commit_callbacks):
    order = place()

    with django_capture_on_commit_callbacks(execute=True):
        services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z999AA1")

    assert len(mailoutbox) == 2
    message = mailoutbox[1]
    assert message.subject == f"Your order {order.number} is on its way"
    assert "1Z999AA1" in message.body
    assert "1Z999AA1" in html_of(message)
    assert OrderEmail.objects.get(order=order, kind="shipped").sent_at is not None


def test_it_sends_a_refund_email_per_refund(place, mailoutbox, django_capture_on_commit_callbacks):
    order = place()

    with django_capture_on_commit_callbacks(execute=True):
        services.order_refund(order_id=order.pk, amount=Money(Decimal("12.50"), "USD"))

    assert len(mailoutbox) == 2
    message = mailoutbox[1]
    assert message.subject == f"A refund for your order {order.number}"
    assert "12.50" in message.body
    assert "12.50" in html_of(message)
    email = OrderEmail.objects.get(order=order, kind="refunded")
    assert email.reference == order.refunds.get().refund_id
    assert email.sent_at is not None


def test_each_email_goes_out_once_even_if_the_task_runs_twice(place, mailoutbox):
    order = place()
    email = OrderEmail.objects.get(order=order)
    sent_at = email.sent_at

    assert tasks.send_order_email(email_id=email.pk) is False
    assert tasks.send_order_email.delay(email_id=email.pk).get() is False

    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert (email.sent_at, email.attempts) == (sent_at, 1)


def test_the_order_is_paid_when_the_broker_is_down_and_the_sweep_sends_the_email_later(place, broker_down, mailoutbox):
    order = place()

    assert order.status == "paid"
    assert mailoutbox == []
    email = OrderEmail.objects.get(order=order, kind="confirmation")
    assert email.sent_at is None

    assert tasks.send_pending_order_emails() == 0  # too recent: its task may still be on its way
    assert mailoutbox == []

    age(email)
    assert tasks.send_pending_order_emails() == 1

    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == f"Your order {order.number} is confirmed"
    html_of(mailoutbox[0])
    email.refresh_from_db()
    assert email.sent_at is not None
    assert tasks.send_pending_order_emails() == 0
    assert len(mailoutbox) == 1


def test_the_sweep_sends_a_shipped_email_the_broker_lost(
    place, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    order = place()
    mailoutbox.clear()

    def refuse(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.send_order_email, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z")

    order.refresh_from_db()
    assert order.status == "shipped"
    assert mailoutbox == []
    age(OrderEmail.objects.get(order=order, kind="shipped"))

    assert tasks.send_pending_order_emails() == 1
    assert [m.subject for m in mailoutbox] == [f"Your order {order.number} is on its way"]


def test_a_failing_send_is_retried_by_the_sweep(place, broker_down, monkeypatch, mailoutbox):
    order = place()
    email = OrderEmail.objects.get(order=order)
    age(email)
    from django.core.mail import EmailMultiAlternatives

    real_send = EmailMultiAlternatives.send
    monkeypatch.setattr(EmailMultiAlternatives, "send", lambda self, *a, **k: (_ for _ in ()).throw(OSError("smtp")))

    tasks.send_pending_order_emails()

    email.refresh_from_db()
    assert email.sent_at is None
    assert email.attempts == 1  # one attempt a sweep: no retries run in place
    assert "smtp" in email.last_error
    assert email.claimed_until > timezone.now()  # resting: the next sweep leaves it until then
    assert tasks.send_pending_order_emails() == 0

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    OrderEmail.objects.filter(pk=email.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert tasks.send_pending_order_emails() == 1
    email.refresh_from_db()
    assert email.sent_at is not None
    assert len(mailoutbox) == 1


def test_an_outage_of_hours_loses_no_email(place, broker_down, monkeypatch, mailoutbox):
    """The mail server down for ten hours: each sweep tries a row once its rest is over (1, 2, 4… minutes,
    at most 6 hours), never several times at once; when the server is back, the email goes out."""
    from django.core.mail import EmailMultiAlternatives

    from shop.core import outbox

    order = place()
    email = OrderEmail.objects.get(order=order)
    start = timezone.now()
    real_send = EmailMultiAlternatives.send
    monkeypatch.setattr(EmailMultiAlternatives, "send", lambda self, *a, **k: (_ for _ in ()).throw(OSError("down")))
    clock = {"now": start}
    monkeypatch.setattr(outbox.timezone, "now", lambda: clock["now"])
    for minute in range(3, 10 * 60, 2):  # a sweep every two minutes for ten hours
        clock["now"] = start + dt.timedelta(minutes=minute)
        tasks.send_pending_order_emails()
    email.refresh_from_db()
    assert email.sent_at is None and 8 <= email.attempts <= 12, email.attempts  # waits doubled, up to 6 hours

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    clock["now"] = start + dt.timedelta(hours=16, minutes=1)  # the longest rest is over
    assert tasks.send_pending_order_emails() == 1
    email.refresh_from_db()
    assert email.sent_at is not None and len(mailoutbox) == 1
