"""Every flow's timing and exit rule, with the clock in the test's hands (`now=`)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from marketing.campaigns import flows, services
from marketing.campaigns.models import Flow, FlowRun, FlowStep, Message
from marketing.discounts.models import Promotion
from shop.cart.models import Cart, CartLine
from shop.orders.models import OrderEvent
from tests.factories import OrderFactory, ProductFactory
from tests.marketing.campaigns.helpers import customer

pytestmark = pytest.mark.django_db


T = Flow.Trigger
START = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)  # noon, outside quiet hours


def at(**delta) -> dt.datetime:
    return START + dt.timedelta(**delta)


def switch_on(trigger: str, *, promotion: Promotion | None = None) -> Flow:
    flow = Flow.objects.get(trigger=trigger)
    if promotion is not None:
        flow.steps.filter(body_html__contains="code").update(promotion_id=promotion.pk)
    flow.enabled = True
    flow.save()
    return flow


def tick(now) -> list[str]:
    """What a minute's tick does, then every due message sent at that moment: the subjects sent."""
    before = len(mail.outbox)
    flows.runs_advance(now=now)
    for pk in Message.objects.filter(status="queued").values_list("pk", flat=True):
        services.message_send(message_id=pk, now=now)
    return [m.subject for m in mail.outbox[before:]]


@pytest.fixture
def promotion():
    return Promotion.objects.create(name="Come back 10%", kind="percent", value=10, requires_code=True)


@pytest.fixture
def shopper():
    return customer("sam@example.org")


def cart_of(user, *, now) -> Cart:
    cart = Cart.objects.create(user=user)
    product = ProductFactory(price=Decimal("20.00"))
    CartLine.objects.create(cart=cart, product=product, variant=product.variants.get(), quantity=1)
    flows.on_cart_changed(cart_id=cart.pk, user_id=user.pk, now=now)
    return cart


def test_the_starting_flows_exist_switched_off_with_their_steps():
    assert set(Flow.objects.values_list("trigger", flat=True)) == set(T.values)
    assert not Flow.objects.filter(enabled=True).exists()
    assert list(Flow.objects.get(trigger=T.ABANDONED_CART).steps.values_list("delay_minutes", flat=True)) == [
        60,
        23 * 60,
        2 * 24 * 60,
    ]


def test_an_abandoned_cart_gets_three_reminders_at_1h_24h_and_72h_the_code_only_in_the_last(shopper, promotion):
    switch_on(T.ABANDONED_CART, promotion=promotion)
    cart_of(shopper, now=START)

    assert tick(at(minutes=59)) == []
    assert tick(at(minutes=61)) == ["You left something in your cart"]
    assert tick(at(hours=23)) == []
    assert tick(at(hours=24, minutes=2)) == ["Still thinking it over?"]
    assert tick(at(hours=71)) == []
    assert tick(at(hours=72, minutes=3)) == ["A little help to decide"]
    codes = list(Message.objects.order_by("pk").values_list("code", flat=True))
    assert codes[:2] == ["", ""] and codes[2]
    assert codes[2] in mail.outbox[-1].alternatives[0][0]
    assert FlowRun.objects.get().status == FlowRun.Status.DONE


def test_shopping_on_pushes_the_first_reminder_back(shopper):
    switch_on(T.ABANDONED_CART)
    cart = cart_of(shopper, now=START)
    flows.on_cart_changed(cart_id=cart.pk, user_id=shopper.pk, now=at(minutes=50))

    assert tick(at(minutes=70)) == []
    assert tick(at(minutes=111)) == ["You left something in your cart"]


def test_ordering_stops_the_abandoned_cart_flow_at_once(shopper):
    switch_on(T.ABANDONED_CART)
    cart_of(shopper, now=START)
    assert tick(at(minutes=61)) == ["You left something in your cart"]

    flows.on_order_placed(order_id=1, user_id=shopper.pk, now=at(hours=2))

    assert tick(at(days=5)) == []
    run = FlowRun.objects.get()
    assert (run.status, run.exit_reason) == (FlowRun.Status.EXITED, "ordered")


def test_an_emptied_cart_leaves_the_flow(shopper):
    switch_on(T.ABANDONED_CART)
    cart = cart_of(shopper, now=START)
    cart.lines.all().delete()

    flows.on_cart_changed(cart_id=cart.pk, user_id=shopper.pk, now=at(minutes=10))

    assert tick(at(days=5)) == []
    assert FlowRun.objects.get().exit_reason == "cart emptied"


def test_a_guest_cart_or_a_flow_switched_off_starts_nothing(shopper):
    cart_of(shopper, now=START)  # the flow is off
    switch_on(T.ABANDONED_CART)
    flows.on_cart_changed(cart_id=Cart.objects.create().pk, user_id=None, now=START)

    assert not FlowRun.objects.exists()


def test_welcome_goes_to_new_customers_with_consent_and_stops_when_they_order(shopper, promotion):
    switch_on(T.WELCOME, promotion=promotion)
    silent = customer("silent@example.org", consents=())
    flows.on_registered(user_id=shopper.pk, now=START)
    flows.on_registered(user_id=silent.pk, now=START)

    assert tick(at(minutes=1)) == ["Welcome to Bazaar, Sam"]
    flows.on_order_placed(order_id=1, user_id=shopper.pk, now=at(days=1))
    assert tick(at(days=4)) == []
    assert FlowRun.objects.count() == 1


