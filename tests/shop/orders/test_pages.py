"""The storefront checkout (details -> review -> pay), my orders, the order page and the guest lookup."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.cart.models import Cart, CartLine
from shop.orders import services
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from tests.factories import AddressFactory, CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

GUEST_DETAILS = {
    "email": "Guest@Example.org",
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
ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass Lamp", price=Decimal("30.00"), stock=3)


@pytest.fixture
def guest_cart(client, lamp):
    """A guest with one lamp in the cart (added through the cart page, so the session holds the cart)."""
    response = client.post(reverse("cart:add"), {"product": lamp.pk, "quantity": 1})
    assert response.status_code == 302
    return client


def content(response) -> str:
    return response.content.decode()


def review_key(response) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', content(response)).group(1)


def place_order(*, user, product, quantity=1, email="owner@example.org") -> Order:
    cart = Cart.objects.get_or_create(user=user)[0] if user else CartFactory(user=None)
    CartLineFactory(cart=cart, product=product, quantity=quantity)
    order, _created = checkout_place(cart=cart, user=user, email=email, address=ADDRESS, shipping_method="standard")
    return order


# Details


def test_a_guest_fills_the_details_and_reaches_the_review(guest_cart):
    page = guest_cart.get(reverse("orders:checkout"))
    assert page.status_code == 200
    assert "Checking out as a guest." in content(page)
    assert 'name="saved_address"' not in content(page)

    response = guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)

    assert response.status_code == 302
    assert response.url == reverse("orders:review")
    details = guest_cart.session["checkout"]
    assert details["email"] == "Guest@Example.org"
    assert details["address"]["name"] == "Grace Hopper"
    assert details["shipping_method"] == "standard"


def test_a_customer_is_offered_their_saved_address_and_can_ship_to_it(client, customer, lamp):
    home = AddressFactory(user=customer, full_name="Ada Home", line1="5 Home Street", is_default=True)
    CartLineFactory(cart=CartFactory(user=customer), product=lamp)
    client.force_login(customer)

    page = client.get(reverse("orders:checkout"))

    assert page.status_code == 200
    html = content(page)
    assert "Ada Home, 5 Home Street" in html
    assert re.search(rf'value="{home.pk}"[^>]*checked', html), "the default address is preselected"
    assert 'value="owner@example.org"' in html, "the account's email is filled in"

    response = client.post(
        reverse("orders:checkout"),
        {"email": customer.email, "saved_address": str(home.pk), "shipping_method": "express"},
    )
    assert response.status_code == 302
    review = client.get(reverse("orders:review"))
    assert review.status_code == 200
    assert "Ada Home" in content(review)
    assert "5 Home Street" in content(review)
    assert "Express delivery (1–2 days)" in content(review)


def test_missing_details_answer_400_with_a_message_per_field(guest_cart):
    response = guest_cart.post(reverse("orders:checkout"), {"email": "not-an-email", "shipping_method": "standard"})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"email", "name", "line1", "city", "postal_code", "country"}
    html = content(response)
    assert "Enter a valid email address." in html
    assert html.count("This field is required.") == 5
    assert "checkout" not in guest_cart.session


def test_someone_elses_saved_address_is_refused(client, customer, stranger, lamp):
    AddressFactory(user=customer, is_default=True)
    theirs = AddressFactory(user=stranger)
    CartLineFactory(cart=CartFactory(user=customer), product=lamp)
    client.force_login(customer)

    response = client.post(
        reverse("orders:checkout"),
        {"email": customer.email, "saved_address": str(theirs.pk), "shipping_method": "standard"},
    )

    assert response.status_code == 400
    assert "saved_address" in response.context["form"].errors


def test_an_empty_cart_goes_back_to_the_cart_page(client):
    response = client.get(reverse("orders:checkout"), follow=True)

    assert response.redirect_chain == [(reverse("cart:detail"), 302)]
    assert "Your cart is empty." in content(response)


def test_the_cart_page_links_to_the_checkout(guest_cart):
    html = content(guest_cart.get(reverse("cart:detail")))

    assert re.search(rf'<a href="{reverse("orders:checkout")}" class="button primary">Proceed to checkout</a>', html)


# Review and placing the order


def test_the_review_shows_subtotal_shipping_and_total(guest_cart):
    guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)

    response = guest_cart.get(reverse("orders:review"))

    assert response.status_code == 200
    html = content(response)
    # 30.00 of goods is under the free-shipping threshold: standard shipping costs 5.00.
    assert re.search(r"<dt>Subtotal</dt><dd>\$30\.00</dd>", html)
    assert re.search(r"<dt>Standard delivery \(3–5 days\)</dt><dd>\$5\.00</dd>", html)
    assert re.search(r'<dt class="total">Total</dt><dd class="total">\$35\.00</dd>', html)
    assert "1 × Brass Lamp" in html
    assert "Place order and pay $35.00" in html
    assert "Grace Hopper" in html and "Guest@Example.org" in html
    assert re.fullmatch(r"[0-9a-f]{32}", review_key(response))


def test_the_review_without_details_goes_back_to_the_details(guest_cart):
    response = guest_cart.get(reverse("orders:review"))

    assert response.status_code == 302
    assert response.url == reverse("orders:checkout")


def test_placing_the_order_takes_the_stock_and_empties_the_cart(guest_cart, lamp):
    guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)
    key = review_key(guest_cart.get(reverse("orders:review")))

    response = guest_cart.post(reverse("orders:review"), {"idempotency_key": key})

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("orders:pay", args=[order.number])
    assert order.status == "pending_payment"
    assert order.email == "guest@example.org"
    assert order.user is None
    assert (order.subtotal, order.shipping_total, order.total) == (Decimal("30.00"), Decimal("5.00"), Decimal("35.00"))
    assert [(line.name, line.quantity) for line in order.lines.all()] == [("Brass Lamp", 1)]
    assert order.shipping_name == "Grace Hopper"
    assert order.idempotency_key == key
    lamp.refresh_from_db()
    assert lamp.stock == 2
    assert not CartLine.objects.exists()
    assert order.number in guest_cart.session["guest_orders"]


def test_a_double_click_on_place_order_creates_one_order(guest_cart, lamp):
    guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)
    key = review_key(guest_cart.get(reverse("orders:review")))

    first = guest_cart.post(reverse("orders:review"), {"idempotency_key": key})
    second = guest_cart.post(reverse("orders:review"), {"idempotency_key": key})

    order = Order.objects.get()
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == reverse("orders:pay", args=[order.number])
    lamp.refresh_from_db()
    assert lamp.stock == 2, "the stock was taken once"


def test_a_product_sold_out_before_placing_sends_back_to_the_cart_with_a_message(guest_cart, lamp):
    guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)
    key = review_key(guest_cart.get(reverse("orders:review")))
    lamp.stock = 0
    lamp.save(update_fields=["stock"])

    response = guest_cart.post(reverse("orders:review"), {"idempotency_key": key}, follow=True)

    assert response.redirect_chain == [(reverse("cart:detail"), 302)]
    assert "“Brass Lamp” just sold out. Remove it from your cart to continue." in content(response)
    assert not Order.objects.exists()
    assert CartLine.objects.filter(product=lamp).count() == 1, "the cart is kept"
    lamp.refresh_from_db()
    assert lamp.stock == 0


def test_less_stock_than_wanted_says_how_many_are_left(guest_cart, lamp):
    guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)
    CartLine.objects.filter(product=lamp).update(quantity=3)
    key = review_key(guest_cart.get(reverse("orders:review")))
    lamp.stock = 2
    lamp.save(update_fields=["stock"])

    response = guest_cart.post(reverse("orders:review"), {"idempotency_key": key}, follow=True)

    assert "Only 2 of “Brass Lamp” are left; lower the quantity to continue." in content(response)
    assert not Order.objects.exists()
    lamp.refresh_from_db()
    assert lamp.stock == 2


# Paying


def test_the_pay_page_shows_the_card_form_to_the_guest_who_placed_the_order(guest_cart, localstripe):
    guest_cart.post(reverse("orders:checkout"), GUEST_DETAILS)
    key = review_key(guest_cart.get(reverse("orders:review")))
    pay_url = guest_cart.post(reverse("orders:review"), {"idempotency_key": key}).url

    response = guest_cart.get(pay_url)

    assert response.status_code == 200
    html = content(response)
    assert f'<script src="{localstripe}/js.stripe.com/v3/"></script>' in html
    assert (
        'id="card-fields"' in html
    )  # offline: the store's own labelled fields (tests/shop/orders/test_checkout_pages_look.py)
    assert "Pay $35.00" in html
    assert Order.objects.get().payments.count() == 1


def test_the_pay_page_is_not_found_for_a_stranger_or_another_visitor(client, customer, stranger, lamp):
    order = place_order(user=customer, product=lamp)
    url = reverse("orders:pay", args=[order.number])

    assert client.get(url).status_code == 404, "an anonymous visitor"
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.post(reverse("orders:pay_confirm", args=[order.number]), "{}", "application/json").status_code == 404


def test_a_paid_order_pay_page_goes_to_the_order(client, customer, lamp):
    order = place_order(user=customer, product=lamp)
    services.order_mark_paid(order_id=order.pk, amount=order.total_money)
    client.force_login(customer)

    response = client.get(reverse("orders:pay", args=[order.number]))

    assert response.status_code == 302
    assert response.url == reverse("orders:detail", args=[order.number])


# My orders and the order page


def _my_orders_queries(client, customer, n) -> tuple[int, str]:
    product = ProductFactory(stock=100)
    for _ in range(n):
        place_order(user=customer, product=product, quantity=2)
    client.force_login(customer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("orders:mine"))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == n
    return len(queries), content(response)


def test_my_orders_lists_only_mine_newest_first(client, customer, stranger, lamp):
    older = place_order(user=customer, product=lamp)
    newer = place_order(user=customer, product=lamp)
    theirs = place_order(user=stranger, product=lamp, email="stranger@example.org")
    client.force_login(customer)

    response = client.get(reverse("orders:mine"))

    html = content(response)
    assert [o.number for o in response.context["page"].object_list] == [newer.number, older.number]
    assert theirs.number not in html
    assert "Awaiting payment" in html
    assert "$35.00" in html


def test_my_orders_runs_the_same_number_of_queries_for_2_or_10_orders(settings, client, customer, stranger):
    settings.SHOP_MAX_OPEN_ORDERS = 0  # ten unpaid orders at once: past the limit against hoarding
    client.get("/pages/shipping/")  # what every page shows (the menu, the footer's pages) is read once
    two, _ = _my_orders_queries(client, customer, 2)
    Order.objects.all().delete()
    ten, html = _my_orders_queries(client, customer, 10)

    assert two == ten
    assert html.count("status-pending_payment") == 10


def test_my_orders_needs_a_login(client):
    response = client.get(reverse("orders:mine"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_order_page_shows_the_timeline(client, customer, lamp):
    order = place_order(user=customer, product=lamp)
    services.order_mark_paid(order_id=order.pk, amount=order.total_money)
    services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z999")
    services.order_event(order=order, kind="note", message="internal: customer called")
    client.force_login(customer)

    response = client.get(reverse("orders:detail", args=[order.number]))

    assert response.status_code == 200
    html = content(response)
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r"<strong>(.*?)</strong>", timeline) == ["Order placed", "Payment received", "Shipped"]
    assert "internal: customer called" not in html, "staff notes stay out of the customer's timeline"
    assert "1Z999" in html
    assert "Ada Lovelace" in html
    assert re.search(r'<dd class="total">\$35\.00</dd>', html)


def test_the_order_page_is_not_found_for_a_stranger_nor_for_staff(client, customer, stranger, staff, lamp):
    """Staff see orders in the admin, with its permissions: the storefront's order pages pay and cancel
    as the customer, so staff are strangers there."""
    order = place_order(user=customer, product=lamp)

    for who in (stranger, staff):
        client.force_login(who)
        for name in ("orders:detail", "orders:pay"):
            assert client.get(reverse(name, args=[order.number])).status_code == 404, (who, name)
        client.post(reverse("orders:cancel", args=[order.number]))
    order.refresh_from_db()
    assert order.status == "pending_payment"


# Guest lookup


def test_a_guest_finds_an_order_by_number_and_email(client, lamp):
    order = place_order(user=None, product=lamp, email="guest@example.org")
    url = reverse("orders:detail", args=[order.number])
    assert client.get(url).status_code == 404

    response = client.post(reverse("orders:lookup"), {"number": order.number.lower(), "email": "GUEST@example.org"})

    assert response.status_code == 302
    assert response.url == url
    assert client.get(url).status_code == 200


def test_a_wrong_email_finds_nothing_and_says_so(client, lamp):
    order = place_order(user=None, product=lamp, email="guest@example.org")

    response = client.post(reverse("orders:lookup"), {"number": order.number, "email": "other@example.org"})

    assert response.status_code == 404
    assert "No order matches that number and email." in content(response)
    assert client.get(reverse("orders:detail", args=[order.number])).status_code == 404


def test_an_incomplete_lookup_form_answers_400(client):
    response = client.post(reverse("orders:lookup"), {"number": "", "email": "nope"})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"number", "email"}


def test_the_lookup_is_rate_limited_after_10_misses(client, lamp):
    order = place_order(user=None, product=lamp, email="guest@example.org")
    for attempt in range(10):
        miss = client.post(reverse("orders:lookup"), {"number": f"NOPE{attempt}", "email": "guest@example.org"})
        assert miss.status_code == 404

    response = client.post(reverse("orders:lookup"), {"number": order.number, "email": "guest@example.org"})

    assert response.status_code == 429, "even the right answer waits once the limit is reached"
    assert "Too many attempts. Wait 15 minutes and try again." in content(response)
    assert client.get(reverse("orders:detail", args=[order.number])).status_code == 404
