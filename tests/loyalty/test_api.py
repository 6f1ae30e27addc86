"""GET /api/v1/loyalty/, loyalty/ledger/, GET/POST loyalty/referral/ and POST/DELETE cart/points/."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, CartPoints, Kind, LedgerEntry, Referral, Tier
from loyalty.program import forget
from shop.orders.models import Order
from tests.factories import CartFactory, CartLineFactory, ProductFactory, StaffFactory, UserFactory
from tests.loyalty.helpers import D, balance, cart_with, give, ledger_sum, pay, place, rules

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/loyalty/"
LEDGER = "/api/v1/loyalty/ledger/"
REFERRAL = "/api/v1/loyalty/referral/"
POINTS = "/api/v1/cart/points/"
CART = "/api/v1/cart/"

ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}


@pytest.fixture(autouse=True)
def _program():
    rules(
        earn_rate=D(5),
        redeem_rate=100,
        min_redeem_points=500,
        max_redeem_percent=50,
        pending_days=14,
        expiry_days=365,
        expiry_reminder_days=30,
    )


@pytest.fixture
def tiers():
    Tier.objects.all().delete()  # not the starting tiers the migration made: these, whatever they become
    Tier.objects.create(name="Bronze", min_spend=D(0), multiplier=D(1))
    Tier.objects.create(name="Silver", min_spend=D(100), multiplier=D("1.5"), perks="Free express shipping")
    forget()


@pytest.fixture
def with_cart(customer):
    """The customer holds 1,200 points and a cart of one $40.00 teapot (shipping, $5.00, is added at checkout)."""
    give(customer, 1200)
    teapot = ProductFactory(slug="teapot", name="Teapot", price=D("40.00"), stock=10)
    CartLineFactory(cart=CartFactory(user=customer), product=teapot, quantity=1)
    return customer


def adjust(user, count: int, *, points: int = 10):
    """`count` entries on the user's ledger (staff adjustments by one staff member)."""
    actor = StaffFactory()
    for n in range(count):
        services.points_adjust(user=user, points=points, note=f"gift {n}", actor=actor)


def points_lines(body) -> list[tuple[str, str]]:
    return [(a["label"], a["amount"]) for a in body["adjustments"] if a["kind"] == "points"]


# --- anonymous clients ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", SUMMARY),
        ("get", LEDGER),
        ("get", REFERRAL),
        ("post", REFERRAL),
        ("post", POINTS),
        ("delete", POINTS),
    ],
)
def test_it_asks_anonymous_clients_to_log_in(api, method, path, customer):
    account = services.account_get(user=customer)
    body = {"points": 500} if path == POINTS else {"code": account.referral_code}

    response = getattr(api, method)(path, body, format="json")

    assert response.status_code == 401, response.content
    assert response.json()["detail"]
    assert Account.objects.count() == 1  # only the customer's: nothing was made for the anonymous client
    assert not Referral.objects.exists()
    assert not CartPoints.objects.exists()


def test_it_keeps_points_off_an_anonymous_cart(api):
    ProductFactory(slug="lamp", price=D("40.00"), stock=5)
    token = api.post("/api/v1/cart/items/", {"product": "lamp"}, format="json").json()["token"]

    response = api.post(POINTS, {"points": 500}, format="json", HTTP_X_CART_TOKEN=token)

    assert response.status_code == 401
    assert not CartPoints.objects.exists()


# --- the summary ----------------------------------------------------------------------------------


def test_it_shows_a_members_balance_tier_progress_and_history(api_as, customer, tiers):
    give(customer, 1200)
    order = pay(place(customer, cart_with(customer, "40.00")))  # total 45.00; earns 200, pending

    response = api_as(customer).get(SUMMARY)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["balance"], body["available"], body["pending"]) == (1400, 1200, 200)
    assert balance(customer) == 1400 == ledger_sum(customer)
    assert (body["value"], body["currency"]) == ("12.00", "USD")
    earned = LedgerEntry.objects.get(order=order, kind=Kind.EARN)
    assert body["pending_until"] == earned.available_at.isoformat().replace("+00:00", "Z")
    assert body["tier"] == {"name": "Bronze", "multiplier": "1.00", "perks": ""}
    assert body["next_tier"] == {"name": "Silver", "min_spend": "100.00", "spend_needed": "55.00"}
    assert (body["spend"], body["progress"]) == ("45.00", 45)
    assert body["expiring"] == []
    assert body["program"] == {
        "is_active": True,
        "earn_rate": "5.00",
        "redeem_rate": 100,
        "min_redeem_points": 500,
        "max_redeem_percent": 50,
        "pending_days": 14,
        "expiry_days": 365,
    }
    assert body["history"] == "http://testserver/api/v1/loyalty/ledger/"
    latest, first = body["ledger"]
    assert latest == {
        "id": earned.pk,
        "kind": "earn",
        "reason": "order",
        "points": 200,
        "balance_after": 1400,
        "description": f"Earned on order {order.number}",
        "order": order.number,
        "created_at": latest["created_at"],
        "available_at": latest["available_at"],
        "expires_at": latest["expires_at"],
        "pending": True,
    }
    assert (first["kind"], first["points"], first["order"], first["pending"]) == ("adjust", 1200, None, False)
    assert first["description"] == "Adjusted by our team: test"