def test_post_purchase_thanks_then_asks_for_a_review_five_days_after_delivery(shopper):
    switch_on(T.POST_PURCHASE)
    order = OrderFactory(user=shopper, placed_at=START, paid_at=START)
    flows.on_order_paid(order_id=order.pk, user_id=shopper.pk, now=START)

    assert tick(at(minutes=1)) == [f"Thank you for your order {order.number}"]
    assert tick(at(days=6)) == []  # not delivered yet: waits
    order.status = "delivered"
    order.save()
    OrderEvent.objects.create(order=order, status="delivered", created_at=at(days=7))
    assert tick(at(days=8)) == []
    assert tick(at(days=12, minutes=1)) == ["How do you like it?"]


def test_a_post_purchase_run_gives_up_on_an_order_never_delivered(shopper):
    switch_on(T.POST_PURCHASE)
    order = OrderFactory(user=shopper, placed_at=START, paid_at=START)
    flows.on_order_paid(order_id=order.pk, user_id=shopper.pk, now=START)
    tick(at(minutes=1))

    for day in range(1, 33):
        tick(at(days=day))

    run = FlowRun.objects.get()
    assert (run.status, run.exit_reason) == (FlowRun.Status.EXITED, "not delivered")
    assert len(mail.outbox) == 1


def test_birthday_once_a_year(shopper):
    switch_on(T.BIRTHDAY)
    shopper.profile.birthday = dt.date(1990, 6, 10)
    shopper.profile.save()

    assert flows.scan_birthdays(now=START) == 1
    assert flows.scan_birthdays(now=at(hours=6)) == 0
    assert tick(at(hours=9, minutes=1)) == ["Happy birthday, Sam!"]
    assert flows.scan_birthdays(now=at(days=365)) == 1  # next year


def test_winback_after_90_days_without_an_order_once_per_lapse(shopper, promotion):
    switch_on(T.WINBACK, promotion=promotion)
    OrderFactory(user=shopper, placed_at=at(days=-95), status="delivered")

    assert flows.scan_winback(now=START) == 1
    assert flows.scan_winback(now=at(days=1)) == 0
    assert tick(at(minutes=1)) == ["We miss you, Sam"]
    OrderFactory(user=shopper, placed_at=at(days=2), status="paid")
    assert flows.scan_winback(now=at(days=60)) == 0  # bought again: not lapsed
    assert flows.scan_winback(now=at(days=93)) == 1


def test_browse_abandonment_for_viewers_who_added_nothing(shopper):
    from marketing.analytics.models import Event

    switch_on(T.BROWSE)
    buyer = customer("buyer@example.org")
    product = ProductFactory()
    for who, name in ((shopper, "view_item"), (buyer, "view_item"), (buyer, "add_to_cart")):
        Event.objects.create(name=name, at=at(hours=-3), day=START.date(), customer=who, product=product)

    assert flows.scan_browse(now=START) == 1
    assert flows.scan_browse(now=at(hours=1)) == 0  # once a week
    assert FlowRun.objects.get().user == shopper


def test_points_about_to_expire_join_loyaltys_reminder_on_the_other_channels(shopper):
    from loyalty.models import Account, ExpiryNotice
    from marketing.campaigns.channels import push as push_channel
    from marketing.campaigns.models import PushSubscription
    from shop.accounts.services import consent_set

    switch_on(T.POINTS_EXPIRY)
    consent_set(user=shopper, channel="onsite", given=True, source="staff")
    consent_set(user=shopper, channel="push", given=True, source="staff")
    PushSubscription.objects.create(user=shopper, endpoint="https://fcm.googleapis.com/x", p256dh="k", auth="a")
    account = Account.objects.create(user=shopper)
    ExpiryNotice.objects.create(account=account, points=500, first_expiry=at(days=10), covers_until=at(days=20))

    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    assert flows.scan_points_expiry(now=noon) == 1
    assert flows.scan_points_expiry(now=noon) == 0
    tick(noon + dt.timedelta(minutes=1))
    tick(noon + dt.timedelta(minutes=2))  # one step a tick: the second goes the next minute

    sent = dict(Message.objects.values_list("channel", "status"))
    assert sent == {"onsite": "sent", "push": "sent"}
    assert mail.outbox == []  # the email is loyalty's own reminder
    assert all("500 points expire" in n["payload"]["body"] for n in push_channel.outbox)


def test_a_step_of_a_flow_switched_off_is_not_sent(shopper):
    flow = switch_on(T.ABANDONED_CART)
    cart_of(shopper, now=START)
    flows.runs_advance(now=at(minutes=61))
    Flow.objects.filter(pk=flow.pk).update(enabled=False)

    services.message_send(message_id=Message.objects.get().pk, now=at(minutes=62))

    assert mail.outbox == []
    assert Message.objects.get().skip_reason == "flow off"


def test_two_ticks_at_once_write_a_step_once(shopper):
    switch_on(T.ABANDONED_CART)
    cart_of(shopper, now=START)

    flows.runs_advance(now=at(minutes=61))
    run = FlowRun.objects.get()
    FlowRun.objects.filter(pk=run.pk).update(next_position=1, next_at=at(minutes=60))  # a stale second tick
    flows.runs_advance(now=at(minutes=61))

    assert Message.objects.count() == 1
    assert FlowStep.objects.filter(messages__isnull=False).count() == 1
