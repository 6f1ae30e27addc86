"""The checkout's pages as a customer reads them: the review step's order, the card form, a declined
payment, the confirmation, tracking links and My orders on a phone."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from shop.orders.shipping import tracking_url
from tests.factories import CartFactory, CartLineFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")
DETAILS = {
    "email": "grace@example.org",
    "name": "Grace Hopper",
    "line1": "1 Compiler Lane",
    "line2": "",
    "city": "Arlington",
    "region": "VA",
    "postal_code": "22201",
    "country": "US",
    "phone": "",
    "shipping_method": "standard",
}


def content(response) -> str:
    return response.content.decode()


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass Lamp", price=Decimal("30.00"), stock=3)


def placed(user=None, *, lamp, status=None) -> Order:
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=lamp, quantity=1)
    order, _created = checkout_place(
        cart=cart,
        user=user,
        email=user.email if user else "grace@example.org",
        address=ADDRESS,
        shipping_method="standard",
    )
    if status:
        Order.objects.filter(pk=order.pk).update(status=status)
        order.refresh_from_db()
    return order


def as_its_guest(client, order) -> None:
    """The guest who placed it: their session remembers the order's number."""
    session = client.session
    session["guest_orders"] = [order.number]
    session.save()


def test_the_review_step_puts_the_place_order_button_after_every_form_that_changes_the_total(client, lamp):
    client.post(reverse("cart:add"), {"product": lamp.pk, "quantity": 1})
    client.post(reverse("orders:checkout"), DETAILS)

    html = content(client.get(reverse("orders:review")))

    button = html.index("Place order and pay $35.00")
    assert html.index('class="code-form"') < button
    assert html.index('<form method="post" class="place-order">') > html.index('class="code-form"')
    assert '<h2 id="review-panels-title">Discount code and points</h2>' in html


def test_the_offline_pay_page_has_labelled_card_fields_and_a_test_mode_hint(client, lamp, localstripe):
    order = placed(lamp=lamp)
    as_its_guest(client, order)

    html = content(client.get(reverse("orders:pay", args=[order.number])))

    for field, label in [
        ("card-number", "Card number"),
        ("card-expiry", "Expiry date"),
        ("card-cvc", "Security code (CVC)"),
        ("card-postal", "Postal code"),
    ]:
        assert re.search(rf'<label for="{field}">{re.escape(label)}', html), label
        assert re.search(rf'<input id="{field}"[^>]*>', html)
        assert not re.search(rf'<input id="{field}"[^>]*\bname=', html), "card details are never sent to the store"
    assert 'autocomplete="cc-number"' in html and 'autocomplete="cc-exp"' in html and 'autocomplete="cc-csc"' in html
    assert '4242 4242 4242 4242</span> pays; <span class="nowrap">4000 0000 0000 0341</span> is declined.' in html
    assert 'id="card-element"' not in html
    assert 'class="alert error" role="alert"' in html  # where a decline is said


def test_with_real_keys_the_pay_page_keeps_stripes_own_form(client, lamp, settings, monkeypatch):
    from shop.orders import views

    class Gateway:
        def create_payment(self, *, order):
            return type("Session", (), {"client_secret": "pi_secret", "status": "requires_payment_method"})()

    monkeypatch.setattr(views, "gateway", Gateway)
    settings.STRIPE_API_BASE = ""
    user = UserFactory()
    order = placed(user, lamp=lamp)
    client.force_login(user)

    html = content(client.get(reverse("orders:pay", args=[order.number])))

    assert 'id="card-element"' in html
    assert 'id="card-fields"' not in html
    assert "https://js.stripe.com/v3/" in html
    assert "Test mode" not in html


def test_a_declined_payment_is_said_in_the_error_style_on_the_order_page(client, lamp):
    user = UserFactory()
    order = placed(user, lamp=lamp, status="payment_failed")
    client.force_login(user)

    html = content(client.get(order.get_absolute_url()))

    alert = re.search(r'<div class="alert error" role="alert">.*?</div>', html, re.S).group(0)
    assert "Your payment was declined." in alert
    assert reverse("orders:pay", args=[order.number]) in alert
    assert '<div class="alert" role="status">' not in html  # not the neutral (green) banner


