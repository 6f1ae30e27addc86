"""shop.payments.refunds: recorded first, sent once, retried with backoff, swept, shown to staff."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
import stripe
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from shop.core.errors import Conflict
from shop.core.money import Money
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from shop.orders.payment import RefundPending, gateway
from shop.payments import refunds, tasks
from shop.payments.models import Refund
from shop.payments.stripe_gateway import client
from tests.factories import CartFactory, CartLineFactory, ProductFactory

ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")


def paid_order(price="40.00") -> Order:
    cart = CartFactory()
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal(price), stock=10))
    order, _ = checkout_place(
        cart=cart, user=cart.user, email=cart.user.email, address=ADDRESS, shipping_method="standard"
    )
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")
    order.refresh_from_db()
    assert order.status == "paid"
    return order


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def stripe_refunds(order: Order) -> list:
    intent_id = order.payments.get(status="succeeded").intent_id
    return list(client().v1.refunds.list(params={"payment_intent": intent_id}).data)


@pytest.fixture
def stripe_down(monkeypatch, localstripe):
    """Refund creation fails as when Stripe cannot be reached (the boundary only); `.up()` restores it."""
    api = client().v1.refunds
    real = api.create

    def down(*args, **kwargs):
        raise stripe.APIConnectionError("Stripe is unreachable")

    monkeypatch.setattr(api, "create", down)

    class Switch:
        @staticmethod
        def up():
            monkeypatch.setattr(api, "create", real)

    return Switch


def make_due(row: Refund) -> None:
    Refund.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.django_db
def test_a_refund_stripe_cannot_take_is_kept_and_sent_by_the_sweep_when_due(localstripe, stripe_down):
    order = paid_order()  # 45.00 with shipping

    with pytest.raises(RefundPending):
        gateway().refund(order=order, amount=usd("15.00"), reason="Damaged")

    row = Refund.objects.get()
    assert (row.status, row.attempts, row.refund_id, row.amount) == ("requested", 1, "", Decimal("15.00"))
    assert "unreachable" in row.last_error
    assert timezone.now() + dt.timedelta(seconds=50) < row.next_attempt_at < timezone.now() + dt.timedelta(minutes=2)
    assert row.needs_attention
    order.refresh_from_db()
    assert order.amount_refunded == 0  # not until Stripe confirms
    assert refunds.refundable_now(order) == usd("30.00")  # but nobody can refund it twice meanwhile

    stripe_down.up()
    assert tasks.retry_due_refunds.apply().get() == 0  # not due yet: the backoff holds
    make_due(row)
    assert tasks.retry_due_refunds.apply().get() == 1

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error, row.next_attempt_at) == ("succeeded", 1, "", None)
    [at_stripe] = stripe_refunds(order)
    assert (at_stripe.id, at_stripe.amount, at_stripe.metadata.refund) == (row.refund_id, 1500, str(row.pk))
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("15.00")
    assert [e.kind for e in order.events.all()] == ["placed", "paid", "partially_refunded"]


@pytest.mark.django_db
def test_the_backoff_doubles_and_the_row_fails_for_staff_after_the_last_attempt(localstripe, stripe_down):
    order = paid_order()
    with pytest.raises(RefundPending):
        gateway().refund(order=order, amount=usd("5.00"))
    row = Refund.objects.get()
    delays = []
    for _ in range(refunds.MAX_ATTEMPTS - 1):
        row.refresh_from_db()
        delays.append(round((row.next_attempt_at - timezone.now()).total_seconds() / 60))
        make_due(row)
        assert refunds.refunds_retry_due() == 0

    row.refresh_from_db()
    assert delays[:5] == [1, 2, 4, 8, 16]
    assert max(delays) == 256
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", refunds.MAX_ATTEMPTS, None)
    assert row.needs_attention
    assert refunds.backoff(20) == dt.timedelta(hours=6)


@pytest.mark.django_db
def test_a_refund_stripe_refuses_fails_at_once_and_says_why(localstripe, monkeypatch):
    order = paid_order()

    def refuse(*args, **kwargs):
        raise stripe.InvalidRequestError("Charge ch_1 has already been refunded.", param="charge")

    monkeypatch.setattr(client().v1.refunds, "create", refuse)

    with pytest.raises(Conflict, match="Stripe refused the refund: Charge ch_1 has already been refunded."):
        gateway().refund(order=order, amount=usd("5.00"))

    row = Refund.objects.get()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    order.refresh_from_db()
    assert order.amount_refunded == 0


@pytest.mark.django_db
def test_a_refund_is_sent_once_with_a_key_derived_from_its_row(localstripe, monkeypatch):
    order = paid_order()
    api = client().v1.refunds
    real, keys = api.create, []

    def recording(*args, options=None, **kwargs):
        keys.append(options["idempotency_key"])
        return real(*args, options=options, **kwargs)

    monkeypatch.setattr(api, "create", recording)

    gateway().refund(order=order, amount=usd("5.00"))
    row = Refund.objects.get()
    assert not refunds.refund_send(refund_pk=row.pk)  # settled: nothing more to send
    # Even if it looked due again, a live claim (another worker's call in flight) keeps this worker off.
    Refund.objects.filter(pk=row.pk).update(
        status="requested",
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1),
        claimed_until=timezone.now() + dt.timedelta(minutes=1),
    )
    assert not refunds.refund_send(refund_pk=row.pk)

    assert keys == [f"order-{order.number}-refund-{row.pk}"]
    assert len(stripe_refunds(order)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_one_refund_call_stripe_once(localstripe, monkeypatch):
    """The claim is a committed conditional update: the slower worker finds it taken."""
    order = paid_order()
    row = refunds.refund_request(payment=order.payments.get(), amount=usd("5.00"))
    api = client().v1.refunds
    real, calls = api.create, []

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.3)  # both workers are in flight together
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "create", slow)
    results = []

    def worker():
        try:
            results.append(refunds.refund_send(refund_pk=row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True]
    assert len(calls) == 1
    assert len(stripe_refunds(order)) == 1
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("5.00")


@pytest.mark.django_db
def test_two_requests_together_cannot_exceed_what_is_left(localstripe, stripe_down):
    order = paid_order()  # 45.00
    with pytest.raises(RefundPending):
        gateway().refund(order=order, amount=usd("40.00"))

    with pytest.raises(Conflict, match=r"at most \$5.00"):
        gateway().refund(order=order, amount=usd("10.00"))
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_the_sweep_runs_on_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["retry-due-refunds"]
    assert entry["task"] == tasks.retry_due_refunds.name
    assert entry["schedule"] <= 300


# Staff


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


CHANGELIST = reverse("admin:payments_refund_changelist")


@pytest.mark.django_db
def test_staff_see_the_refunds_that_need_attention_and_retry_them(admin_client, localstripe, stripe_down):
    order = paid_order()
    settled = refunds.refund_request(payment=order.payments.get(), amount=usd("1.00"))
    refunds.refund_send(refund_pk=settled.pk)  # fails: Stripe is down
    stripe_down.up()
    make_due(settled)
    assert refunds.refund_send(refund_pk=settled.pk)
    waiting = refunds.refund_request(payment=order.payments.get(), amount=usd("2.00"))
    Refund.objects.filter(pk=waiting.pk).update(attempts=3, last_error="Stripe is unreachable")

    listed = admin_client.get(CHANGELIST, {"attention": "yes"})

    assert listed.status_code == 200
    assert [r.pk for r in listed.context["cl"].result_list] == [waiting.pk]
    assert "Stripe is unreachable" in listed.content.decode()
    assert [r.pk for r in admin_client.get(CHANGELIST, {"attention": "no"}).context["cl"].result_list] == [settled.pk]

    response = admin_client.post(
        CHANGELIST, {"action": "retry_now", "_selected_action": [waiting.pk], "attention": "yes"}, follow=True
    )

    assert "1 refund sent." in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "succeeded"
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("3.00")


@pytest.mark.django_db
def test_staff_mark_a_failed_refund_resolved_and_it_is_noted_on_the_order(admin_client, staff, localstripe):
    order = paid_order()
    row = refunds.refund_request(payment=order.payments.get(), amount=usd("2.00"))
    Refund.objects.filter(pk=row.pk).update(status="failed", attempts=10, last_error="Charge disputed")

    response = admin_client.post(CHANGELIST, {"action": "mark_resolved", "_selected_action": [row.pk]}, follow=True)

    assert "1 refund marked resolved." in response.content.decode()
    row.refresh_from_db()
    assert row.status == "resolved"
    assert not refunds.refund_retry(refund_pk=row.pk)  # no more tries
    note = order.events.last()
    assert (note.kind, note.actor) == ("note", staff)
    assert "marked resolved" in note.message
    assert stripe_refunds(order) == []


@pytest.mark.django_db
def test_the_refund_actions_need_the_change_permission(client, localstripe):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_refund"))
    client.force_login(viewer)
    order = paid_order()
    row = refunds.refund_request(payment=order.payments.get(), amount=usd("2.00"))
    Refund.objects.filter(pk=row.pk).update(status="failed")

    page = client.get(CHANGELIST)
    client.post(CHANGELIST, {"action": "mark_resolved", "_selected_action": [row.pk]})

    assert page.status_code == 200
    assert "retry_now" not in page.content.decode()
    row.refresh_from_db()
    assert row.status == "failed"


# The guard used by every payments test


@pytest.mark.django_db
def test_the_guard_fails_a_stripe_call_inside_a_transaction(localstripe, stripe_outside_transactions):
    client().v1.payment_intents.list()  # outside: fine

    with pytest.raises(AssertionError, match="inside a database transaction"), transaction.atomic():
        client().v1.payment_intents.list()

    assert stripe_outside_transactions == ["GET /v1/payment_intents"]
    stripe_outside_transactions.clear()  # seen; the fixture's own check at teardown stays quiet
