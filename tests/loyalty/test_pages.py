"""The loyalty storefront: the cart's points panel and its views, the account panel, the points page,
and referral links."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.template.defaultfilters import date as date_format
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, CartPoints, Kind, LedgerEntry, Reason, Referral
from shop.orders.models import Order
from tests.factories import ProductFactory, UserFactory
from tests.loyalty.helpers import D, balance, cart_with, give, pay, place, rules

pytestmark = pytest.mark.django_db

CART = reverse("cart:detail")
APPLY = reverse("loyalty:cart_points_apply")
REMOVE = reverse("loyalty:cart_points_remove")
POINTS = reverse("loyalty:points")
PROFILE = reverse("accounts:profile")
REGISTER = reverse("accounts:register")


@pytest.fixture(autouse=True)
def _program():
    rules(
        is_active=True,
        earn_rate=D(5),
        redeem_rate=100,
        min_redeem_points=500,
        max_redeem_percent=50,
        pending_days=14,
        expiry_days=365,
        expiry_reminder_days=30,
        referral_discount_percent=10,
        referral_discount_max=D(20),
        referral_points=500,
    )


@pytest.fixture
def member(client, customer):
    """The customer, logged in, with a $40.00 cart."""
    cart_with(customer, "40.00")
    client.force_login(customer)
    return client


def html(response) -> str:
    return response.content.decode()


def panel(response) -> str:
    """The points panel's HTML only."""
    page = html(response)
    start = page.index('<section class="cart-panel points-panel"')
    return page[start : page.index("</section>", start)]


