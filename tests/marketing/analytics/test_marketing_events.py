"""A code applied and points used, as visitors do them (pages and API), and the markup through which
the page script reports the promotions shown (static/analytics/track.js): over HTTP, with real
commits (facts are told after commit)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketing.analytics import recorder
from marketing.analytics.models import Event
from marketing.discounts.models import CartCode, DiscountCode, Promotion
from tests.factories import ProductFactory, UserFactory
from tests.loyalty.helpers import give, rules

pytestmark = pytest.mark.django_db(transaction=True)

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
CART = reverse("cart:detail")
APPLY_CODE = reverse("discounts:apply")
APPLY_POINTS = reverse("loyalty:cart_points_apply")


@pytest.fixture(autouse=True)
def recording(settings):
    settings.ANALYTICS_RECORDING = True
    recorder._paused_until = 0.0
    yield
    recorder._paused_until = 0.0


@pytest.fixture
def shopper():
    """An anonymous visitor whose cart holds two $25.00 shirts."""
    browser = Client(HTTP_USER_AGENT=AGENT)
    shirt = ProductFactory(price=Decimal("25.00"), stock=5)
    assert browser.post(reverse("cart:add"), {"product": shirt.pk, "quantity": 2}).status_code == 302
    return browser


@pytest.fixture
def ten_off():
    promotion = Promotion.objects.create(name="Ten off", kind="percentage", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="SAVE10")
    return promotion


def recorded(name):
    return list(Event.objects.filter(name=name).order_by("id"))


def test_it_records_a_code_applied_with_its_promotion_and_what_it_saves(shopper, ten_off):
    assert shopper.post(APPLY_CODE, {"code": " save10 "}).status_code == 302

    [event] = recorded("apply_code")
    assert event.data == {"code": "SAVE10", "promotion": ten_off.pk}
    assert (event.value, event.currency) == (Decimal("5.00"), "USD")
    assert event.path == APPLY_CODE
    assert event.visit is not None and event.visit == Event.objects.get(name="add_to_cart").visit


def test_a_code_applied_through_the_api_is_recorded_too(ten_off):
    api = Client(HTTP_USER_AGENT="ShopApp/2.0")
    shirt = ProductFactory(price=Decimal("30.00"), stock=5)
    token = api.post("/api/v1/cart/items/", {"product": shirt.slug}, content_type="application/json").json()["token"]

    response = api.post(
        "/api/v1/cart/discount-code/", {"code": "SAVE10"}, content_type="application/json", HTTP_X_CART_TOKEN=token
    )

    assert response.status_code == 200, response.content
    [event] = recorded("apply_code")
    assert (event.data, event.value, event.device) == (
        {"code": "SAVE10", "promotion": ten_off.pk},
        Decimal("3.00"),
        "other",
    )


def test_a_free_shipping_code_is_recorded_without_a_value(shopper):
    promotion = Promotion.objects.create(name="Ship free", kind="free_shipping", value=Decimal("0"))
    DiscountCode.objects.create(promotion=promotion, code="SHIPFREE")

    assert shopper.post(APPLY_CODE, {"code": "SHIPFREE"}).status_code == 302

    [event] = recorded("apply_code")
    assert (event.data, event.value, event.currency) == ({"code": "SHIPFREE", "promotion": promotion.pk}, None, "")


def test_a_refused_code_records_nothing(shopper, ten_off):
    ended = Promotion.objects.create(
        name="Over", kind="percentage", value=Decimal("10"), ends_at=timezone.now() - dt.timedelta(days=1)
    )
    DiscountCode.objects.create(promotion=ended, code="OVER10")

    assert shopper.post(APPLY_CODE, {"code": "NOSUCHCODE"}).status_code == 404
    assert shopper.post(APPLY_CODE, {"code": "OVER10"}).status_code == 400

    assert recorded("apply_code") == []
    assert not CartCode.objects.exists()


@pytest.fixture
def member():
    """A customer logged in, holding 1,200 points, with a $40.00 cart (100 points make $1)."""
    rules(is_active=True, redeem_rate=100, min_redeem_points=500, max_redeem_percent=50)
    customer = UserFactory()
    give(customer, 1200)
    browser = Client(HTTP_USER_AGENT=AGENT)
    browser.force_login(customer)
    lamp = ProductFactory(price=Decimal("40.00"), stock=5)
    assert browser.post(reverse("cart:add"), {"product": lamp.pk, "quantity": 1}).status_code == 302
    return browser


def test_it_records_the_points_used_with_their_value(member):
    assert member.post(APPLY_POINTS, {"points": "1000", "next": CART}).status_code == 302

    [event] = recorded("redeem_points")
    assert event.data == {"points": 1000}
    assert (event.value, event.currency) == (Decimal("10.00"), "USD")
    assert event.customer_id is None  # no consent given
    assert event.visit == Event.objects.get(name="add_to_cart").visit


def test_points_used_through_the_api_are_recorded_too(member):
    response = member.post("/api/v1/cart/points/", {"points": 600}, content_type="application/json")

    assert response.status_code == 200, response.content
    [event] = recorded("redeem_points")
    assert (event.data, event.value) == ({"points": 600}, Decimal("6.00"))


def test_points_refused_record_nothing(member):
    assert member.post(APPLY_POINTS, {"points": "5000"}).status_code == 400  # more than the member has
    assert member.post(APPLY_POINTS, {"points": "100"}).status_code == 400  # fewer than the minimum

    assert recorded("redeem_points") == []


def test_the_cart_marks_its_code_s_promotion_for_the_page_script(shopper, ten_off):
    marked = f'data-promotion="{ten_off.pk}" data-where="cart_code"'
    assert "data-promotion" not in shopper.get(CART).content.decode()

    shopper.post(APPLY_CODE, {"code": "SAVE10"})

    page = shopper.get(CART).content.decode()
    assert page.count(marked) == 1
    assert 'analytics/track.js" data-endpoint="/analytics/collect/"' in page  # the script that reads it


def test_a_code_that_no_longer_applies_is_not_shown_as_a_promotion(shopper, ten_off):
    shopper.post(APPLY_CODE, {"code": "SAVE10"})
    Promotion.objects.filter(pk=ten_off.pk).update(is_active=False)

    page = shopper.get(CART).content.decode()

    assert "no longer applies" in page and "data-promotion" not in page


def test_a_promotion_seen_on_the_cart_is_recorded_with_where_it_was_seen(shopper, ten_off):
    body = {"events": [{"name": "view_promotion", "promotion": ten_off.pk, "list": "cart_code"}]}

    response = shopper.post(
        "/analytics/collect/", json.dumps(body), content_type="application/json", HTTP_ORIGIN="http://testserver"
    )

    assert response.status_code == 204
    [event] = recorded("view_promotion")
    assert event.data == {"promotion": ten_off.pk, "where": "cart_code"}
