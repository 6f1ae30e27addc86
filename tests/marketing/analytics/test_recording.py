"""The event log as visitors fill it: over HTTP, with real commits (facts are told after commit)."""

import uuid
from decimal import Decimal

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from marketing.analytics import recorder, visits
from marketing.analytics.models import Event, OrderVisit
from shop.accounts.models import Profile
from shop.cart.models import CartLine
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
ROBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(autouse=True)
def recording(settings):
    settings.ANALYTICS_RECORDING = True
    recorder._paused_until = 0.0
    yield
    recorder._paused_until = 0.0


def browser(agent=DESKTOP, **headers):
    return Client(HTTP_USER_AGENT=agent, **headers)


def names(**filters):
    return list(Event.objects.filter(**filters).order_by("at", "id").values_list("name", flat=True))


def test_a_visit_from_product_page_to_checkout_is_one_visit_with_its_facts():
    lamp = ProductFactory(price=Decimal("25.00"), stock=10)
    shopper = browser(PHONE, HTTP_REFERER="https://www.google.com/search?q=lamp")
    assert shopper.get(lamp.get_absolute_url()).status_code == 200
    assert shopper.post("/cart/add/", {"product": lamp.pk, "quantity": 3}).status_code == 302
    line = CartLine.objects.get(product=lamp)
    shopper.post(f"/cart/lines/{line.pk}/", {"quantity": 1})
    assert shopper.get("/checkout/").status_code == 200

    events = list(Event.objects.order_by("id"))
    assert [e.name for e in events if e.name != "page_view"] == [
        "view_item",
        "add_to_cart",
        "remove_from_cart",
        "begin_checkout",
    ]
    assert len({e.visit for e in events}) == 1 and events[0].visit is not None
    assert {(e.device, e.source, e.medium) for e in events} == {("mobile", "Google", "organic")}
    added = next(e for e in events if e.name == "add_to_cart")
    removed = next(e for e in events if e.name == "remove_from_cart")
    assert (added.product_id, added.quantity, added.value, added.currency) == (lamp.pk, 3, Decimal("75.00"), "USD")
    assert (removed.quantity, removed.value) == (2, Decimal("50.00"))
    assert next(e for e in events if e.name == "begin_checkout").value == Decimal("25.00")
    page_views = [e for e in events if e.name == "page_view"]
    assert [e.path for e in page_views] == [lamp.get_absolute_url(), "/checkout/"]


def test_a_failed_change_tells_nothing():
    lamp = ProductFactory(stock=1)
    shopper = browser()
    shopper.post("/cart/add/", {"product": lamp.pk, "quantity": 5})  # more than in stock: refused
    assert names(name="add_to_cart") == []


def test_two_browsers_are_two_visits_and_a_campaign_link_starts_a_new_one():
    ProductFactory()
    one, two = browser(DESKTOP), browser(PHONE)
    one.get("/")
    two.get("/")
    one.get("/products/?utm_source=Newsletter&utm_medium=email&utm_campaign=spring")
    visits_seen = list(Event.objects.order_by("id").values_list("visit", "source", "medium", "campaign"))
    assert visits_seen[0][0] != visits_seen[1][0]
    assert visits_seen[2][1:] == ("newsletter", "email", "spring")
    assert visits_seen[2][0] != visits_seen[0][0]