def text(fragment: str) -> str:
    """The panel's words, without tags and with spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment)).strip()


# --- the cart panel ---------------------------------------------------------------------------


def test_it_asks_a_visitor_to_log_in_to_earn_and_use_points(client):
    client.post(reverse("cart:add"), {"product": ProductFactory(price=D("40.00"), stock=5).pk, "quantity": 1})

    response = client.get(CART)

    assert response.status_code == 200
    assert f'<a href="{reverse("accounts:login")}?next=/cart/">Log in to earn and use points</a>' in panel(response)
    assert 'name="points"' not in panel(response)


def test_it_shows_a_member_their_points_the_form_and_what_the_order_earns(member, customer):
    give(customer, 1200)

    response = member.get(CART)

    shown = panel(response)
    assert "1,200 points available ($12.00)." in text(shown)
    assert '<label for="loyalty-points">Points to use</label>' in shown
    assert 'id="loyalty-points" type="number" name="points" inputmode="numeric" min="500" max="1200"' in shown
    assert f'action="{APPLY}" method="post"' in shown
    assert "Use the most I can (1,200 points)" in text(shown)
    assert "This order earns about 200 points once paid." in text(shown)  # $40 × 5


def test_it_shows_pending_points_and_until_when(member, customer):
    give(customer, 600)
    services.reward(user_id=customer.pk, reason=Reason.REVIEW, points=150, reference="review:1", pending=True)
    until = date_format(timezone.localdate() + dt.timedelta(days=14), "DATE_FORMAT")

    shown = text(panel(member.get(CART)))

    assert "600 points available ($6.00)." in shown
    assert f"150 points pending, usable from {until}." in shown


def test_it_hides_the_form_below_the_minimum_and_says_how_many_more_points_are_needed(member, customer):
    give(customer, 300)

    shown = panel(member.get(CART))

    assert "300 points available ($3.00)." in text(shown)
    assert "Collect 200 more points to use your points (at least 500 at a time)." in text(shown)
    assert 'name="points"' not in shown


def test_it_hides_the_form_while_the_program_is_paused(member, customer):
    give(customer, 1200)
    rules(is_active=False)

    shown = panel(member.get(CART))

    assert "Our loyalty program is paused: points cannot be used or earned right now." in text(shown)
    assert 'name="points"' not in shown
    assert "earns about" not in shown


def test_it_says_when_an_order_is_too_small_to_pay_with_points(client, customer):
    cart_with(customer, "8.00")
    give(customer, 1000)
    client.force_login(customer)

    shown = panel(client.get(CART))

    assert "Points pay at most 50% of an order ($4.00 here): too little for the minimum of 500 points." in text(shown)
    assert 'name="points"' not in shown


# --- applying and removing ----------------------------------------------------------------------


def test_it_applies_points_and_shows_the_saving(member, customer):
    give(customer, 1200)

    response = member.post(APPLY, {"points": "1000", "next": CART})

    assert response.status_code == 302
    assert response["Location"] == CART
    page = member.get(CART)
    assert "1,000 points used: $10.00 off." in html(page)
    assert "1,000 points: −$10.00" in text(panel(page))
    assert 'aria-label="Remove points from this order"' in panel(page)
    assert "<dt>1,000 points</dt><dd>-$10.00</dd>" in html(page)
    assert '<dd class="total">$30.00</dd>' in html(page)
    assert "This order earns about 150 points once paid." in text(panel(page))  # on the $30 paid in money
    assert CartPoints.objects.get().points == 1000
    assert CartPoints.objects.get().cart.user == customer
    assert balance(customer) == 1200, "points are only debited at checkout"


def test_use_the_most_i_can_takes_the_programs_share_of_the_order(member, customer):
    give(customer, 5000)
    assert "Use the most I can (2,000 points)" in text(panel(member.get(CART)))

    response = member.post(APPLY, {"most": "1", "points": "", "next": CART}, follow=True)

    assert response.status_code == 200
    assert "2,000 points used: $20.00 off." in html(response)
    assert CartPoints.objects.get().points == 2000


def test_it_removes_the_points(member, customer):
    give(customer, 1200)
    member.post(APPLY, {"points": "1000"}, follow=True)

    response = member.post(REMOVE, {"next": CART})

    assert response.status_code == 302
    assert response["Location"] == CART
    page = member.get(CART)
    assert "Points removed from your order." in html(page)
    assert "1,000 points" not in panel(page)
    assert "<dt>1,000 points</dt>" not in html(page)
    assert '<dd class="total">$40.00</dd>' in html(page)
    assert not CartPoints.objects.exists()


@pytest.mark.parametrize(
    "typed, message",
    [
        ("abc", "Enter a whole number of points."),
        ("", "Enter how many points to use."),
        ("-5", "Enter a number of points above zero."),
        ("12.5", "Enter a whole number of points."),
        ("99999999999999", "That is more points than anyone has."),
        ("400", "Use at least 500 points at a time."),
        ("1500", "You have 1,200 points available."),
    ],
)
def test_a_refused_value_is_a_400_with_the_reason_and_nothing_is_saved(member, customer, typed, message):
    give(customer, 1200)

    response = member.post(APPLY, {"points": typed, "next": CART})

    assert response.status_code == 400
    assert f'<div class="alert error" role="alert" id="cart-error"><p>{message}</p></div>' in html(response)
    assert 'aria-invalid="true"' in panel(response)
    assert not CartPoints.objects.exists()


def test_a_refused_value_keeps_points_already_on_the_cart(member, customer):
    give(customer, 1200)
    member.post(APPLY, {"points": "600"})

    response = member.post(APPLY, {"points": "5000"})

    assert response.status_code == 400
    assert CartPoints.objects.get().points == 600


def test_a_visitor_posting_points_is_asked_to_log_in(client):
    response = client.post(APPLY, {"points": "1000"})

    assert response.status_code == 400
    assert "Log in to use your points." in html(response)
    assert client.post(REMOVE).status_code == 400
    assert not CartPoints.objects.exists()


def test_an_empty_cart_takes_no_points(client, customer):
    give(customer, 1200)
    client.force_login(customer)

    response = client.post(APPLY, {"points": "1000"})

    assert response.status_code == 400
    assert "Your cart is empty: add something to use your points on." in html(response)
    assert not CartPoints.objects.exists()


def test_the_views_take_posts_only_with_a_csrf_token(customer):
    give(customer, 1200)
    cart_with(customer, "40.00")
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    assert client.get(APPLY).status_code == 405
    assert client.get(REMOVE).status_code == 405

    assert client.post(APPLY, {"points": "1000"}).status_code == 403
    assert not CartPoints.objects.exists()
    client.get(CART)
    token = client.cookies["csrftoken"].value
    assert client.post(APPLY, {"points": "1000", "csrfmiddlewaretoken": token}).status_code == 302
    assert CartPoints.objects.exists()


def test_it_never_goes_back_to_another_site(member, customer):
    give(customer, 1200)

    response = member.post(APPLY, {"points": "1000", "next": "https://evil.example.com/"})

    assert response["Location"] == CART


def test_the_cart_says_why_points_on_it_no_longer_apply(member, customer):
    give(customer, 1200)
    member.post(APPLY, {"points": "1000"})
    services.points_adjust(user=customer, points=-800, note="spent elsewhere", actor=UserFactory(is_staff=True))

    response = member.get(CART)

    shown = text(panel(response))
    assert "The 1,000 points on your cart do not apply." in shown
    assert "You have 400 points available now, fewer than the minimum of 500." in shown
    assert "Collect 100 more points" in shown
    assert 'aria-label="Remove points from this order"' in panel(response)
    assert '<dd class="total">$40.00</dd>' in html(response)


def test_the_cart_says_when_only_part_of_the_points_apply(member, customer):
    give(customer, 3000)
    member.post(APPLY, {"points": "3000"})

    shown = text(panel(member.get(CART)))

    assert "2,000 points: −$20.00" in shown
    assert "Points pay at most 50% of an order: 2,000 of the 3,000 on your cart apply." in shown


def test_a_member_pays_with_points_through_the_checkout_review(member, customer):
    give(customer, 1200)
    details = {
        "email": customer.email,
        "name": "Ada Lovelace",
        "line1": "12 Analytical Row",
        "city": "Austin",
        "region": "TX",
        "postal_code": "78701",
        "country": "US",
        "shipping_method": "standard",
    }
    assert member.post(reverse("orders:checkout"), details).status_code == 302
    review = member.get(reverse("orders:review"))
    assert 'name="points"' in panel(review)

    applied = member.post(APPLY, {"points": "1000", "next": reverse("orders:review")})
    assert applied["Location"] == reverse("orders:review")
    review = member.get(reverse("orders:review"))
    assert "1,000 points: −$10.00" in text(panel(review))
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html(review)).group(1)
    response = member.post(reverse("orders:review"), {"idempotency_key": key})

    order = Order.objects.get(user=customer)
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    assert order.total == D("35.00")  # 40 - 10 + 5 shipping
    assert order.adjustments.get(kind="points").amount == D("-10.00")
    assert LedgerEntry.objects.get(order=order, kind=Kind.REDEEM).points == -1000
    assert balance(customer) == 200
    assert not CartPoints.objects.exists()


# --- the account panel ----------------------------------------------------------------------------


def test_the_account_page_shows_the_points_panel(client, customer):
    give(customer, 1200, days_ago=350)  # expires in 15 days
    client.force_login(customer)

    response = client.get(PROFILE)

    page = html(response)
    assert response.status_code == 200
    start = page.index('<section class="account-panel loyalty-panel"')
    shown = page[start : page.index("</section>", start)]
    words = text(shown)
    assert "1,200 points" in words
    assert "1,200 points available now, worth $12.00 off your orders." in words
    assert "Your tier: Member" in words
    assert "Spend $250.00 more to reach Silver." in words
    assert '<progress class="tier-progress" max="100" value="0" aria-labelledby="tier-progress-label">' in shown
    assert "Expiring soon" in words
    assert "1,200 points on" in words
    assert f'href="{POINTS}"' in shown


def test_the_account_panels_come_from_the_setting(client, customer, settings):
    settings.SHOP_ACCOUNT_PANELS = []
    client.force_login(customer)

    response = client.get(PROFILE)

    assert response.status_code == 200
    assert "loyalty-panel" not in html(response)


def test_the_account_panel_shows_pending_points_and_the_progress_to_the_next_tier(client, customer):
    cart = cart_with(customer, "100.00")
    pay(place(customer, cart))  # $100 paid (shipping free over $50): earns 500 points, pending
    client.force_login(customer)

    words = text(html(client.get(PROFILE)))

    assert "500 points pending, usable from" in words
    assert "Spend $150.00 more to reach Silver." in words


# --- the points page ----------------------------------------------------------------------------


def test_the_points_page_needs_a_login(client):
    response = client.get(POINTS)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_the_points_page_shows_the_history_with_descriptions_and_pending_lots(client, customer):
    give(customer, 1200, note="sorry for the delay")
    cart = cart_with(customer, "40.00")
    services.cart_points_set(cart=cart, user=customer, points=1000)
    order = pay(place(customer, cart))
    client.force_login(customer)

    response = client.get(POINTS)

    assert response.status_code == 200
    page = html(response)
    rows = [text(row) for row in re.findall(r'<tr role="row">\s*<td.*?</tr>', page, flags=re.S)]
    until = LedgerEntry.objects.get(order=order, kind=Kind.EARN).available_at
    assert len(rows) == 3
    assert f"Earned on order {order.number}" in rows[0]
    assert f"pending until {date_format(until, 'DATE_FORMAT')}" in rows[0]
    assert rows[0].endswith("+150 350")
    assert f"Used on order {order.number} −1,000 200" in rows[1]
    assert "Adjusted by our team: sorry for the delay +1,200 1,200" in rows[2]


def test_the_points_page_paginates_the_history_by_25(client, customer):
    for n in range(30):
        give(customer, 10, note=f"gift {n:02d}")
    client.force_login(customer)

    first, second = client.get(POINTS), client.get(POINTS, {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert "gift 29" in html(first) and "gift 00" not in html(first)
    assert "gift 00" in html(second)
    assert "Page 1 of 2" in html(first)
    assert 'href="?page=2"' in html(first)


def _points_page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(POINTS)
    assert response.status_code == 200
    return len(queries)


def test_the_points_page_runs_the_same_number_of_queries_for_3_or_30_entries(client, customer):
    staff = UserFactory(is_staff=True)
    for _ in range(3):
        services.points_adjust(user=customer, points=10, note="n", actor=staff)
    client.force_login(customer)
    client.get(POINTS)  # the program's rules are cached from here on
    few = _points_page_queries(client)
    for _ in range(27):
        services.points_adjust(user=customer, points=10, note="n", actor=staff)

    many = _points_page_queries(client)

    assert few == many
    # session, user, account (x2: get_or_create, summary), lots, spend, ledger count and page,
    # tier changes, referral counts.
    assert many <= 12, many


def test_a_stranger_never_sees_another_members_points(client, customer, stranger):
    give(customer, 1234, note="owner only")
    client.force_login(stranger)

    page = html(client.get(POINTS))

    assert "owner only" not in page
    assert "1234" not in page
    assert Account.objects.get(user=customer).referral_code not in page
    assert "No points yet" in page
    assert "1234" not in html(client.get(PROFILE))


def test_the_points_page_shows_tiers_with_the_members_highlighted_and_tier_changes(client, customer):
    cart = cart_with(customer, "300.00")
    pay(place(customer, cart))  # $300 paid: Silver
    client.force_login(customer)

    page = html(client.get(POINTS))

    assert re.search(r'<tr class="current">\s*<th scope="row">Silver <span class="tag in">Your tier</span>', page)
    assert "×1.25" in page and "$1,000.00 or more" in page
    assert "Spend $700.00 more to reach Gold." in text(page)
    assert "joined Silver" in text(page) and "upgrade" in page


def test_the_points_page_gives_the_referral_link_and_what_each_side_gets(client, customer):
    advocate_code = services.account_get(user=customer).referral_code
    Referral.objects.create(advocate=customer, friend=UserFactory(), status=Referral.Status.REWARDED)
    Referral.objects.create(advocate=customer, friend=UserFactory())
    client.force_login(customer)

    page = html(client.get(POINTS))

    assert f'value="http://testserver/r/{advocate_code}/" readonly' in page
    assert '<label for="referral-link">Your referral link</label>' in page
    assert "Your friend gets 10% off their first order (up to $20.00)." in page
    assert "You get 500 points when that order is paid." in page
    assert "Friends who joined: 2 · rewarded: 1 · waiting for a first order: 1" in page
    assert "loyalty/referral.js" in page


# --- referral links -------------------------------------------------------------------------------


def register_data(email="friend@example.net"):
    return {"email": email, "first_name": "Fran", "last_name": "", "password": "a long enough passphrase 42"}


def test_a_visitor_follows_a_referral_link_signs_up_and_accepts(client, customer):
    code = services.account_get(user=customer).referral_code
    link = reverse("loyalty:referral", args=[code.lower()])

    response = client.get(link)

    assert response.status_code == 302
    register = response["Location"]
    assert register == f"{REGISTER}?next={link.replace('/', '%2F')}"
    page = client.get(register)
    assert "A friend invited you: create your account and get 10% off your first order (up to $20.00)." in html(page)
    signed_up = client.post(register, register_data())
    assert (signed_up.status_code, signed_up["Location"]) == (302, link)
    assert not Referral.objects.exists()  # not before they accept

    assert "Accept the invitation" in html(client.get(link))
    client.post(link)

    referral = Referral.objects.get()
    assert referral.advocate == customer
    assert referral.friend.email == "friend@example.net"
    assert referral.status == Referral.Status.PENDING


def test_a_logged_in_customer_follows_a_referral_link(client, customer, stranger):
    code = services.account_get(user=customer).referral_code
    client.force_login(stranger)
    url = reverse("loyalty:referral", args=[code])

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Accept the invitation" in html(confirm)
    assert not Referral.objects.exists()  # a link alone changes nothing
    response = client.post(url, follow=True)

    assert response.redirect_chain[-1][0] == POINTS
    assert "Your friend&#x27;s invitation is saved: you get 10% off your first order (up to $20.00)." in html(response)
    assert Referral.objects.get().advocate == customer
    assert Referral.objects.get().friend == stranger


def test_an_unknown_referral_code_is_a_404_with_a_message(client):
    response = client.get(reverse("loyalty:referral", args=["NOSUCH22"]))

    assert response.status_code == 404
    assert "This referral link does not work: check it with the friend who sent it." in html(response)


def test_a_member_cannot_refer_themselves(client, customer):
    code = services.account_get(user=customer).referral_code
    client.force_login(customer)

    response = client.post(reverse("loyalty:referral", args=[code]), follow=True)

    assert response.status_code == 200
    assert "You cannot refer yourself." in html(response)
    assert not Referral.objects.exists()


def test_a_second_referral_is_refused_with_a_message(client, customer, stranger):
    first, second = UserFactory(), UserFactory()
    services.referral_attach(friend=stranger, code=services.account_get(user=first).referral_code)
    client.force_login(stranger)

    response = client.post(
        reverse("loyalty:referral", args=[services.account_get(user=second).referral_code]), follow=True
    )

    assert "Your account was already referred by a friend." in html(response)
    assert Referral.objects.get().advocate == first