def test_it_lists_points_about_to_expire_by_day(api_as, customer):
    old = give(customer, 300, days_ago=350)  # expires in 15 days
    give(customer, 200)  # in a year: not soon

    body = api_as(customer).get(SUMMARY).json()

    assert body["expiring"] == [{"points": 300, "on": timezone.localdate(old.expires_at).isoformat()}]
    assert body["available"] == 500


def test_it_answers_a_customer_who_never_earned_without_making_an_account(api_as, customer, tiers):
    response = api_as(customer).get(SUMMARY)

    assert response.status_code == 200
    body = response.json()
    assert (body["balance"], body["available"], body["pending"], body["value"]) == (0, 0, 0, "0.00")
    assert body["tier"]["name"] == "Bronze"  # the first tier needs no spend
    assert body["next_tier"] == {"name": "Silver", "min_spend": "100.00", "spend_needed": "100.00"}
    assert body["progress"] == 0
    assert body["ledger"] == []
    assert not Account.objects.filter(user=customer).exists()


def test_it_shows_the_latest_20_entries_and_links_the_rest(api_as, customer):
    adjust(customer, 25)

    body = api_as(customer).get(SUMMARY).json()

    assert len(body["ledger"]) == 20
    assert body["ledger"][0]["description"] == "Adjusted by our team: gift 24"
    assert body["balance"] == 250
    assert LedgerEntry.objects.filter(account_id=customer.pk).count() == 25


def test_a_stranger_sees_only_their_own_points(api_as, customer, stranger):
    give(customer, 1200)
    give(stranger, 40)

    body = api_as(stranger).get(SUMMARY).json()

    assert (body["balance"], body["available"]) == (40, 40)
    assert [entry["points"] for entry in body["ledger"]] == [40]
    history = api_as(stranger).get(LEDGER).json()
    assert [entry["points"] for entry in history["results"]] == [40]
    assert balance(customer) == 1200


def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        (SUMMARY, 5),  # token, account, lots, spend, latest entries (the rules are cached)
        (LEDGER, 3),  # token, count, page
    ],
)
def test_it_costs_the_same_queries_for_5_or_50_entries(api_as, customer, tiers, path, bound):
    client = api_as(customer)
    pay(place(customer, cart_with(customer, "40.00")))  # an entry with an order
    adjust(customer, 4)
    few = _count(client, path)
    adjust(customer, 45)

    assert _count(client, path) == few
    assert few <= bound


# --- the full history -----------------------------------------------------------------------------


def test_it_pages_the_history_newest_first(api_as, customer):
    adjust(customer, 30)

    response = api_as(customer).get(LEDGER)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 30
    assert body["previous"] is None
    assert body["next"] == "http://testserver/api/v1/loyalty/ledger/?page=2"
    assert len(body["results"]) == 24
    assert [entry["balance_after"] for entry in body["results"][:3]] == [300, 290, 280]
    last = api_as(customer).get(body["next"]).json()
    assert [entry["description"] for entry in last["results"]][-1] == "Adjusted by our team: gift 0"
    assert set(last["results"][0]) == {
        "id",
        "kind",
        "reason",
        "points",
        "balance_after",
        "description",
        "order",
        "created_at",
        "available_at",
        "expires_at",
        "pending",
    }


def test_it_shows_a_redemption_with_its_order(api_as, customer):
    give(customer, 1000)
    cart = cart_with(customer, "40.00")
    services.cart_points_set(cart=cart, user=customer, points=1000)
    order = place(customer, cart)

    entry = api_as(customer).get(LEDGER).json()["results"][0]

    assert (entry["kind"], entry["reason"], entry["points"], entry["order"]) == ("redeem", "order", -1000, order.number)
    assert entry["description"] == f"Used on order {order.number}"
    assert (entry["available_at"], entry["expires_at"], entry["pending"]) == (None, None, False)


