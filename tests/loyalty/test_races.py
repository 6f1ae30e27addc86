"""Points under real concurrency: threads, each on its own database connection, released at once.

Marked `race`: skipped on SQLite, which serialises transactions; CI runs them on PostgreSQL:
    .ci/with-postgres.sh .venv/bin/pytest tests/loyalty/test_races.py -p no:xdist --require-races
"""

import datetime as dt

import pytest
from django.utils import timezone

from loyalty import services
from loyalty.models import Kind, LedgerEntry
from shop.cart.models import Cart
from shop.core.errors import Conflict
from shop.core.money import Money
from shop.orders.checkout import checkout_place
from shop.orders.models import Order
from shop.orders.services import order_mark_paid
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory
from tests.loyalty.helpers import ADDRESS, D, balance, give, ledger_sum, rules

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


@pytest.fixture(autouse=True)
def _program():
    rules(redeem_rate=100, min_redeem_points=500, max_redeem_percent=100, pending_days=0, earn_rate=D(1))


def cart_spending(user, points: int) -> Cart:
    """A cart of its own (as if from a second device) holding one product and `points` to spend."""
    cart = CartFactory(user=None)
    CartLineFactory(cart=cart, product=ProductFactory(price=D("40.00"), stock=5), quantity=1)
    services.cart_points_set(cart=cart, user=user, points=points)
    return cart


def test_two_checkouts_spending_the_same_points_at_once_exactly_one_succeeds():
    user = UserFactory()
    give(user, 1000)
    carts = [cart_spending(user, 1000) for _ in range(2)]

    results = run_at_once(
        [
            lambda cart=cart: checkout_place(
                cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard"
            )
            for cart in carts
        ],
        exceptions_allowed=True,
    )

    orders = [r[0] for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(orders), len(refused)) == (1, 1), results
    assert refused[0].field == "points"
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=Kind.REDEEM).count() == 1
    assert balance(user) == 0 == ledger_sum(user)


def test_many_deliveries_of_one_payment_earn_once():
    user = UserFactory()
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=ProductFactory(price=D("80.00"), stock=5), quantity=1)
    order, _ = checkout_place(cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard")
    order_mark_paid(order_id=order.pk, amount=Money(order.total, "USD"), reference="pi")

    run_at_once([lambda: services.order_points_earn(order_id=order.pk) for _ in range(6)])

    assert LedgerEntry.objects.filter(order=order, kind=Kind.EARN).count() == 1
    assert balance(user) == 80 == ledger_sum(user)


def test_refund_signals_settling_at_once_reverse_once():
    user = UserFactory()
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=ProductFactory(price=D("80.00"), stock=5), quantity=1)
    order, _ = checkout_place(cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard")
    order_mark_paid(order_id=order.pk, amount=Money(order.total, "USD"), reference="pi")
    services.order_points_earn(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(amount_refunded=order.total / 2)

    run_at_once([lambda: services.order_points_settle(order_id=order.pk) for _ in range(4)])

    assert [e.points for e in LedgerEntry.objects.filter(order=order, kind=Kind.REVERSE)] == [-40]
    assert balance(user) == 40 == ledger_sum(user)


def test_the_expiry_job_on_two_workers_and_a_checkout_at_once_never_count_a_point_twice():
    user = UserFactory()
    give(user, 600, days_ago=400)  # past its expiry
    give(user, 700)
    cart = cart_spending(user, 700)
    now = timezone.now() + dt.timedelta(seconds=1)

    results = run_at_once(
        [
            lambda: services.points_expire(now=now),
            lambda: services.points_expire(now=now),
            lambda: checkout_place(cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard"),
        ]
    )

    assert results[0] + results[1] <= 1  # the checkout may have written the expiry itself, first
    assert LedgerEntry.objects.get(kind=Kind.EXPIRE).points == -600
    assert LedgerEntry.objects.get(kind=Kind.REDEEM).points == -700
    assert balance(user) == 0 == ledger_sum(user)


def test_two_friends_paid_at_once_never_take_an_advocate_past_the_monthly_cap():
    from loyalty.models import Referral
    from tests.loyalty.helpers import OTHER_ADDRESS

    rules(referral_monthly_cap=1, referral_points=500, pending_days=14)
    advocate = UserFactory()
    code = services.account_get(user=advocate).referral_code
    orders = []
    for _ in range(2):
        friend = UserFactory()
        services.referral_attach(friend=friend, code=code)
        cart = CartFactory(user=friend)
        CartLineFactory(cart=cart, product=ProductFactory(price=D("30.00"), stock=5), quantity=1)
        order, _ = checkout_place(
            cart=cart, user=friend, email=friend.email, address=OTHER_ADDRESS, shipping_method="standard"
        )
        order_mark_paid(order_id=order.pk, amount=Money(order.total, "USD"), reference="pi")
        orders.append(order)

    run_at_once([lambda order=order: services.referral_reward(order_id=order.pk) for order in orders])

    assert sorted(Referral.objects.values_list("status", flat=True)) == ["refused", "rewarded"]
    assert balance(advocate) == 500 == ledger_sum(advocate)
