"""The beacon of what only the browser knows (marketing/analytics/views.py)."""

import json

import pytest
from django.test import Client

from marketing.analytics import recorder
from marketing.analytics.models import Event
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/analytics/collect/"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@pytest.fixture(autouse=True)
def recording(settings):
    settings.ANALYTICS_RECORDING = True
    recorder._paused_until = 0.0


def beacon(body, client=None, origin="http://testserver"):
    client = client or Client(HTTP_USER_AGENT=AGENT)
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(URL, data, content_type="application/json", **headers)


def test_impressions_and_a_choice_are_recorded_in_the_page_s_visit():
    shoes = ProductFactory.create_batch(3)
    browser = Client(HTTP_USER_AGENT=AGENT)
    browser.get("/")
    ids = [p.pk for p in shoes]
    response = beacon(
        {"events": [{"name": "view_item_list", "list": "shoes", "items": ids},
                    {"name": "select_item", "list": "shoes", "product": ids[1]}]},
        browser,
    )  # fmt: skip
    assert response.status_code == 204
    # The rows of this browser's visit (a browser test that ran before on this worker may still
    # send its page's last beacon to the live server: that row is another visit's).
    visit = Event.objects.get(name="view_item_list", data__list="shoes").visit
    rows = list(Event.objects.filter(visit=visit).order_by("id").values_list("name", "visit", "product_id", "data"))
    page, impressions, choice = rows
    assert impressions[:2] == ("view_item_list", page[1]) and impressions[3] == {"list": "shoes", "items": ids}
    assert choice[:3] == ("select_item", page[1], ids[1]) and choice[3] == {"list": "shoes"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "Send JSON"),
        ({"events": []}, "Send 1 to 30 events"),
        ({"events": [{"name": "purchase", "order": 1}]}, "An event's name is one of"),
        ({"events": [{"name": "select_item", "product": "1; DROP"}]}, "select_item takes product"),
        ({"events": [{"name": "view_item_list", "items": list(range(1, 80))}]}, "1 to 60 product ids"),
        ({"events": [{"name": "select_item", "product": 999999}]}, "not this store's"),
        ({"events": [{"name": "view_promotion", "promotion": True}]}, "takes promotion"),
    ],
)
def test_a_bad_beacon_is_a_400_with_its_reason_and_records_nothing(body, message):
    response = beacon(body)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert Event.objects.count() == 0


def test_a_beacon_from_another_site_or_none_is_refused():
    product = ProductFactory()
    body = {"events": [{"name": "select_item", "product": product.pk}]}
    assert beacon(body, origin="https://evil.example").status_code == 403
    assert beacon(body, origin=None).status_code == 403
    assert Event.objects.count() == 0
    assert Client().get(URL).status_code == 405


def test_a_client_is_limited_to_a_number_of_beacons_a_minute(monkeypatch):
    from marketing.analytics import views

    monkeypatch.setattr(views, "RATE", 3)
    product = ProductFactory()
    body = {"events": [{"name": "select_item", "product": product.pk}]}
    statuses = [beacon(body).status_code for _n in range(5)]
    assert statuses == [204, 204, 204, 429, 429]


def test_a_huge_beacon_is_refused():
    assert beacon("x" * 20_000).status_code == 400


def test_a_sandboxed_page_s_null_origin_is_refused_and_a_same_site_referer_is_enough():
    product = ProductFactory()
    body = {"events": [{"name": "select_item", "product": product.pk}]}
    assert beacon(body, origin="null").status_code == 403
    client = Client(HTTP_USER_AGENT=AGENT)
    response = client.post(URL, json.dumps(body), content_type="application/json",
                           HTTP_REFERER="http://testserver/products/")  # fmt: skip
    assert response.status_code == 204
    assert Event.objects.filter(name="select_item").count() == 1


def test_a_forged_forwarded_for_header_does_not_escape_the_limit(monkeypatch):
    """Without a trusted proxy (SHOP_TRUSTED_PROXIES) the limit is keyed on the connection's address."""
    from marketing.analytics import views

    monkeypatch.setattr(views, "RATE", 3)
    product = ProductFactory()
    body = {"events": [{"name": "select_item", "product": product.pk}]}
    statuses = []
    for n in range(5):
        client = Client(HTTP_USER_AGENT=AGENT, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        statuses.append(beacon(body, client).status_code)
    assert statuses == [204, 204, 204, 429, 429]