# --- referrals ------------------------------------------------------------------------------------


def test_it_gives_a_customer_their_referral_code_and_link(api_as, customer):
    response = api_as(customer).get(REFERRAL)

    assert response.status_code == 200, response.content
    body = response.json()
    account = Account.objects.get(user=customer)  # made on the first visit
    assert body == {
        "code": account.referral_code,
        "link": f"http://testserver/r/{account.referral_code}/",
        "friend_discount_percent": 10,
        "friend_discount_max": "20.00",
        "currency": "USD",
        "advocate_points": 500,
        "monthly_cap": 5,
        "stats": {"pending": 0, "rewarded": 0, "refused": 0},
        "referred_by": None,
    }
    assert api_as(customer).get(REFERRAL).json()["code"] == account.referral_code  # the same code each time


def test_it_counts_referrals_and_shows_who_referred_whom(api_as, customer, stranger):
    code = services.account_get(user=customer).referral_code
    services.referral_attach(friend=stranger, code=code)
    services.referral_attach(friend=UserFactory(email="owner+again@example.org"), code=code)  # same person

    advocate = api_as(customer).get(REFERRAL).json()
    friend = api_as(stranger).get(REFERRAL).json()

    assert advocate["stats"] == {"pending": 1, "rewarded": 0, "refused": 1}
    assert advocate["referred_by"] is None
    assert friend["referred_by"] == "o•••@example.org"
    assert friend["code"] != code
    assert friend["stats"] == {"pending": 0, "rewarded": 0, "refused": 0}


