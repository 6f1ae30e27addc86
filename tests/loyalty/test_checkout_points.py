"""Points through a whole order: redeemed at checkout, earned when paid, settled on refund and cancel."""

import datetime as dt

import pytest
from django.utils import timezone

from loyalty import services
from loyalty.models import CartPoints, Kind, LedgerEntry, Reason
from shop.core.errors import ShopError
from shop.core.money import Money
from shop.orders.services import order_record_refund, orders_expire
from tests.factories import UserFactory
from tests.loyalty.helpers import D, balance, cart_with, committed, give, ledger_sum, pay, place, rules

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _program():
    rules(earn_rate=D(5), redeem_rate=100, min_redeem_points=500, max_redeem_percent=50, pending_days=14)


def test_it_takes_points_off_the_order_and_debits_them_once():
    user = UserFactory()
    give(user, 1200)
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=1000)

    order = place(user, cart)

    assert order.discount_total == D("10.00")
    assert order.total == D("35.00")  # 40 - 10 + 5 shipping (free only over 50)
    points = order.adjustments.get(kind="points")
    assert (points.amount, points.label) == (D("-10.00"), "1,000 points")
    assert order.lines.get().discount == D("10.00")
    assert balance(user) == 200 == ledger_sum(user)
    assert LedgerEntry.objects.get(order=order, kind=Kind.REDEEM).points == -1000
    assert not CartPoints.objects.filter(cart=cart).exists()


def test_points_pay_at_most_the_programs_share_of_the_merchandise():
    user = UserFactory()
    give(user, 5000)
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=5000)

    order = place(user, cart)

    assert order.adjustments.get(kind="points").amount == D("-20.00")
    assert balance(user) == 3000


def test_an_order_paid_entirely_with_points_needs_no_payment():
    rules(max_redeem_percent=100)
    user = UserFactory()
    give(user, 6000)
    cart = cart_with(user, "60.00")  # shipping is free over 50
    services.cart_points_set(cart=cart, user=user, points=6000)

    order = place(user, cart)

    assert (order.total, order.status) == (D("0.00"), "paid")
    assert not order.payments.exists()
    assert list(order.events.values_list("kind", flat=True)) == ["placed", "paid"]
    assert balance(user) == 0 == ledger_sum(user)
    assert not LedgerEntry.objects.filter(order=order, kind=Kind.EARN).exists()  # nothing paid in money


def test_a_paid_order_earns_once_on_what_was_paid_in_money_and_the_points_are_pending():
    user = UserFactory()
    give(user, 1000)
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=1000)
    order = pay(place(user, cart))

    services.order_points_earn(order_id=order.pk)  # a second delivery
    earned = LedgerEntry.objects.get(order=order, kind=Kind.EARN)
    assert earned.points == 150  # (40 - 10) × 5; shipping earns nothing
    assert earned.available_at > timezone.now() + dt.timedelta(days=13)
    assert services.available_points(user=user) == 0
    assert balance(user) == 150 == ledger_sum(user)


def test_a_partial_refund_reverses_in_proportion_and_gives_back_redeemed_points():
    user = UserFactory()
    give(user, 1000)
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=1000)
    order = pay(place(user, cart))  # 30.00 of merchandise + 5.00 shipping; earned 150, redeemed 1,000

    with committed():  # half the merchandise: points are earned and spent on merchandise, not shipping
        order_record_refund(order_id=order.pk, amount=Money(D("15.00"), "USD"), reference="re_1")
    services.order_points_settle(order_id=order.pk)  # and again: nothing more

    reverses = LedgerEntry.objects.filter(order=order, kind=Kind.REVERSE).order_by("points")
    assert [e.points for e in reverses] == [-75, 500]
    assert {e.reason for e in reverses} == {Reason.REFUND}
    assert balance(user) == 150 - 75 + 500 == ledger_sum(user)

    with committed():
        order_record_refund(order_id=order.pk, amount=Money(D("15.00"), "USD"), reference="re_2")
    assert balance(user) == 1000 == ledger_sum(user)  # all earned taken back, all redeemed given back


def test_refunding_the_merchandise_but_not_the_shipping_reverses_everything():
    user = UserFactory()
    cart = cart_with(user, "20.00", quantity=2)  # 40.00 + 5.00 shipping: earns 200
    order = pay(place(user, cart))

    with committed():
        order_record_refund(order_id=order.pk, amount=Money(D("20.00"), "USD"), reference="re_1")
    assert balance(user) == 100  # one of the two items: half

    with committed():
        order_record_refund(order_id=order.pk, amount=Money(D("20.00"), "USD"), reference="re_2")
    assert balance(user) == 0 == ledger_sum(user)


def test_an_expired_order_gives_its_points_back():
    user = UserFactory()
    give(user, 800)
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=600)
    order = place(user, cart)
    assert balance(user) == 200

    with committed():
        orders_expire(now=timezone.now() + dt.timedelta(days=1))

    assert balance(user) == 800 == ledger_sum(user)
    back = LedgerEntry.objects.get(order=order, kind=Kind.REVERSE)
    assert (back.points, back.reason) == (600, Reason.CANCEL)


def test_a_full_refund_takes_back_what_is_left_of_the_orders_points_and_nothing_else():
    rules(pending_days=0, min_redeem_points=100)
    user = UserFactory()
    first = pay(place(user, cart_with(user, "80.00")))
    assert services.available_points(user=user) == 400
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=300)
    pay(place(user, cart))  # spends 300 of the 400
    assert balance(user) == 100 + 185  # what is left, plus (40 - 3) x 5 earned on the second order

    with committed():
        order_record_refund(order_id=first.pk, amount=Money(first.total, "USD"), reference="re_all")

    first.refresh_from_db()
    assert first.status == "refunded"
    taken = LedgerEntry.objects.get(order=first, kind=Kind.REVERSE)
    assert taken.points == -100  # what is left of the order's own points: the 300 spent stay spent
    assert taken.data == {"not_recovered": 300}
    assert balance(user) == 185 == ledger_sum(user)  # the second order's points are not touched


def test_it_refuses_fewer_points_than_the_minimum_and_more_than_available():
    user = UserFactory()
    give(user, 700)
    cart = cart_with(user)
    with pytest.raises(ShopError, match="at least 500"):
        services.cart_points_set(cart=cart, user=user, points=100)
    with pytest.raises(ShopError, match="700 points available"):
        services.cart_points_set(cart=cart, user=user, points=800)


def test_a_paused_program_lets_the_order_through_without_the_points():
    user = UserFactory()
    give(user, 1000)
    cart = cart_with(user, "40.00")
    services.cart_points_set(cart=cart, user=user, points=1000)
    rules(is_active=False)

    order = place(user, cart)

    assert order.total == D("45.00")
    assert not order.adjustments.filter(kind="points").exists()
    assert not CartPoints.objects.filter(cart=cart).exists()
    assert balance(user) == 1000


def test_it_refuses_points_worth_less_than_the_smallest_coin_and_a_zero():
    rules(redeem_rate=1000, min_redeem_points=1)
    user = UserFactory()
    give(user, 50)
    cart = cart_with(user)
    with pytest.raises(ShopError, match="smallest coin"):
        services.cart_points_set(cart=cart, user=user, points=5)
    with pytest.raises(ShopError):
        services.cart_points_set(cart=cart, user=user, points=0)
    assert not CartPoints.objects.exists()
