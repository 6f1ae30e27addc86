"""Codes used by orders that expired or were cancelled come back once, even when the release task never ran.

The receiver of order_cancelled queues the release; if the broker or the worker
is down, the sweep (tasks.release_missed_codes, on the beat schedule) frees the
code later. Each redemption is claimed with a conditional update, so the
receiver and the sweep racing give a use back once (test_release_sweep_races.py).
"""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from marketing.discounts import tasks
from marketing.discounts.models import Redemption
from shop.orders.models import Order, OrderStatus
from shop.orders.services import order_cancel, orders_expire
from tests.factories import UserFactory
from tests.marketing.discounts.test_claims import _used, bought_with_code, code_for, promotion


@pytest.fixture
def broker_down(monkeypatch):
    """Queuing a task fails, as when the broker cannot be reached."""

    def refuse(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.release_order_codes, "delay", refuse)


@pytest.fixture
def once(db):
    promo = promotion(name="Once", usage_limit=1, usage_limit_per_customer=1)
    code_for(promo, "ONCE", max_uses=1)
    return promo


@pytest.mark.django_db
def test_a_cancellation_whose_release_could_not_be_queued_leaves_the_code_used(
    once, broker_down, django_capture_on_commit_callbacks
):
    order = bought_with_code(UserFactory(), "ONCE")

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk)  # the cancellation itself succeeds

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert _used(once, "ONCE") == (1, 1)
    assert Redemption.objects.get().status == Redemption.Status.ACTIVE


@pytest.mark.django_db
def test_the_sweep_frees_the_code_of_an_expired_order_once(once, broker_down, django_capture_on_commit_callbacks):
    buyer = UserFactory()
    order = bought_with_code(buyer, "ONCE")
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire(now=timezone.now() + dt.timedelta(days=1)) == 1
    assert _used(once, "ONCE") == (1, 1)

    assert tasks.release_missed_codes() == 1

    assert _used(once, "ONCE") == (0, 0)
    redemption = Redemption.objects.get(order=order)
    assert redemption.status == Redemption.Status.RELEASED and redemption.released_at is not None
    released_at = redemption.released_at

    assert tasks.release_missed_codes() == 0  # a second run changes nothing
    assert _used(once, "ONCE") == (0, 0)
    redemption.refresh_from_db()
    assert redemption.released_at == released_at
    bought_with_code(buyer, "ONCE")  # the customer can use it again


@pytest.mark.django_db
def test_the_sweep_leaves_the_codes_of_open_paid_and_refunded_orders_used(once):
    promo = promotion(name="Shared")
    code_for(promo, "SHARED")
    orders = [bought_with_code(UserFactory(), "SHARED") for _ in range(3)]
    Order.objects.filter(pk=orders[1].pk).update(status=OrderStatus.PAID)
    Order.objects.filter(pk=orders[2].pk).update(status=OrderStatus.REFUNDED)  # a refunded order did use it

    assert tasks.release_missed_codes() == 0
    assert _used(promo, "SHARED") == (3, 3)


@pytest.mark.django_db
def test_the_receiver_releases_at_once_when_the_broker_answers(once, django_capture_on_commit_callbacks):
    order = bought_with_code(UserFactory(), "ONCE")

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk)

    assert _used(once, "ONCE") == (0, 0)
    assert tasks.release_missed_codes() == 0


def test_the_sweep_is_on_the_beat_schedule():
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "marketing.discounts.tasks.release_missed_codes" in entries
    app.loader.import_default_modules()
    assert "marketing.discounts.tasks.release_missed_codes" in app.tasks
    assert "marketing.discounts.tasks.release_order_codes" in app.tasks
