"""The board's API (/api/v1/listings/, conversations/, sellers/<id>/ratings/, ratings/, messages/,
saved-searches/): each operation's happy path, who may do what (owner, stranger, moderator, banned
member, anonymous), what stays hidden, search and filters, refusals with their messages, query
counts at two sizes, and every answer checked against the schema."""

import json

import jsonschema
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketing.adboard import services
from marketing.adboard.models import Ad, AdPhoto, Conversation, Member, Message, Rating, Report, SavedAd, SavedSearch
from tests.api import conformance
from tests.api.conformance import assert_conforms
from tests.marketing.adboard.helpers import jpeg_bytes, make_ad, make_member

pytestmark = pytest.mark.django_db

LISTINGS = "/api/v1/listings/"
MINE = "/api/v1/listings/mine/"
CATEGORIES = "/api/v1/listings/categories/"
CONVERSATIONS = "/api/v1/conversations/"
SAVED_SEARCHES = "/api/v1/saved-searches/"


def ad_url(ad, rest=""):
    return f"{LISTINGS}{ad.pk}/{rest}"


def ratings_url(seller):
    return f"/api/v1/sellers/{seller.pk}/ratings/"


def jpeg(name="photo.jpg", **kw):
    return SimpleUploadedFile(name, jpeg_bytes(**kw), content_type="image/jpeg")


