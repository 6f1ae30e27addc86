"""The points as a member reads them: the cart's panel says each figure once, the account's headline is
what can be spent now, and the points page's history is labelled cards on a phone."""

import re
from decimal import Decimal as D

import pytest
from django.urls import reverse

from tests.loyalty.helpers import cart_with, member_with, pay, place, rules

pytestmark = pytest.mark.django_db

CART = reverse("cart:detail")
APPLY = reverse("loyalty:cart_points_apply")


def panel(response) -> str:
    html = response.content.decode()
    start = html.index('<section class="cart-panel points-panel"')
    return html[start : html.index("</section>", start)]


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def member(client):
    user = member_with(2848)
    cart_with(user, price="200.00")
    client.force_login(user)
    return user


def test_before_using_points_the_panel_says_what_is_available_and_offers_the_form(client, member):
    shown = panel(client.get(CART))

    assert "2,848 points available ($28.48)." in words(shown)
    assert re.search(r'<input id="loyalty-points"[^>]*value=""', shown)
    assert "Points to use" in shown


def test_after_using_every_point_the_panel_says_it_once_and_empties_the_box(client, member):
    client.post(APPLY, {"points": "2848"})

    shown = words(panel(client.get(CART)))

    assert shown.count("2,848") == 1, shown  # "Using 2,848 points: −$28.48", not also "2,848 points available"
    assert "Using 2,848 points : −$28.48" in shown
    assert "more points available" not in shown  # none left: nothing to say
    assert 'value="2848"' not in panel(client.get(CART))
    assert "Use a different number of points" not in shown  # nothing else would apply: no form to fill again


def test_after_using_some_points_the_panel_offers_to_change_them(client, member):
    client.post(APPLY, {"points": "1000"})

    html = panel(client.get(CART))
    shown = words(html)

    assert "Using 1,000 points : −$10.00" in shown
    assert "1,848 more points available." in shown
    assert "2,848 points available" not in shown
    assert "Use a different number of points" in shown
    assert re.search(r'<input id="loyalty-points"[^>]*value=""', html)
    assert "Use the most I can (2,848 points)" in shown


def test_the_account_headline_is_what_can_be_spent_now(client):
    rules(is_active=True, earn_rate=D(5), pending_days=14)
    user = member_with(300)
    order = place(user, cart_with(user, price="100.00"))
    pay(order)  # 500 points, pending for the return window
    client.force_login(user)

    html = client.get(reverse("accounts:profile")).content.decode()
    start = html.index('<div class="points-summary">')
    shown = words(html[start : html.index("</div>", start)])

    assert shown.startswith("300 points available now, worth $3.00 off your orders.")
    assert "500 points pending, usable from" in shown
    assert "Balance: 800 points in all." in shown


def test_the_points_history_labels_its_values_for_the_phone_cards(client, member):
    html = client.get(reverse("loyalty:points")).content.decode()

    table = re.search(r'<table class="data-table cards-on-phone" role="table">.*?</table>', html, re.S).group(0)
    row = re.findall(r'<tr role="row">(.*?)</tr>', table, re.S)[1]
    assert re.findall(r'data-label="([^"]+)"', row) == ["Date", "Points", "Balance"]
    assert '<td role="cell" class="what">' in row
