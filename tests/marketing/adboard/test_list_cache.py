"""The board's lists kept whole (marketing/adboard/cache.py): a second visit costs no query for
the list, and every change a list shows (a new ad, a decision, a report, a sale, a rating, an ad's
time running out) is there on the very next request."""

import datetime as dt
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketing.adboard import services
from marketing.adboard.models import Ad
from tests.factories import UserFactory
from tests.marketing.adboard.test_services import post, published, rated_pair

pytestmark = pytest.mark.django_db

URL = "/ads/c/cars/"


@pytest.fixture(autouse=True)
def _page_cache(settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    cache.clear()


def shown(client, url=URL, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_a_second_visit_reads_no_rows_of_the_board(client):
    for i in range(3):
        published(title=f"Skoda Fabia {i}")
    first = shown(client)
    with CaptureQueriesContext(connection) as queries:
        second = shown(client)
    assert second == first
    board = [q["sql"] for q in queries.captured_queries if "adboard" in q["sql"]]
    assert board == []


def test_a_new_ad_a_rejection_a_sale_and_a_report_show_at_once(client, settings):
    settings.ADBOARD_REPORTS_TO_HIDE = 1
    kept = published(title="Skoda Fabia")
    assert "Skoda Fabia" in shown(client)

    waiting = post(title="Honda Jazz")
    assert "Honda Jazz" not in shown(client)
    services.ad_approve(waiting)
    assert "Honda Jazz" in shown(client)

    services.ad_reject(waiting, reason="Blurred photos")
    assert "Honda Jazz" not in shown(client)

    services.ad_mark_sold(kept, kept.owner)
    assert "Skoda Fabia" not in shown(client)

    reported = published(title="Mazda 2")
    assert "Mazda 2" in shown(client)
    services.report(UserFactory(), ad=reported, reason="fraud")
    assert "Mazda 2" not in shown(client)


def test_a_sellers_new_rating_is_on_their_cards_at_once(client):
    seller, buyer, ad = rated_pair()
    assert "★" not in shown(client, q="golf")
    services.rating_set(seller, buyer, stars=5)
    assert "3.8" in shown(client, q="golf")  # (17.5 + 5) / 6 = 3.75


def test_an_admin_edit_shows_at_once(admin_client, client):
    ad = published(title="Ford Ka")
    assert "Ford Ka" in shown(client)
    ad.title = "Ford Ka+"
    ad.save()  # as the admin's change form does
    assert "Ford Ka+" in shown(client)


def test_a_list_is_not_kept_past_the_first_of_its_ads_to_expire(client):
    ad = published(title="Fiat Panda")
    Ad.objects.filter(pk=ad.pk).update(expires_at=timezone.now() + dt.timedelta(seconds=1))
    assert "Fiat Panda" in shown(client)  # no write will say when its time is up
    time.sleep(1.2)
    assert "Fiat Panda" not in shown(client)


def test_the_save_search_form_is_the_members_own_and_never_kept(client):
    published(title="Volvo V70")
    anonymous = shown(client, q="volvo")
    assert "Save this search" not in anonymous and "csrfmiddlewaretoken" not in anonymous
    member = UserFactory()
    client.force_login(member)
    page = shown(client, q="volvo")
    assert "Save this search" in page and "csrfmiddlewaretoken" in page


def test_unknown_parameters_and_mistakes_are_answered_without_the_cache(client):
    published(title="Opel Corsa")
    shown(client)
    with CaptureQueriesContext(connection) as queries:
        page = shown(client, utm_source="newsletter")
    assert any("adboard_ad" in q["sql"] for q in queries.captured_queries)
    assert "utm_source" not in page or "Opel Corsa" in page
    assert client.get(URL, {"min_price": "abc"}).status_code == 400
    assert client.get(URL, {"page": "99"}).status_code == 404


def test_the_apis_list_is_kept_and_changes_at_once_too(client):
    published(title="Seat Ibiza")
    first = client.get("/api/v1/listings/", {"category": "cars"}).json()
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/api/v1/listings/", {"category": "cars"}).json()
    assert again == first and not [q for q in queries.captured_queries if "adboard" in q["sql"]]
    services.ad_mark_sold(Ad.objects.get(title="Seat Ibiza"), Ad.objects.get(title="Seat Ibiza").owner)
    assert client.get("/api/v1/listings/", {"category": "cars"}).json()["count"] == 0