def test_a_visit_ends_after_thirty_minutes_without_a_request(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(visits.time, "time", lambda: clock[0])
    shopper = browser()
    shopper.get("/")
    clock[0] += 29 * 60
    shopper.get("/")
    clock[0] += 31 * 60
    shopper.get("/")
    ids = list(Event.objects.order_by("id").values_list("visit", flat=True))
    assert ids[0] == ids[1] != ids[2]


def test_do_not_track_and_global_privacy_control_leave_no_identifier():
    customer = UserFactory()
    Profile.objects.update_or_create(user=customer, defaults={"analytics_consent": True})
    for header in ({"HTTP_DNT": "1"}, {"HTTP_SEC_GPC": "1"}):
        shopper = browser(**header)
        shopper.force_login(customer)
        shopper.get("/")
    rows = list(Event.objects.filter(name="page_view").values_list("name", "visit", "customer_id", "device"))
    assert rows == [("page_view", None, None, "desktop")] * 2


def test_the_customer_is_recorded_only_with_their_consent():
    customer = UserFactory()
    shopper = browser()
    shopper.force_login(customer)
    shopper.get("/")
    Profile.objects.update_or_create(user=customer, defaults={"analytics_consent": True})
    shopper.get("/")
    views = Event.objects.filter(name="page_view").order_by("id")
    assert list(views.values_list("customer_id", flat=True)) == [None, customer.pk]


def test_robots_are_not_recorded_and_api_and_admin_requests_are_not_page_views():
    product = ProductFactory()
    browser(ROBOT).get("/")
    api = browser("python-requests/2.32")
    api.get("/api/v1/products/")
    api.get(f"/api/v1/products/{product.slug}/")
    browser().get("/admin/login/")
    rows = list(Event.objects.order_by("id").values_list("name", "device", "product_id"))
    assert rows == [("view_item_list", "other", None), ("view_item", "other", product.pk)]


def test_a_login_and_a_sign_up_are_recorded():
    shopper = browser()
    response = shopper.post(
        "/account/register/",
        {"email": "new@example.com", "password": "a long enough Passw0rd!", "first_name": "Ana"},
    )
    assert response.status_code in (200, 302)
    UserFactory(email="old@example.com", password="a long enough Passw0rd!")
    browser().post("/account/login/", {"username": "old@example.com", "password": "a long enough Passw0rd!"})
    assert {"sign_up", "login"} <= set(names())


def test_a_paid_api_checkout_is_a_purchase_of_the_visit_that_placed_it(localstripe):
    lamp = ProductFactory(price=Decimal("30.00"), stock=5)
    client = browser("ShopApp/2.0", HTTP_REFERER="https://t.co/abc")
    token = client.post("/api/v1/cart/items/", {"product": lamp.slug, "quantity": 2}, content_type="application/json")
    address = {"name": "Ada", "line1": "1 Main St", "city": "Austin", "postal_code": "78701", "country": "US"}
    response = client.post(
        "/api/v1/checkout/",
        {"email": "ada@example.com", "shipping_address": address, "payment_method": "pm_card_visa"},
        content_type="application/json",
        HTTP_X_CART_TOKEN=token.json()["token"],
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 201, response.content
    assert names() == ["add_to_cart", "begin_checkout", "place_order", "purchase"]
    placed = OrderVisit.objects.get()
    purchase = Event.objects.get(name="purchase")
    assert purchase.visit == placed.visit == Event.objects.get(name="add_to_cart").visit
    assert (purchase.source, purchase.medium, purchase.device) == ("Twitter", "social", "other")
    assert purchase.value == Decimal(response.json()["total"])
    from shop.orders import signals

    signals.order_paid.send(sender=None, order_id=purchase.order_id, user_id=None)  # sent again
    assert names(name="purchase") == ["purchase"]


def test_a_refused_write_pauses_recording_and_never_breaks_the_page(caplog):
    from django.db import OperationalError, connection

    def refuse(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "analytics_event" in sql:
            raise OperationalError("database is locked")  # as the database says it
        return execute(sql, params, many, context)

    shopper = browser()
    with connection.execute_wrapper(refuse):
        assert shopper.get("/").status_code == 200
    assert "events dropped" in caplog.text and recorder.paused()
    assert shopper.get("/").status_code == 200
    assert Event.objects.count() == 0  # still pausing: the store comes first
    recorder._paused_until = 0.0
    shopper.get("/")
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "referrer", "expected"),
    [
        ("", "", ("direct", "none", "")),
        ("", "https://www.bing.com/search?q=x", ("Bing", "organic", "")),
        ("", "https://m.facebook.com/", ("Facebook", "social", "")),
        ("", "https://blog.example.org/post", ("blog.example.org", "referral", "")),
        ("", "http://testserver/products/", ("direct", "none", "")),
        ("?utm_source=Mail&utm_campaign=Spring", "https://www.google.com/", ("mail", "none", "Spring")),
    ],
)
def test_where_a_visit_comes_from(query, referrer, expected):
    request = (
        RequestFactory().get(f"/{query}", HTTP_REFERER=referrer) if referrer else RequestFactory().get(f"/{query}")
    )
    assert visits.source_of(request) == expected


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (PHONE, "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1", "tablet"),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "tablet"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", "mobile"),
        (DESKTOP, "desktop"),
        ("curl/8.5.0", "other"),
        (ROBOT, None),
    ],
)
def test_the_device_of_a_browser_string(agent, device):
    assert visits.device_of(agent) == device


def test_a_refund_is_recorded_once_per_refund_with_the_order_s_visit():
    from shop.orders import signals
    from tests.factories import OrderFactory

    order = OrderFactory(currency="USD", placed_at=timezone.now())
    OrderVisit.objects.create(order=order, visit=uuid.uuid4(), device="mobile", source="Google", medium="organic")
    for reference in ("re_1", "re_1", "re_2"):
        signals.order_refunded.send(sender=None, order_id=order.pk, amount=Decimal("5.00"), refund_reference=reference)
    refunds = list(Event.objects.filter(name="refund").order_by("id"))
    assert [(e.data["reference"], e.value, e.device, e.source) for e in refunds] == [
        ("re_1", Decimal("5.00"), "mobile", "Google"),
        ("re_2", Decimal("5.00"), "mobile", "Google"),
    ]


def test_staff_read_the_event_log_in_the_admin_in_a_constant_number_of_queries(django_assert_max_num_queries):
    from tests.factories import StaffFactory

    products = ProductFactory.create_batch(3)
    shopper = browser()
    for product in products:
        shopper.get(product.get_absolute_url())
    staff = StaffFactory(is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    with django_assert_max_num_queries(8):
        response = admin.get("/admin/analytics/event/?name__exact=view_item")
    assert response.status_code == 200
    html = response.content.decode()
    assert all(p.name in html for p in products)
    assert admin.get(f"/admin/analytics/event/{Event.objects.first().pk}/change/").status_code == 200
    customer = Client()
    customer.force_login(UserFactory())
    assert customer.get("/admin/analytics/event/").status_code == 302  # to the admin login
