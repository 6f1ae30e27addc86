"""The orders admin: the list (filters, search, stats) and the per-order actions staff take."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from shop.cart.models import Cart
from shop.orders import services
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order, OrderEmail
from shop.orders.payment import gateway
from shop.payments.models import Refund
from tests.factories import CartFactory, CartLineFactory, ProductFactory
from tests.shop.payments.stripe_guard import guard_stripe_calls

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stripe_outside_transactions(monkeypatch):
    """No Stripe call from the admin actions inside a transaction or row lock (tests/shop/payments/stripe_guard.py)."""
    offences = guard_stripe_calls(monkeypatch)
    yield
    assert not offences


ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass Lamp", price=Decimal("30.00"), stock=5)


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def place(*, product, user=None, email="buyer@example.org", quantity=1) -> Order:
    cart = Cart.objects.get_or_create(user=user)[0] if user else CartFactory(user=None)
    CartLineFactory(cart=cart, product=product, quantity=quantity)
    order, _created = checkout_place(cart=cart, user=user, email=email, address=ADDRESS, shipping_method="standard")
    return order


def paid(order: Order) -> Order:
    """Paid as the webhook would record it (no Stripe needed for what follows)."""
    services.order_mark_paid(order_id=order.pk, amount=order.total_money, reference="pi_test")
    order.refresh_from_db()
    return order


CANCELLED_ONE = "1 order cancelled: its stock is back on sale, and its payment, if any, is refunded."


def admin_url(name: str, order: Order) -> str:
    return reverse(f"admin:orders_order_{name}", args=[order.pk])


# The list


def test_staff_sees_the_orders_with_the_stats_line(admin_client, lamp):
    unpaid = place(product=lamp, email="unpaid@example.org")
    done = paid(place(product=lamp, email="paid@example.org"))

    response = admin_client.get(reverse("admin:orders_order_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert unpaid.number in html and done.number in html
    assert "2 orders, 1 paid" in html
    assert "revenue $35.00" in html
    assert response.context["stats"] == {
        "orders": 2,
        "paid": 1,
        "revenue": Decimal("35.00"),
        "refunded": Decimal("0.00"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "paid"}, ["paid"]),
        ({"status__exact": "pending_payment"}, ["unpaid"]),
        ({"paid": "yes"}, ["paid"]),
        ({"paid": "no"}, ["unpaid"]),
        ({"placed_at__gte": "2000-01-01 00:00:00+00:00"}, ["paid", "unpaid"]),
        ({"placed_at__lt": "2000-01-01 00:00:00+00:00"}, []),
    ],
)
def test_the_list_filters_by_status_paid_and_date(admin_client, lamp, query, expected):
    orders = {"unpaid": place(product=lamp), "paid": paid(place(product=lamp))}

    response = admin_client.get(reverse("admin:orders_order_changelist"), query)

    assert response.status_code == 200
    shown = {o.number for o in response.context["cl"].result_list}
    assert shown == {orders[name].number for name in expected}
    assert response.context["stats"]["orders"] == len(expected), "the stats follow the filters"


def test_the_list_searches_by_number_and_email(admin_client, lamp):
    ada = place(product=lamp, email="ada@example.org")
    bob = place(product=lamp, email="bob@example.org")
    url = reverse("admin:orders_order_changelist")

    by_number = admin_client.get(url, {"q": ada.number})
    by_email = admin_client.get(url, {"q": "bob@example"})

    assert [o.number for o in by_number.context["cl"].result_list] == [ada.number]
    assert [o.number for o in by_email.context["cl"].result_list] == [bob.number]


def test_the_order_page_offers_the_actions_that_fit_its_status(admin_client, lamp):
    order = paid(place(product=lamp))

    html = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert admin_url("ship", order) in html
    assert admin_url("refund", order) in html
    assert admin_url("cancel", order) in html
    assert admin_url("deliver", order) not in html


# Ship, deliver, cancel


def test_shipping_a_paid_order_records_carrier_tracking_actor_and_queues_the_email(
    admin_client, staff, lamp, django_capture_on_commit_callbacks
):
    order = paid(place(product=lamp, email="ada@example.org"))
    form = admin_client.get(admin_url("ship", order))
    assert form.status_code == 200
    assert "Mark shipped" in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(admin_url("ship", order), {"carrier": "UPS", "tracking_number": "1Z999AA1"})

    assert response.status_code == 302
    assert response.url == reverse("admin:orders_order_change", args=[order.pk])
    page = admin_client.get(response.url).content.decode()
    assert f"Order {order.number} marked shipped with UPS, tracking number 1Z999AA1." in page
    assert "Done:" not in page
    order.refresh_from_db()
    assert order.status == "shipped"
    assert (order.carrier, order.tracking_number) == ("UPS", "1Z999AA1")
    event = order.events.get(kind="shipped")
    assert event.actor == staff
    assert event.data == {"carrier": "UPS", "tracking_number": "1Z999AA1"}
    email = OrderEmail.objects.get(order=order, kind="shipped")
    assert email.sent_at is not None, "queued after commit and sent by the (eager) task"
    assert [m.to for m in mail.outbox if "1Z999AA1" in m.body] == [["ada@example.org"]]


def test_the_ship_form_requires_carrier_and_tracking(admin_client, lamp):
    order = paid(place(product=lamp))

    response = admin_client.post(admin_url("ship", order), {"carrier": "", "tracking_number": ""})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"carrier", "tracking_number"}
    order.refresh_from_db()
    assert order.status == "paid"


def test_an_unpaid_order_cannot_be_shipped(admin_client, lamp):
    order = place(product=lamp)

    response = admin_client.post(admin_url("ship", order), {"carrier": "UPS", "tracking_number": "1Z"})

    assert response.status_code == 400
    assert "Only paid orders can be shipped." in response.content.decode()
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert not OrderEmail.objects.filter(kind="shipped").exists()


def test_delivering_a_shipped_order(admin_client, staff, lamp):
    order = paid(place(product=lamp))
    services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z")

    response = admin_client.post(admin_url("deliver", order), follow=True)

    assert response.status_code == 200
    assert "1 order marked delivered." in response.content.decode()
    order.refresh_from_db()
    assert order.status == "delivered"
    assert order.events.get(kind="delivered").actor == staff


def test_delivering_a_paid_but_unshipped_order_is_refused_with_a_message(admin_client, lamp):
    order = paid(place(product=lamp))

    response = admin_client.post(admin_url("deliver", order), follow=True)

    assert f"Order {order.number} was not changed: Only shipped orders can be marked delivered." in (
        response.content.decode()
    )
    order.refresh_from_db()
    assert order.status == "paid"


def test_deliver_and_cancel_ignore_a_get(admin_client, lamp):
    order = place(product=lamp)

    assert admin_client.get(admin_url("cancel", order)).status_code == 302
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_cancelling_an_unpaid_order_gives_the_stock_back(admin_client, staff, lamp):
    order = place(product=lamp, quantity=2)
    lamp.refresh_from_db()
    assert lamp.stock == 3

    response = admin_client.post(admin_url("cancel", order), follow=True)

    assert CANCELLED_ONE in response.content.decode()
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.events.get(kind="cancelled").actor == staff
    lamp.refresh_from_db()
    assert lamp.stock == 5


def test_cancelling_twice_gives_the_stock_back_once(admin_client, lamp):
    order = place(product=lamp, quantity=2)

    admin_client.post(admin_url("cancel", order))
    second = admin_client.post(admin_url("cancel", order), follow=True)

    assert "cannot be cancelled" in second.content.decode()
    lamp.refresh_from_db()
    assert lamp.stock == 5


def test_the_bulk_actions_deliver_and_cancel_the_selected_orders(admin_client, lamp):
    shipped = paid(place(product=lamp))
    services.order_ship(order_id=shipped.pk, carrier="UPS", tracking_number="1Z")
    unpaid = place(product=lamp)
    url = reverse("admin:orders_order_changelist")

    admin_client.post(url, {"action": "mark_delivered", "_selected_action": [shipped.pk]})
    response = admin_client.post(url, {"action": "cancel_orders", "_selected_action": [unpaid.pk]}, follow=True)

    assert CANCELLED_ONE in response.content.decode()
    shipped.refresh_from_db()
    unpaid.refresh_from_db()
    assert (shipped.status, unpaid.status) == ("delivered", "cancelled")
    lamp.refresh_from_db()
    assert lamp.stock == 4, "the cancelled order's lamp came back; the delivered one did not"


# Refund through Stripe (localstripe)


def test_a_partial_refund_goes_through_stripe_and_is_recorded(admin_client, staff, lamp, localstripe):
    order = place(product=lamp, email="ada@example.org")
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")
    order.refresh_from_db()
    assert order.status == "paid"
    form = admin_client.get(admin_url("refund", order))
    assert "Refund (at most $35.00)" in form.content.decode()
    assert form.context["form"].initial == {"amount": Decimal("35.00")}

    response = admin_client.post(admin_url("refund", order), {"amount": "10.00", "reason": "Scratched base"})

    assert response.status_code == 302
    assert f"$10.00 refunded on order {order.number}." in admin_client.get(response.url).content.decode()
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("10.00")
    assert order.status == "paid", "a partial refund keeps the order open"
    refund = Refund.objects.get(order=order)
    assert refund.refund_id.startswith("re_")
    assert (refund.amount, refund.reason, refund.created_by) == (Decimal("10.00"), "Scratched base", staff)
    event = order.events.get(kind="partially_refunded")
    assert (event.actor, event.message) == (staff, "Scratched base")
    assert OrderEmail.objects.filter(order=order, kind="refunded", reference=refund.refund_id).exists()


def test_a_refund_above_what_is_left_is_refused(admin_client, lamp, localstripe):
    order = place(product=lamp)
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")

    response = admin_client.post(admin_url("refund", order), {"amount": "35.01", "reason": ""})

    assert response.status_code == 400
    assert "A refund must be more than zero and at most $35.00." in response.content.decode()
    order.refresh_from_db()
    assert order.amount_refunded == 0
    assert not Refund.objects.exists()


def test_the_rest_refunded_closes_the_order(admin_client, lamp, localstripe):
    order = place(product=lamp)
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")

    admin_client.post(admin_url("refund", order), {"amount": "10.00", "reason": ""})
    admin_client.post(admin_url("refund", order), {"amount": "25.00", "reason": ""})

    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.amount_refunded == Decimal("35.00")
    assert Refund.objects.filter(order=order).count() == 2


def test_two_refunds_that_floating_point_adds_wrong_close_the_order_and_the_webhook_is_not_dropped(
    admin_client, localstripe, settings, sign_stripe_event
):
    """8.97 then 8.98 of 17.95: exact, the order is refunded, and Stripe's charge.refunded is handled, not dropped."""
    from shop.payments.stripe_gateway import client as stripe_client

    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Free", "price": "0"}}
    order = place(product=ProductFactory(price=Decimal("17.95"), stock=5))
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")

    first = admin_client.post(admin_url("refund", order), {"amount": "8.97", "reason": ""})
    second = admin_client.post(admin_url("refund", order), {"amount": "8.98", "reason": ""})

    assert (first.status_code, second.status_code) == (302, 302)
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("refunded", Decimal("17.95"))
    intent = order.payments.get().intent_id
    event = {
        "id": "evt_charge_refunded",
        "type": "charge.refunded",
        "data": {"object": {"id": "ch_1", "payment_intent": intent}},
    }
    body, signature = sign_stripe_event(event)
    response = admin_client.post(
        "/api/v1/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert (response.status_code, response.json()["detail"]) == (200, "0 refund(s) recorded")  # both known already
    assert sorted(r.amount for r in stripe_client().v1.refunds.list(params={"payment_intent": intent}).data) == [
        897,
        898,
    ]
    assert Refund.objects.filter(order=order, status="succeeded").count() == 2


def test_a_refund_made_at_stripe_completing_the_total_is_recorded_from_the_webhook(
    admin_client, localstripe, settings, sign_stripe_event
):
    """The second part refunded in Stripe's dashboard: the webhook records it, exactly, and closes the order."""
    from shop.payments.stripe_gateway import client as stripe_client

    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Free", "price": "0"}}
    order = place(product=ProductFactory(price=Decimal("17.95"), stock=5))
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")
    admin_client.post(admin_url("refund", order), {"amount": "8.97", "reason": ""})
    intent = order.payments.get().intent_id
    stripe_client().v1.refunds.create(params={"payment_intent": intent, "amount": 898})

    body, signature = sign_stripe_event(
        {"id": "evt_rest", "type": "charge.refunded", "data": {"object": {"id": "ch_1", "payment_intent": intent}}}
    )
    response = admin_client.post(
        "/api/v1/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )

    assert (response.status_code, response.json()["detail"]) == (200, "1 refund(s) recorded")
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == ("refunded", Decimal("17.95"))


def test_a_refund_while_stripe_is_unreachable_is_saved_and_says_so(admin_client, lamp, localstripe, monkeypatch):
    import stripe

    from shop.payments.stripe_gateway import client as stripe_client

    order = place(product=lamp)
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")

    def down(*args, **kwargs):
        raise stripe.APIConnectionError("Stripe is unreachable")

    monkeypatch.setattr(stripe_client().v1.refunds, "create", down)

    response = admin_client.post(admin_url("refund", order), {"amount": "10.00", "reason": ""}, follow=True)
    again = admin_client.post(admin_url("refund", order), {"amount": "30.00", "reason": ""})

    assert response.status_code == 200
    assert "will be sent automatically" in response.content.decode()
    assert again.status_code == 400
    assert "at most $25.00" in again.content.decode()  # the saved refund counts
    row = Refund.objects.get(order=order)
    assert (row.status, row.amount, row.attempts) == ("requested", Decimal("10.00"), 1)


def test_cancelling_a_paid_order_while_stripe_is_unreachable_cancels_and_keeps_the_refund(
    admin_client, lamp, localstripe, monkeypatch
):
    import stripe

    from shop.payments.stripe_gateway import client as stripe_client

    order = place(product=lamp)
    gateway().confirm_payment(order=order, payment_method="pm_card_visa")

    def down(*args, **kwargs):
        raise stripe.APIConnectionError("Stripe is unreachable")

    monkeypatch.setattr(stripe_client().v1.refunds, "create", down)

    response = admin_client.post(admin_url("cancel", order), follow=True)

    assert "will be sent automatically" in response.content.decode()
    order.refresh_from_db()
    assert order.status == "cancelled"
    row = Refund.objects.get(order=order)
    assert (row.status, row.amount, row.keep_status) == ("requested", Decimal("35.00"), True)


# Who may


@pytest.mark.parametrize("name", ["ship", "refund", "deliver", "cancel"])
def test_a_customer_cannot_reach_the_order_actions(client, customer, lamp, name):
    order = paid(place(product=lamp, user=customer, email=customer.email))
    client.force_login(customer)

    get = client.get(admin_url(name, order))
    post = client.post(admin_url(name, order), {"carrier": "X", "tracking_number": "1", "amount": "35.00"})

    for response in (get, post):
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.events.count() == 2


def test_a_customer_cannot_see_the_orders_list(client, customer):
    client.force_login(customer)

    response = client.get(reverse("admin:orders_order_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# The order page is a record


def test_the_order_page_has_no_save_button_and_shows_money_with_its_currency(admin_client, lamp):
    order = paid(place(product=lamp))

    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html and 'name="_continue"' not in html and 'name="_addanother"' not in html
    assert "$35.00" in html  # the total: $30.00 and $5.00 shipping
    assert admin_url("ship", order) in html, "its actions are still there"


def test_a_post_to_the_order_page_changes_nothing(admin_client, lamp):
    order = paid(place(product=lamp))

    response = admin_client.post(reverse("admin:orders_order_change", args=[order.pk]), {"status": "cancelled"})

    assert response.status_code == 405
    order.refresh_from_db()
    assert order.status == "paid"


def test_the_adjustments_say_what_their_references_mean(admin_client, lamp):
    from marketing.discounts.models import DiscountCode, Promotion

    order = paid(place(product=lamp))
    promotion = Promotion.objects.create(name="Yalda night", kind="percentage", value=Decimal("50"))
    DiscountCode.objects.create(promotion=promotion, code="YALDA50")
    order.adjustments.create(kind="discount", label="Yalda", amount=-5, source="discounts",
                             reference=f"{promotion.pk}|YALDA50")  # fmt: skip
    order.adjustments.create(kind="discount", label="Auto", amount=-1, source="discounts", reference=f"{promotion.pk}|")
    order.adjustments.create(
        kind="points", label="Points", amount=-28, source="loyalty-points", reference="points:2848"
    )
    order.adjustments.create(kind="discount", label="Gone", amount=-1, source="discounts", reference="999999|OLD")

    html = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    promotion_url = reverse("admin:discounts_promotion_change", args=[promotion.pk])
    assert f'Code YALDA50 (promotion <a href="{promotion_url}">“Yalda night”</a>)' in html
    assert f'Automatic promotion <a href="{promotion_url}">“Yalda night”</a>' in html
    assert "2,848 points spent" in html
    assert re.search(r'class="field-kind_text">\s*<p>Points</p>', html), "the kind in words"
    assert "Code OLD (a promotion since deleted)" in html
    assert "Shipping method: Standard delivery" in html
    for raw in (f"{promotion.pk}|YALDA50", "points:2848", "999999|OLD", "loyalty-points"):
        assert raw not in html


def test_the_order_page_reads_its_references_in_a_fixed_number_of_queries(
    admin_client, lamp, django_assert_max_num_queries
):
    from marketing.discounts.models import Promotion

    order = paid(place(product=lamp))
    for n in range(10):
        promotion = Promotion.objects.create(name=f"P{n}", kind="percentage", value=Decimal("5"))
        order.adjustments.create(
            kind="discount", label="x", amount=-1, source="discounts", reference=f"{promotion.pk}|"
        )
    url = reverse("admin:orders_order_change", args=[order.pk])
    admin_client.get(url)

    # The user, the order, its lines, adjustments (and their promotions: one query), events and emails.
    with django_assert_max_num_queries(7):
        admin_client.get(url)


# The order emails' list


EMAILS = reverse("admin:orders_orderemail_changelist")


def held_back(order: Order, *, error="[Errno 111] Connection refused", days=0) -> OrderEmail:
    """The order's confirmation, as an outage left it: tried, failed, resting."""
    import datetime as dt

    from django.utils import timezone

    email = OrderEmail.objects.get(order=order, kind="confirmation")
    OrderEmail.objects.filter(pk=email.pk).update(
        sent_at=None,
        attempts=3,
        last_error=error,
        claimed_until=timezone.now() + dt.timedelta(hours=1),
        created_at=timezone.now() - dt.timedelta(days=days),
    )
    return email


def test_staff_see_the_emails_an_outage_held_back_and_send_them_again(admin_client, lamp):
    stuck = held_back(paid(place(product=lamp, email="stuck@example.org")))
    paid(place(product=lamp, email="fine@example.org"))
    mail.outbox.clear()

    failing = admin_client.get(EMAILS, {"delivery": "failing"}).content.decode()
    assert "stuck@example.org" in failing and "fine@example.org" not in failing
    assert "Connection refused" in failing

    response = admin_client.post(
        EMAILS, {"action": "send_again", "_selected_action": [stuck.pk], "delivery": "failing"}, follow=True
    )

    assert "1 email is being sent again." in response.content.decode()
    stuck.refresh_from_db()
    assert stuck.sent_at is not None and stuck.attempts == 4
    assert [m.to for m in mail.outbox] == [["stuck@example.org"]]


def test_an_email_older_than_the_sweep_looks_is_listed_as_given_up(admin_client, lamp):
    held_back(paid(place(product=lamp, email="old@example.org")), days=8)
    held_back(paid(place(product=lamp, email="recent@example.org")))

    given_up = admin_client.get(EMAILS, {"delivery": "given_up"}).content.decode()

    assert "old@example.org" in given_up and "recent@example.org" not in given_up


def test_the_email_list_costs_the_same_queries_for_2_or_12_emails(admin_client, lamp, django_assert_max_num_queries):
    lamp.__class__.objects.filter(pk=lamp.pk).update(stock=20)
    lamp.variants.update(stock=20)
    for n in range(2):
        paid(place(product=lamp, email=f"a{n}@example.org"))
    with django_assert_max_num_queries(12) as few:
        admin_client.get(EMAILS)
    for n in range(10):
        paid(place(product=lamp, email=f"b{n}@example.org"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(EMAILS)


def test_only_staff_who_may_change_orders_may_send_again(client, lamp):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_orderemail"))
    client.force_login(viewer)

    page = client.get(EMAILS)

    assert page.status_code == 200
    assert "send_again" not in page.content.decode()