def car(**changes):
    data = {
        "category": "cars",
        "title": "Volvo V70 estate",
        "description": "One owner, full service history.",
        "price_kind": "fixed",
        "price": "4500",
        "condition": "good",
        "city": "Portland",
        "region": "Oregon",
        "details": json.dumps({"year": 2012, "mileage": 150000, "fuel": "diesel"}),
        "photos": [jpeg("front.jpg"), jpeg("back.jpg", color=(150, 40, 40))],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def ok(response, status=200):
    assert response.status_code == status, response.content
    path = response.request["PATH_INFO"]
    if path in (MINE, CATEGORIES):
        # The shared helper takes the first template that matches, /listings/{id}/ for these.
        operation = conformance.schema()["paths"][path][response.request["REQUEST_METHOD"].lower()]
        content = operation["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), conformance._json_schema(content))
        return response
    return assert_conforms(response)


def refused(response, status):
    assert response.status_code == status, response.content
    assert_conforms(response)
    body = response.json()
    assert body["detail"] and body["code"]
    return body


def as_member(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def seller():
    return make_member(first_name="Ana", last_name="Kowalski")


@pytest.fixture
def buyer():
    return make_member(first_name="Ben", last_name="Ortiz")


@pytest.fixture
def moderator():
    user = make_member()
    user.user_permissions.add(Permission.objects.get(codename="moderate_ad"))
    return user


@pytest.fixture
def banned():
    user = make_member()
    services.member_ban(user, reason="Spam")
    return user


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


# --- the list and search --------------------------------------------------------------------


def test_it_lists_public_ads_for_anyone_in_the_documented_shape(api, seller):
    ad = make_ad(seller, title="Volvo V70 estate", price="4500")

    body = ok(api.get(LISTINGS)).json()

    assert body["count"] == 1
    item = body["results"][0]
    assert item["id"] == ad.pk
    assert item["title"] == "Volvo V70 estate"
    assert item["price"] == "4500.00" and item["currency"] and item["price_kind"] == "fixed"
    assert item["url"].endswith(ad.get_absolute_url())
    assert item["category"] == {"slug": "cars", "name": "Cars", "path": "Vehicles › Cars"}
    assert item["details"]["year"] == 2015
    assert item["cover"].startswith("http://testserver/") and item["photo_count"] == 1
    assert item["seller"]["name"] == "Ana K."
    assert item["seller"]["rating"] is None and item["seller"]["rating_count"] == 0
    assert "status" not in item and "email" not in json.dumps(item)


def test_ads_not_public_are_absent_from_the_list(api, seller):
    shown = make_ad(seller)
    for status in ("pending", "rejected", "hidden", "sold", "expired", "deleted"):
        make_ad(seller, status=status)

    assert ids(ok(api.get(LISTINGS))) == [shown.pk]


def test_it_searches_and_filters_as_the_pages_do(api, seller):
    old = make_ad(seller, title="Volvo estate", price="3000", details={"year": 2005, "fuel": "diesel"})
    new = make_ad(seller, title="Volvo saloon", price="9000", details={"year": 2018, "fuel": "hybrid"})
    sofa = make_ad(seller, category_slug="furniture", title="Leather sofa", price="300")

    assert set(ids(ok(api.get(LISTINGS, {"q": "volvo"})))) == {old.pk, new.pk}
    assert ids(ok(api.get(LISTINGS, {"q": "vovlo"}))) != []  # a misspelt word is corrected
    assert set(ids(ok(api.get(LISTINGS, {"category": "vehicles"})))) == {old.pk, new.pk}
    assert ids(ok(api.get(LISTINGS, {"category": "cars", "f_year_min": "2010"}))) == [new.pk]
    assert ids(ok(api.get(LISTINGS, {"category": "cars", "f_fuel": ["diesel"]}))) == [old.pk]
    assert ids(ok(api.get(LISTINGS, {"max_price": "350"}))) == [sofa.pk]
    assert ids(ok(api.get(LISTINGS, {"condition": ["new", "fair"]}))) == []
    assert ids(ok(api.get(LISTINGS, {"sort": "price", "category": "home"}))) == [sofa.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"min_price": "abc"}, "min_price"),
        ({"min_price": "NaN"}, "min_price"),
        ({"min_price": "1e400"}, "min_price"),
        ({"min_price": "50", "max_price": "10"}, "max_price"),
        ({"category": "spaceships"}, "category"),
        ({"sort": "cheapest"}, "sort"),
        ({"category": "cars", "f_year_min": "old"}, "f_year"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api, query, field):
    body = refused(api.get(LISTINGS, query), 400)

    assert field in body["errors"] and body["errors"][field][0]


def test_huge_and_odd_filter_values_are_never_a_500(api, seller):
    make_ad(seller)

    for query in (
        {"category": "cars", "f_year_min": "9" * 30},
        {"max_price": "9999999999"},
        {"q": "x" * 500, "city": "y" * 500},
        {"page": "99999999999999999999"},
        {"page_size": "100000"},
    ):
        response = api.get(LISTINGS, query)
        assert response.status_code in (200, 400, 404), (query, response.content)
        assert_conforms(response)


def test_the_list_costs_the_same_queries_for_2_or_8_ads(api, seller):
    def count():
        api.get(LISTINGS, {"q": "ad"})  # the category tree and the vocabulary, cached
        with CaptureQueriesContext(connection) as queries:
            ok(api.get(LISTINGS, {"q": "ad"}))
        return len(queries)

    for _ in range(2):
        make_ad(make_member())
    small = count()
    for _ in range(6):
        make_ad(make_member())
    assert count() == small <= 4


# --- one ad -------------------------------------------------------------------------------------


def test_a_public_ad_is_shown_to_anyone_with_its_photos(api, seller):
    ad = make_ad(seller)

    body = ok(api.get(ad_url(ad))).json()

    assert body["id"] == ad.pk and body["status"] == "published"
    assert body["description"] == ad.description
    assert len(body["photos"]) == 1 and body["photos"][0]["thumbnail"].startswith("http")


@pytest.mark.parametrize("status", ["pending", "rejected", "hidden", "expired"])
def test_an_ad_not_public_is_a_404_for_strangers_and_shown_to_its_owner(api, seller, buyer, moderator, status):
    ad = make_ad(seller, status=status, reason="Blurry photo.")

    refused(api.get(ad_url(ad)), 404)
    refused(as_member(buyer).get(ad_url(ad)), 404)
    mine = ok(as_member(seller).get(ad_url(ad))).json()
    assert mine["status"] == status
    if status == "rejected":
        assert mine["rejection_reason"] == "Blurry photo."
    assert ok(as_member(moderator).get(ad_url(ad))).json()["status"] == status


def test_a_deleted_ad_is_a_404_even_for_its_owner(seller):
    ad = make_ad(seller, status="deleted")

    refused(as_member(seller).get(ad_url(ad)), 404)


def test_an_unknown_or_huge_id_is_a_404(api):
    refused(api.get(f"{LISTINGS}999999/"), 404)
    assert api.get(f"{LISTINGS}99999999999999999999999/").status_code == 404


# --- posting --------------------------------------------------------------------------------------


def test_a_member_posts_an_ad_with_photos_and_it_waits_for_a_moderator(seller):
    body = ok(as_member(seller).post(LISTINGS, car(), format="multipart"), 201).json()

    ad = Ad.objects.get(pk=body["id"])
    assert body["status"] == ad.status == Ad.Status.PENDING
    assert ad.owner == seller and ad.photo_count == 2 and ad.photos.count() == 2
    assert ad.details == {"year": 2012, "mileage": 150000, "fuel": "diesel"}
    assert body["price"] == "4500.00" and len(body["photos"]) == 2


def test_details_can_come_as_one_form_part_each(seller):
    data = car(details=None)
    data.update({"details[year]": "2010", "details[mileage]": "1000", "details[fuel]": "petrol"})

    body = ok(as_member(seller).post(LISTINGS, data, format="multipart"), 201).json()

    assert body["details"] == {"year": 2010, "mileage": 1000, "fuel": "petrol"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"details": "{not json"}, "details"),
        ({"details": "[1, 2]"}, "details"),
        ({"details": json.dumps({"year": 2012, "fuel": "diesel"})}, "details.mileage"),  # required
        ({"details": json.dumps({"year": "1e999999999", "mileage": 1, "fuel": "diesel"})}, "details.year"),
        ({"details": json.dumps({"year": 1900, "mileage": 1, "fuel": "diesel"})}, "details.year"),
        ({"details": json.dumps({"year": 2012, "mileage": 1, "fuel": "coal"})}, "details.fuel"),
        ({"details": json.dumps({"year": 2012, "mileage": 1, "fuel": "diesel", "wings": 2})}, "details.wings"),
        ({"category": "spaceships"}, "category"),
        ({"category": "vehicles"}, "category"),  # not the most precise
        ({"price": "abc"}, "price"),
        ({"price": "99999999999999999999"}, "price"),
        ({"price": "-5"}, "price"),
        ({"price": None}, "price"),  # fixed needs one
        ({"condition": "mint"}, "condition"),
        ({"title": "x" * 91}, "title"),
        ({"photos": None}, "photos"),
        ({"photos": [SimpleUploadedFile("cv.pdf", b"%PDF-1.4 not a picture", content_type="image/jpeg")]}, "photos"),
        ({"photos": [jpeg(w=50, h=50)]}, "photos"),  # too small
        ({"photos": [jpeg(f"{i}.jpg") for i in range(9)]}, "photos"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(seller, changes, field):
    body = refused(as_member(seller).post(LISTINGS, car(**changes), format="multipart"), 400)

    assert field in body["errors"], body
    assert not Ad.objects.exists()


def test_more_files_than_a_form_may_carry_is_a_400(seller, settings):
    data = car(photos=[jpeg(f"{i}.jpg", w=200, h=200) for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)])

    body = refused(as_member(seller).post(LISTINGS, data, format="multipart"), 400)
    assert body["detail"].startswith("Too many parts in the form")
    ad = make_ad(seller)
    refused(as_member(seller).patch(ad_url(ad), {"photos_add": data["photos"]}, format="multipart"), 400)


def test_json_is_not_how_an_ad_with_photos_is_posted(seller):
    refused(as_member(seller).post(LISTINGS, {"title": "x"}, format="json"), 415)


def test_anonymous_clients_cannot_post(api):
    refused(api.post(LISTINGS, car(), format="multipart"), 401)


def test_a_banned_member_cannot_post(banned):
    refused(as_member(banned).post(LISTINGS, car(), format="multipart"), 403)
    assert not Ad.objects.exists()


def test_a_member_at_the_quota_gets_a_409(seller, settings):
    settings.ADBOARD_MAX_ACTIVE_ADS = 1
    make_ad(seller)

    refused(as_member(seller).post(LISTINGS, car(), format="multipart"), 409)


# --- editing and the owner's actions -----------------------------------------------------------


def test_the_owner_edits_with_json(seller, settings):
    settings.ADBOARD_PREMODERATION = False
    ad = make_ad(seller, status="published")

    body = ok(as_member(seller).patch(ad_url(ad), {"title": "Volvo V70, new tyres", "price": "4200"}, format="json"))
    body = body.json()

    ad.refresh_from_db()
    assert body["title"] == ad.title == "Volvo V70, new tyres"
    assert ad.price == 4200 and body["price"] == "4200.00"


def test_the_owner_adds_and_removes_photos(seller):
    ad = make_ad(seller)
    first = ad.photos.get()

    data = {"photos_add": [jpeg("a.jpg"), jpeg("b.jpg", color=(10, 200, 10))], "photos_remove": [first.pk]}
    body = ok(as_member(seller).patch(ad_url(ad), data, format="multipart")).json()

    ad.refresh_from_db()
    assert ad.photo_count == 2 and len(body["photos"]) == 2
    assert not AdPhoto.objects.filter(pk=first.pk).exists()
    assert body["status"] == "pending"  # checked again under pre-moderation


def test_removing_the_last_photo_is_a_400(seller):
    ad = make_ad(seller)

    refused(as_member(seller).patch(ad_url(ad), {"photos_remove": [ad.photos.get().pk]}, format="json"), 400)


def test_a_rejected_ad_edited_goes_back_to_the_queue_without_its_reason(seller):
    ad = make_ad(seller, status="rejected")

    body = ok(as_member(seller).patch(ad_url(ad), {"description": "Better photos now."}, format="json")).json()

    assert body["status"] == "pending" and body["rejection_reason"] == ""


def test_only_the_owner_edits_or_deletes(seller, buyer, moderator, banned, api):
    ad = make_ad(seller)

    refused(as_member(buyer).patch(ad_url(ad), {"title": "Mine now"}, format="json"), 403)
    refused(as_member(moderator).patch(ad_url(ad), {"title": "Mine now"}, format="json"), 403)
    refused(as_member(banned).patch(ad_url(ad), {"title": "Mine now"}, format="json"), 403)
    refused(api.patch(ad_url(ad), {"title": "Mine now"}, format="json"), 401)
    refused(as_member(buyer).delete(ad_url(ad)), 403)
    refused(api.delete(ad_url(ad)), 401)
    ad.refresh_from_db()
    assert ad.title != "Mine now" and ad.status == Ad.Status.PUBLISHED


def test_a_stranger_editing_an_ad_not_public_gets_a_404(seller, buyer):
    ad = make_ad(seller, status="pending")

    refused(as_member(buyer).patch(ad_url(ad), {"title": "x"}, format="json"), 404)
    refused(as_member(buyer).delete(ad_url(ad)), 404)


def test_a_banned_owner_cannot_edit(seller):
    ad = make_ad(seller)
    services.member_ban(seller)

    refused(as_member(seller).patch(ad_url(ad), {"title": "Still selling"}, format="json"), 403)


def test_the_owner_deletes_and_the_ad_is_gone(seller, api):
    ad = make_ad(seller)

    assert as_member(seller).delete(ad_url(ad)).status_code == 204

    ad.refresh_from_db()
    assert ad.status == Ad.Status.DELETED
    refused(api.get(ad_url(ad)), 404)
    refused(as_member(seller).delete(ad_url(ad)), 404)


def test_the_owner_marks_sold_and_renews(seller, buyer):
    ad = make_ad(seller)

    refused(as_member(seller).post(ad_url(ad, "renew/")), 409)  # not expiring yet
    refused(as_member(buyer).post(ad_url(ad, "sold/")), 403)
    assert ok(as_member(seller).post(ad_url(ad, "sold/"))).json()["status"] == "sold"
    refused(as_member(seller).post(ad_url(ad, "sold/")), 409)

    expired = make_ad(seller, status="expired")
    assert ok(as_member(seller).post(ad_url(expired, "renew/"))).json()["status"] == "published"


def test_my_ads_list_every_state_but_deleted_with_the_reason(seller, buyer):
    rejected = make_ad(seller, status="rejected", reason="No prices in the title.")
    pending = make_ad(seller, status="pending")
    make_ad(seller, status="deleted")
    make_ad(buyer)

    body = ok(as_member(seller).get(MINE)).json()

    assert ids_of(body) == [pending.pk, rejected.pk]
    assert body["results"][1]["rejection_reason"] == "No prices in the title."
    refused(APIClient().get(MINE), 401)


def ids_of(body):
    return [item["id"] for item in body["results"]]


def test_my_ads_cost_the_same_queries_for_2_or_6_ads(seller):
    client = as_member(seller)

    def count():
        client.get(MINE)
        with CaptureQueriesContext(connection) as queries:
            ok(client.get(MINE))
        return len(queries)

    make_ad(seller)
    make_ad(seller, status="pending")
    small = count()
    for _ in range(4):
        make_ad(seller)
    assert count() == small


def test_saving_an_ad(seller, buyer, api):
    ad = make_ad(seller)
    client = as_member(buyer)

    assert ok(client.post(ad_url(ad, "save/")), 201).json() == {"saved": True}
    assert ok(client.post(ad_url(ad, "save/")), 200).json() == {"saved": True}
    assert SavedAd.objects.filter(user=buyer, ad=ad).count() == 1
    assert client.delete(ad_url(ad, "save/")).status_code == 204
    assert not SavedAd.objects.exists()
    refused(api.post(ad_url(ad, "save/")), 401)
    refused(client.post(ad_url(make_ad(seller, status="pending"), "save/")), 404)


# --- categories ---------------------------------------------------------------------------------


def test_the_categories_come_in_tree_order_with_their_details(api):
    body = ok(api.get(CATEGORIES)).json()

    slugs = [c["slug"] for c in body]
    assert slugs.index("vehicles") < slugs.index("cars")
    cars = next(c for c in body if c["slug"] == "cars")
    assert cars["parent"] == "vehicles" and cars["depth"] == 1 and cars["postable"] is True
    assert cars["path"] == "Vehicles › Cars"
    year = next(f for f in cars["fields"] if f["key"] == "year")
    assert year == {
        "key": "year",
        "label": "Year",
        "kind": "number",
        "unit": "",
        "choices": [],
        "min": 1950,
        "max": 2030,
        "required": True,
        "filterable": True,
    }
    vehicles = next(c for c in body if c["slug"] == "vehicles")
    assert vehicles["parent"] is None and vehicles["postable"] is False


# --- messages -----------------------------------------------------------------------------------


def test_a_buyer_writes_and_the_seller_replies(seller, buyer):
    ad = make_ad(seller)

    sent = ok(as_member(buyer).post(ad_url(ad, "messages/"), {"body": "Is it still for sale?"}, format="json"), 201)
    conversation = Conversation.objects.get(pk=sent.json()["conversation"])
    assert (conversation.buyer, conversation.seller, conversation.ad) == (buyer, seller, ad)

    inbox = ok(as_member(seller).get(CONVERSATIONS)).json()
    assert inbox["results"][0]["id"] == conversation.pk
    assert inbox["results"][0]["unread"] is True and inbox["results"][0]["role"] == "seller"

    thread = ok(as_member(seller).get(f"{CONVERSATIONS}{conversation.pk}/")).json()
    assert [m["body"] for m in thread["messages"]] == ["Is it still for sale?"]
    assert thread["messages"][0]["mine"] is False
    assert ok(as_member(seller).get(CONVERSATIONS)).json()["results"][0]["unread"] is False

    url = f"{CONVERSATIONS}{conversation.pk}/messages/"
    ok(as_member(seller).post(url, {"body": "Yes, come see it."}, format="json"), 201)
    assert Message.objects.filter(conversation=conversation).count() == 2

    # Writing again about the ad continues the same conversation.
    ok(as_member(buyer).post(ad_url(ad, "messages/"), {"body": "Great, Saturday?"}, format="json"), 201)
    assert Conversation.objects.count() == 1


def test_only_the_two_members_and_moderators_open_a_conversation(seller, buyer, moderator, api):
    message = services.contact(make_ad(seller), buyer, "Hello")
    url = f"{CONVERSATIONS}{message.conversation_id}/"
    stranger = make_member()

    refused(as_member(stranger).get(url), 404)
    refused(as_member(stranger).post(f"{url}messages/", {"body": "Hi"}, format="json"), 404)
    refused(api.get(url), 401)
    ok(as_member(moderator).get(url))
    refused(as_member(moderator).post(f"{url}messages/", {"body": "Hi"}, format="json"), 404)
    assert ok(as_member(stranger).get(CONVERSATIONS)).json()["count"] == 0


def test_message_refusals(seller, buyer, banned):
    ad = make_ad(seller)

    refused(as_member(seller).post(ad_url(ad, "messages/"), {"body": "Me"}, format="json"), 409)
    refused(as_member(buyer).post(ad_url(ad, "messages/"), {"body": "   "}, format="json"), 400)
    refused(as_member(buyer).post(ad_url(ad, "messages/"), {"body": "x" * 2001}, format="json"), 400)
    refused(as_member(buyer).post(ad_url(ad, "messages/"), {"body": ["a list"]}, format="json"), 400)
    refused(as_member(banned).post(ad_url(ad, "messages/"), {"body": "Hi"}, format="json"), 403)
    refused(as_member(buyer).post(ad_url(make_ad(seller, status="pending"), "messages/"), {"body": "Hi"}), 404)
    refused(APIClient().post(ad_url(ad, "messages/"), {"body": "Hi"}, format="json"), 401)


def test_too_many_messages_is_a_429(seller, buyer, settings):
    settings.ADBOARD_MESSAGES_PER_HOUR = (1, 3600)
    ad = make_ad(seller)
    client = as_member(buyer)

    ok(client.post(ad_url(ad, "messages/"), {"body": "One"}, format="json"), 201)
    refused(client.post(ad_url(ad, "messages/"), {"body": "Two"}, format="json"), 429)


def test_the_conversations_cost_the_same_queries_for_2_or_6(seller):
    client = as_member(seller)

    def count():
        with CaptureQueriesContext(connection) as queries:
            ok(client.get(CONVERSATIONS))
        return len(queries)

    for _ in range(2):
        services.contact(make_ad(seller), make_member(), "Hello")
    small = count()
    for _ in range(4):
        services.contact(make_ad(seller), make_member(), "Hello")
    assert count() == small


# --- ratings ------------------------------------------------------------------------------------


def test_a_member_who_wrote_rates_the_seller_and_edits_it(seller, buyer, api):
    ad = make_ad(seller)
    services.contact(ad, buyer, "Still there?")
    client = as_member(buyer)

    first = ok(client.post(ratings_url(seller), {"stars": 5, "comment": "Smooth.", "ad": ad.pk}, format="json"), 201)
    assert first.json()["ad"] == {"id": ad.pk, "title": ad.title}
    again = ok(client.post(ratings_url(seller), {"stars": 4, "comment": "Fine."}, format="json"), 200).json()

    assert again["id"] == first.json()["id"] and again["stars"] == 4
    member = Member.objects.get(user=seller)
    assert (member.rating_count, member.rating_sum) == (1, 4)
    listed = ok(api.get(ratings_url(seller))).json()
    assert [r["stars"] for r in listed["results"]] == [4]
    seller_box = ok(api.get(ad_url(ad))).json()["seller"]
    assert seller_box["rating_count"] == 1 and seller_box["rating"] == "3.583"  # (4 + 5·3.5) / 6


def test_rating_refusals(seller, buyer, banned, api):
    refused(as_member(buyer).post(ratings_url(seller), {"stars": 5}, format="json"), 403)  # never wrote
    services.contact(make_ad(seller), buyer, "Hello")
    for bad in ({"stars": 0}, {"stars": 6}, {"stars": "many"}, {"stars": 5, "ad": 99999999999}, {}):
        refused(as_member(buyer).post(ratings_url(seller), bad, format="json"), 400)
    refused(as_member(buyer).post(ratings_url(seller), {"stars": 5, "ad": make_ad().pk}, format="json"), 400)
    refused(as_member(seller).post(ratings_url(seller), {"stars": 5}, format="json"), 403)  # oneself
    refused(api.post(ratings_url(seller), {"stars": 5}, format="json"), 401)
    refused(api.get("/api/v1/sellers/999999/ratings/"), 404)
    assert not Rating.objects.exists()


def test_hidden_ratings_are_not_listed(seller, buyer, api):
    services.contact(make_ad(seller), buyer, "Hello")
    rating, _created = services.rating_set(seller, buyer, stars=1, comment="Rude")
    services.rating_hide(rating, hidden=True)

    assert ok(api.get(ratings_url(seller))).json()["count"] == 0


def test_the_seller_replies_once_and_the_author_deletes(seller, buyer):
    services.contact(make_ad(seller), buyer, "Hello")
    rating, _created = services.rating_set(seller, buyer, stars=4)
    url = f"/api/v1/ratings/{rating.pk}/"

    refused(as_member(buyer).post(f"{url}reply/", {"reply": "Me?"}, format="json"), 403)
    refused(as_member(seller).post(f"{url}reply/", {"reply": " "}, format="json"), 400)
    assert ok(as_member(seller).post(f"{url}reply/", {"reply": "Thanks!"}, format="json")).json()["reply"] == "Thanks!"
    refused(as_member(seller).post(f"{url}reply/", {"reply": "Again"}, format="json"), 409)

    refused(as_member(seller).delete(url), 403)
    refused(as_member(make_member()).delete(url), 403)
    assert as_member(buyer).delete(url).status_code == 204
    assert not Rating.objects.exists()
    assert Member.objects.get(user=seller).rating_count == 0
    refused(as_member(buyer).delete(url), 404)


def test_the_ratings_list_costs_the_same_queries_for_2_or_6(seller, api):
    def count():
        with CaptureQueriesContext(connection) as queries:
            ok(api.get(ratings_url(seller)))
        return len(queries)

    def rate():
        rater = make_member()
        services.contact(ad, rater, "Hello")
        services.rating_set(seller, rater, stars=5, ad=ad)

    ad = make_ad(seller)
    for _ in range(2):
        rate()
    small = count()
    for _ in range(4):
        rate()
    assert count() == small


# --- reports ------------------------------------------------------------------------------------


def test_reports_past_the_threshold_hide_an_ad(seller, api, settings):
    settings.ADBOARD_REPORTS_TO_HIDE = 3
    ad = make_ad(seller)
    reporters = [make_member() for _ in range(3)]

    ok(as_member(reporters[0]).post(ad_url(ad, "report/"), {"reason": "fraud", "comment": "Too cheap"}), 201)
    refused(as_member(reporters[0]).post(ad_url(ad, "report/"), {"reason": "spam"}), 409)
    ok(as_member(reporters[1]).post(ad_url(ad, "report/"), {"reason": "spam"}), 201)
    assert ids(api.get(LISTINGS)) == [ad.pk]
    ok(as_member(reporters[2]).post(ad_url(ad, "report/"), {"reason": "spam"}), 201)

    ad.refresh_from_db()
    assert ad.status == Ad.Status.HIDDEN and ad.report_count == 3
    assert ids(api.get(LISTINGS)) == []
    refused(api.get(ad_url(ad)), 404)


def test_report_refusals(seller, buyer, api):
    ad = make_ad(seller)

    refused(as_member(seller).post(ad_url(ad, "report/"), {"reason": "spam"}), 409)  # one's own
    refused(as_member(buyer).post(ad_url(ad, "report/"), {"reason": "boring"}), 400)
    refused(api.post(ad_url(ad, "report/"), {"reason": "spam"}), 401)
    refused(as_member(buyer).post(ad_url(make_ad(seller, status="pending"), "report/"), {"reason": "spam"}), 404)
    assert not Report.objects.exists()


def test_a_member_reports_a_message_of_their_own_conversation_only(seller, buyer):
    message = services.contact(make_ad(seller), buyer, "Pay me outside the board")
    url = f"/api/v1/messages/{message.pk}/report/"

    refused(as_member(make_member()).post(url, {"reason": "fraud"}), 404)
    refused(as_member(buyer).post(url, {"reason": "fraud"}), 409)  # one's own message
    ok(as_member(seller).post(url, {"reason": "fraud"}), 201)
    refused(as_member(seller).post(url, {"reason": "fraud"}), 409)
    assert Report.objects.get().message == message


def test_a_rating_is_reported(seller, buyer):
    services.contact(make_ad(seller), buyer, "Hello")
    rating, _created = services.rating_set(seller, buyer, stars=1, comment="Awful person")
    url = f"/api/v1/ratings/{rating.pk}/report/"

    ok(as_member(seller).post(url, {"reason": "offensive"}), 201)
    refused(as_member(seller).post(url, {"reason": "offensive"}), 409)
    refused(as_member(buyer).post(url, {"reason": "offensive"}), 409)  # one's own
    refused(as_member(seller).post("/api/v1/ratings/999999/report/", {"reason": "spam"}), 404)


# --- saved searches -----------------------------------------------------------------------------


def test_a_member_saves_lists_and_deletes_searches(buyer):
    client = as_member(buyer)

    saved = ok(client.post(SAVED_SEARCHES, {"query": "?category=cars&q=volvo&max_price=5000"}), 201).json()

    assert saved["query"] == "q=volvo&category=cars&max_price=5000" and saved["alerts"] is True
    assert saved["name"] and saved["results"].endswith(f"{LISTINGS}?q=volvo&category=cars&max_price=5000")
    assert ok(client.get(SAVED_SEARCHES)).json()["count"] == 1
    other = as_member(make_member())
    refused(other.delete(f"{SAVED_SEARCHES}{saved['id']}/"), 404)
    assert ok(other.get(SAVED_SEARCHES)).json()["count"] == 0
    assert client.delete(f"{SAVED_SEARCHES}{saved['id']}/").status_code == 204
    assert not SavedSearch.objects.exists()


def test_saved_search_refusals(buyer, settings, api):
    client = as_member(buyer)

    body = refused(client.post(SAVED_SEARCHES, {"query": "min_price=abc"}), 400)
    assert "query" in body["errors"]
    refused(client.post(SAVED_SEARCHES, {"query": "q=x", "alerts": "perhaps"}), 400)
    settings.ADBOARD_MAX_SAVED_SEARCHES = 1
    ok(client.post(SAVED_SEARCHES, {"query": "q=sofa"}), 201)
    refused(client.post(SAVED_SEARCHES, {"query": "q=chair"}), 409)
    refused(api.get(SAVED_SEARCHES), 401)


# --- throttles ----------------------------------------------------------------------------------


def test_writes_are_throttled_per_member_and_reads_are_not(seller, buyer, monkeypatch):
    from marketing.adboard.api import BoardWriteThrottle

    monkeypatch.setattr(BoardWriteThrottle, "THROTTLE_RATES", {"adboard": "2/minute"})
    ad = make_ad(seller)
    client = as_member(buyer)

    ok(client.post(ad_url(ad, "save/")), 201)
    ok(client.post(ad_url(ad, "save/")), 200)
    refused(client.post(ad_url(ad, "save/")), 429)
    for _ in range(3):
        ok(client.get(LISTINGS))