def test_a_new_customer_claims_a_friends_code(api_as, customer, stranger):
    code = services.account_get(user=customer).referral_code

    response = api_as(stranger).post(REFERRAL, {"code": f" {code.lower()} "}, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {"status": "pending", "referred_by": "o•••@example.org"}
    referral = Referral.objects.get()
    assert (referral.advocate, referral.friend, referral.status) == (customer, stranger, "pending")


def test_it_refuses_an_unknown_code(api_as, stranger):
    response = api_as(stranger).post(REFERRAL, {"code": "NOSUCH22"}, format="json")

    assert response.status_code == 404
    assert response.json()["detail"] == "That referral code does not exist."
    assert not Referral.objects.exists()


def test_it_refuses_a_customers_own_code(api_as, customer):
    code = services.account_get(user=customer).referral_code

    response = api_as(customer).post(REFERRAL, {"code": code}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "You cannot refer yourself."
    assert not Referral.objects.exists()


def test_it_refuses_a_second_referral(api_as, customer, stranger):
    services.referral_attach(friend=stranger, code=services.account_get(user=customer).referral_code)
    other = services.account_get(user=UserFactory()).referral_code

    response = api_as(stranger).post(REFERRAL, {"code": other}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == "Your account was already referred by a friend."
    assert Referral.objects.get().advocate == customer


def test_it_refuses_a_customer_who_already_ordered(api_as, customer, stranger):
    pay(place(stranger, cart_with(stranger, "40.00")))
    code = services.account_get(user=customer).referral_code

    response = api_as(stranger).post(REFERRAL, {"code": code}, format="json")

    assert response.status_code == 409
    assert "before their first order" in response.json()["detail"]
    assert not Referral.objects.exists()


def test_it_asks_for_a_code(api_as, stranger):
    response = api_as(stranger).post(REFERRAL, {"code": "  "}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["code"] == ["This field may not be blank."]
    assert not Referral.objects.exists()


# --- points on the cart ---------------------------------------------------------------------------


def test_it_puts_points_on_the_cart(api_as, with_cart):
    response = api_as(with_cart).post(POINTS, {"points": 1000}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert points_lines(body) == [("1,000 points", "-10.00")]
    assert (body["subtotal"], body["total"]) == ("40.00", "30.00")  # shipping comes at checkout
    assert CartPoints.objects.get(cart__user=with_cart).points == 1000
    assert balance(with_cart) == 1200  # spent at checkout, not before


def test_the_cart_shows_the_points_and_the_lower_total(api_as, with_cart):
    client = api_as(with_cart)
    before = client.get(CART).json()
    client.post(POINTS, {"points": 1000}, format="json")

    after = client.get(CART).json()

    assert (before["total"], points_lines(before)) == ("40.00", [])
    assert points_lines(after) == [("1,000 points", "-10.00")]
    assert after["total"] == "30.00"


def test_points_pay_at_most_the_programs_share(api_as, with_cart):
    give(with_cart, 5000)

    body = api_as(with_cart).post(POINTS, {"points": 6000}, format="json").json()

    assert points_lines(body) == [("2,000 points", "-20.00")]  # half of the $40.00 merchandise
    assert CartPoints.objects.get().points == 6000


def test_a_new_number_replaces_the_old_one(api_as, with_cart):
    client = api_as(with_cart)
    client.post(POINTS, {"points": 1000}, format="json")

    body = client.post(POINTS, {"points": 600}, format="json").json()

    assert points_lines(body) == [("600 points", "-6.00")]
    assert CartPoints.objects.get().points == 600


def test_it_takes_the_points_off_the_cart(api_as, with_cart):
    client = api_as(with_cart)
    client.post(POINTS, {"points": 1000}, format="json")

    response = client.delete(POINTS)

    assert response.status_code == 200
    assert points_lines(response.json()) == []
    assert response.json()["total"] == "40.00"
    assert not CartPoints.objects.exists()
    assert client.delete(POINTS).status_code == 200  # nothing there: still fine


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("many", "A valid integer is required."),
        (2.5, "A valid integer is required."),
        (0, "Ensure this value is greater than or equal to 1."),
        (499, "Use at least 500 points at a time."),
        (1201, "You have 1,200 points available."),
    ],
)
def test_it_refuses_bad_points_and_saves_nothing(api_as, with_cart, points, message):
    response = api_as(with_cart).post(POINTS, {"points": points}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["points"] == [message]
    assert not CartPoints.objects.exists()


def test_pending_points_cannot_be_spent_yet(api_as, customer):
    pay(place(customer, cart_with(customer, "200.00")))  # earns 1000, pending for 14 days
    cart_with(customer, "40.00")

    response = api_as(customer).post(POINTS, {"points": 500}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["points"] == ["You have 0 points available."]
    assert not CartPoints.objects.exists()


def test_it_refuses_points_on_an_empty_cart(api_as, customer):
    give(customer, 1200)

    response = api_as(customer).post(POINTS, {"points": 1000}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["points"] == ["Your cart is empty: add products before using points."]
    assert not CartPoints.objects.exists()


def test_a_stranger_cannot_use_someone_elses_points(api_as, with_cart, stranger):
    cart_with(stranger, "40.00")

    response = api_as(stranger).post(POINTS, {"points": 1000}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["points"] == ["You have 0 points available."]
    assert not CartPoints.objects.exists()
    assert balance(with_cart) == 1200


def test_checkout_spends_the_points_on_the_cart(api_as, with_cart, localstripe):
    client = api_as(with_cart)
    client.post(POINTS, {"points": 1000}, format="json")

    response = client.post("/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == "35.00"
    assert {"kind": "points", "label": "1,000 points", "amount": "-10.00"} in body["adjustments"]
    order = Order.objects.get(number=body["number"])
    redeemed = LedgerEntry.objects.get(order=order)
    assert (redeemed.kind, redeemed.points) == (Kind.REDEEM, -1000)
    assert balance(with_cart) == 200 == ledger_sum(with_cart)
    assert not CartPoints.objects.exists()
    summary = client.get(SUMMARY).json()
    assert (summary["balance"], summary["ledger"][0]["order"]) == (200, order.number)


def test_the_points_on_the_cart_are_checked_again_at_checkout(api_as, with_cart, localstripe):
    client = api_as(with_cart)
    client.post(POINTS, {"points": 1000}, format="json")
    services.points_adjust(user=with_cart, points=-1200, note="fraud", actor=StaffFactory())

    response = client.post("/api/v1/checkout/", {"shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="k2")

    assert response.status_code == 409
    assert response.json()["errors"]["points"]
    assert not Order.objects.exists()
    assert balance(with_cart) == 0
    assert CartPoints.objects.exists()  # still chosen: the customer sees why in their cart


def test_entries_keep_their_dates(api_as, customer):
    lot = give(customer, 700, days_ago=10)

    entry = api_as(customer).get(LEDGER).json()["results"][0]

    assert dt.datetime.fromisoformat(entry["created_at"]) == lot.created_at
    assert dt.datetime.fromisoformat(entry["expires_at"]) == lot.expires_at
