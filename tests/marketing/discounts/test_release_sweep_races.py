"""The receiver and the sweep releasing the same codes at once give each use back once.

A race test: it proves the conditional update only on PostgreSQL (SQLite serialises the
threads), so it is skipped on SQLite and required by `make test-postgres`.
"""

import pytest

from marketing.discounts import receivers, tasks
from marketing.discounts.models import Redemption
from shop.orders.models import Order, OrderStatus
from tests.concurrency import run_at_once
from tests.factories import UserFactory
from tests.marketing.discounts.test_claims import _used, bought_with_code, code_for, promotion


@pytest.mark.django_db(transaction=True)
def test_the_receiver_and_the_sweep_racing_give_each_use_back_once():
    promo = promotion(name="Shared")
    code_for(promo, "SHARED")
    closed = [bought_with_code(UserFactory(), "SHARED") for _ in range(3)]
    bought_with_code(UserFactory(), "SHARED")  # still open: its use stays
    Order.objects.filter(pk__in=[o.pk for o in closed]).update(status=OrderStatus.CANCELLED)
    assert _used(promo, "SHARED") == (4, 4)

    receiver_calls = [
        lambda order_id=order.pk: receivers.release_codes(sender=Order, order_id=order_id) for order in closed
    ]
    run_at_once([*receiver_calls, *[tasks.release_missed_codes] * 3])

    assert _used(promo, "SHARED") == (1, 1)
    released = Redemption.objects.filter(status=Redemption.Status.RELEASED)
    assert sorted(released.values_list("order_id", flat=True)) == sorted(o.pk for o in closed)