def test_an_order_waiting_for_payment_is_a_notice_not_a_success(client, lamp):
    user = UserFactory()
    order = placed(user, lamp=lamp)
    client.force_login(user)

    html = content(client.get(order.get_absolute_url()))

    assert '<div class="alert notice" role="status"><p>We are waiting for your payment.' in html


def test_the_confirmation_has_one_heading_the_points_it_earns_and_continue_shopping(client, lamp, settings):
    from tests.loyalty.helpers import rules

    settings.SHOP_ORDER_PANELS = ["loyalty/order_points.html"]  # as config/settings.py lists it
    rules(is_active=True, earn_rate=Decimal(5))
    user = UserFactory()
    order = placed(user, lamp=lamp, status="paid")
    client.force_login(user)

    html = content(client.get(order.get_absolute_url() + "?placed=1"))

    assert re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S) == ["Thank you! Your order is confirmed."]
    assert f"Order <strong>{order.number}</strong>" in html
    assert "This order earns you <strong>150 points</strong>, usable from" in html  # $30.00 of goods at 5 a dollar
    assert re.search(r'<a href="/(category|products?)/?[^"]*" class="button primary">Continue shopping</a>', html)


def test_a_guest_confirmation_says_no_points(client, lamp):
    order = placed(lamp=lamp, status="paid")
    as_its_guest(client, order)

    html = content(client.get(order.get_absolute_url() + "?placed=1"))

    assert "Thank you! Your order is confirmed." in html
    assert "earns you" not in html


@pytest.mark.parametrize(
    ("carrier", "number", "url"),
    [
        ("UPS", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
        ("FedEx Ground", "123456789012", "https://www.fedex.com/fedextrack/?trknbr=123456789012"),
        (
            "usps",
            " 9400 1000 0000 0000 0000 00 ",
            "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400%201000%200000%200000%200000%2000",
        ),
        (
            "DHL Express",
            "JD014600006281230000",
            "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=JD014600006281230000",
        ),
        ("Bob's Vans", "42", None),
        ("", "42", None),
        ("UPS", "", None),
    ],
)
def test_tracking_links_go_to_the_carriers_page_where_the_carrier_is_known(carrier, number, url):
    assert tracking_url(carrier, number) == url


def test_the_order_page_links_the_tracking_number(client, lamp):
    user = UserFactory()
    order = placed(user, lamp=lamp, status="shipped")
    Order.objects.filter(pk=order.pk).update(carrier="UPS", tracking_number="1Z999AA10123456784")
    client.force_login(user)

    html = content(client.get(order.get_absolute_url()))

    assert (
        '<a href="https://www.ups.com/track?tracknum=1Z999AA10123456784" rel="noopener noreferrer" target="_blank">'
        in html
    )

    Order.objects.filter(pk=order.pk).update(carrier="Bob's Vans")
    html = content(client.get(order.get_absolute_url()))
    assert "<strong>1Z999AA10123456784</strong>" in html
    assert "ups.com" not in html


def test_my_orders_label_every_value_for_the_phone_cards(client, django_assert_max_num_queries):
    user = UserFactory()
    for n in range(3):
        OrderFactory(user=user, number=f"BZTEST{n}", subtotal=Decimal("131.90"), placed_at=timezone.now())
    client.force_login(user)

    html = content(client.get(reverse("orders:mine")))

    assert '<table class="cart-table orders-table cards-on-phone" role="table">' in html
    rows = re.findall(r'<tr role="row">(.*?)</tr>', html, re.S)[1:]
    assert len(rows) == 3
    for row in rows:
        labels = re.findall(r'data-label="([^"]+)"', row)
        assert labels == ["Order", "Placed", "Items", "Total", "Status"]
    assert 'data-label="Total">$131.90</td>' in html
