"""The board's pages over HTTP: posting, visibility, search and filters, the owner's actions,
messages, ratings, reports, saving, and the queries a page costs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketing.adboard import services
from marketing.adboard.models import Ad, Conversation, Member, Rating, SavedAd, SavedSearch
from tests.marketing.adboard.helpers import jpeg_bytes, make_ad, make_member

pytestmark = pytest.mark.django_db

POST = reverse("adboard:post")
LIST = reverse("adboard:list")


def car_form(**changes):
    data = {
        "category": "cars",
        "title": "Volvo V70 estate",
        "description": "One owner, full service history.\nWinter tyres included.",
        "price_kind": "fixed",
        "price": "4500",
        "condition": "good",
        "city": "Portland",
        "region": "Oregon",
        "d_year": "2012",
        "d_mileage": "150000",
        "d_fuel": "diesel",
        "d_gearbox": "manual",
        "photos": [
            SimpleUploadedFile("front.jpg", jpeg_bytes(), content_type="image/jpeg"),
            SimpleUploadedFile("back.jpg", jpeg_bytes(500, 400, color=(150, 40, 40)), content_type="image/jpeg"),
        ],
    }
    data.update(changes)
    return data


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def seller(client):
    return make_member(first_name="Sofia", last_name="Lind", email="sofia@example.org")


@pytest.fixture
def buyer():
    return make_member(first_name="Omar", last_name="Haddad", email="omar@example.org")


# -- posting ------------------------------------------------------------------------------------


def test_it_posts_an_ad_with_photos_and_the_categorys_details(client, seller):
    client.force_login(seller)

    response = client.post(POST, car_form())

    ad = Ad.objects.get(owner=seller)
    assert response.status_code == 302 and response.url == ad.get_absolute_url()
    assert ad.status == Ad.Status.PENDING
    assert ad.details == {"year": 2012, "mileage": 150000, "fuel": "diesel", "gearbox": "manual"}
    assert ad.photos.count() == 2 and ad.photo_count == 2
    page = client.get(ad.get_absolute_url())
    assert page.status_code == 200
    assert "Waiting for review" in text(page) and "150,000 km" in text(page)


def test_the_category_step_lists_only_the_most_precise_categories(client, seller):
    client.force_login(seller)

    page = text(client.get(POST))

    assert "?category=cars" in page and "?category=vehicles" not in page
    form = client.get(POST + "?category=cars")
    assert 'name="d_year"' in text(form) and 'name="d_mileage"' in text(form)


def test_a_missing_required_detail_is_refused_with_its_message(client, seller):
    client.force_login(seller)

    response = client.post(POST, car_form(d_year=""))

    assert response.status_code == 400
    assert "Year is required in this category." in text(response)
    assert not Ad.objects.exists()


def test_a_file_that_is_not_a_picture_is_refused(client, seller):
    client.force_login(seller)
    fake = SimpleUploadedFile("car.jpg", b"%PDF-1.4 not a picture", content_type="image/jpeg")

    response = client.post(POST, car_form(photos=[fake]))

    assert response.status_code == 400
    assert "not a picture we can use" in text(response)
    assert not Ad.objects.exists()


def test_nine_photos_are_refused(client, seller):
    client.force_login(seller)
    photos = [SimpleUploadedFile(f"p{i}.jpg", jpeg_bytes(), content_type="image/jpeg") for i in range(9)]

    response = client.post(POST, car_form(photos=photos))

    assert response.status_code == 400
    assert "Send at most 8 pictures." in text(response)
    assert not Ad.objects.exists()


def test_an_ad_without_photos_is_refused(client, seller):
    client.force_login(seller)

    response = client.post(POST, car_form(photos=[]))

    assert response.status_code == 400
    assert "Add 1 to 8 photos." in text(response)


def test_it_refuses_a_post_over_the_quota(client, seller, settings):
    settings.ADBOARD_MAX_ACTIVE_ADS = 1
    make_ad(owner=seller)
    client.force_login(seller)

    response = client.post(POST, car_form())

    assert response.status_code == 409
    assert "the most a member can have" in text(response)
    assert Ad.objects.filter(owner=seller).count() == 1


def test_a_banned_member_cannot_post(client, seller):
    services.member_ban(seller, reason="Scam attempts")
    client.force_login(seller)

    response = client.post(POST, car_form())

    assert response.status_code == 403
    assert "cannot post on the board" in text(response)
    assert not Ad.objects.exists()


def test_posting_needs_a_member(client):
    response = client.get(POST)

    assert response.status_code == 302 and "/account/login/" in response.url


# -- visibility and search ------------------------------------------------------------------------


def test_an_ad_is_hidden_from_others_until_approved_then_found_by_search(client, seller, buyer):
    client.force_login(seller)
    client.post(POST, car_form())
    ad = Ad.objects.get(owner=seller)
    client.logout()

    assert client.get(ad.get_absolute_url()).status_code == 404
    assert "Volvo" not in text(client.get(LIST))
    client.force_login(buyer)
    assert client.get(ad.get_absolute_url()).status_code == 404

    assert services.ad_approve(ad)

    assert client.get(ad.get_absolute_url()).status_code == 200
    found = client.get(LIST, {"q": "vovlo estate"})
    assert found.status_code == 200
    assert ad.get_absolute_url() in text(found)
    assert "Showing results for" in text(found) and "volvo" in text(found)


def test_a_wrong_slug_redirects_to_the_ads_address(client):
    ad = make_ad(title="Red sofa")

    response = client.get(reverse("adboard:detail", args=[ad.pk, "something-else"]))

    assert response.status_code == 301 and response.url == ad.get_absolute_url()


@pytest.mark.parametrize("status", ["pending", "rejected", "hidden", "deleted"])
def test_a_stranger_gets_404_for_an_ad_not_on_the_board(client, buyer, status):
    ad = make_ad(status=status)
    client.force_login(buyer)

    assert client.get(ad.get_absolute_url()).status_code == 404
    assert client.post(reverse("adboard:save", args=[ad.pk])).status_code == 404


def test_the_owner_sees_the_moderators_reason_and_can_send_the_ad_again(client, seller):
    ad = make_ad(owner=seller, status="rejected", reason="Show the car itself, please.")
    client.force_login(seller)

    page = text(client.get(ad.get_absolute_url()))

    assert "Show the car itself, please." in page and "Edit and send again" in page
    assert "Show the car itself, please." in text(client.get(reverse("adboard:mine")))


def test_filters_by_a_categorys_detail_range_price_and_condition(client):
    old = make_ad(title="Old Saab", details={"year": 2005}, price="1500")
    recent = make_ad(title="Recent Skoda", details={"year": 2019}, price="9000", condition="like_new")
    bike = make_ad(title="Road bike", category_slug="bicycles", price="300")

    by_year = text(client.get(reverse("adboard:category", args=["cars"]), {"f_year_min": "2015"}))
    assert recent.get_absolute_url() in by_year
    assert old.get_absolute_url() not in by_year and bike.get_absolute_url() not in by_year
    assert "Year from 2015" in by_year  # the chip that removes it

    by_price = text(client.get(LIST, {"max_price": "2000"}))
    assert old.get_absolute_url() in by_price and bike.get_absolute_url() in by_price
    assert recent.get_absolute_url() not in by_price

    by_condition = text(client.get(LIST, {"condition": "like_new"}))
    assert recent.get_absolute_url() in by_condition and old.get_absolute_url() not in by_condition

    vehicles = text(client.get(reverse("adboard:category", args=["vehicles"])))
    assert all(a.get_absolute_url() in vehicles for a in (old, recent, bike))


def test_a_bad_filter_is_named_and_the_list_still_shown(client):
    ad = make_ad()

    response = client.get(LIST, {"min_price": "cheap", "sort": "whatever"})

    assert response.status_code == 400
    assert "Give a price as a number" in text(response)
    assert ad.get_absolute_url() in text(response)


def test_an_unknown_category_page_is_404(client):
    assert client.get(reverse("adboard:category", args=["spaceships"])).status_code == 404


def test_it_sorts_by_price(client):
    ads = [make_ad(title=f"Car {price}", price=str(price)) for price in (300, 100, 200)]
    free = make_ad(title="Free car", price_kind="free", price=None)

    page = text(client.get(LIST, {"sort": "price"}))
    order = sorted(ads + [free], key=lambda a: page.index(a.get_absolute_url()))
    assert [a.title for a in order] == ["Free car", "Car 100", "Car 200", "Car 300"]

    page = text(client.get(LIST, {"sort": "-price"}))
    order = sorted(ads, key=lambda a: page.index(a.get_absolute_url()))
    assert [a.title for a in order] == ["Car 300", "Car 200", "Car 100"]


def test_cards_show_the_price_in_the_stores_format_free_and_negotiable(client):
    make_ad(title="Piano", price="1250.5")
    make_ad(title="Old chair", price_kind="free", price=None)
    make_ad(title="Boat", price_kind="negotiable", price=None)

    page = text(client.get(LIST))

    assert "$1,250.50" in page and "Free" in page and "Negotiable" in page


# -- the owner's actions ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sold", "renew", "delete"])
def test_a_stranger_cannot_change_someone_elses_ad(client, buyer, name):
    public = make_ad()
    waiting = make_ad(status="pending")
    client.force_login(buyer)

    assert client.post(reverse(f"adboard:{name}", args=[public.pk])).status_code == 403
    assert client.post(reverse(f"adboard:{name}", args=[waiting.pk])).status_code == 404
    public.refresh_from_db()
    assert public.status == Ad.Status.PUBLISHED


def test_a_stranger_cannot_edit_someone_elses_ad(client, buyer):
    ad = make_ad(title="Blue bike")
    client.force_login(buyer)

    assert client.get(reverse("adboard:edit", args=[ad.pk])).status_code == 403
    response = client.post(reverse("adboard:edit", args=[ad.pk]), car_form(title="Mine now"))
    assert response.status_code == 403
    ad.refresh_from_db()
    assert ad.title == "Blue bike"


def test_the_owner_edits_the_ad_and_it_waits_for_review_again(client, seller):
    ad = make_ad(owner=seller, title="Volvo V70")
    old_photo = ad.photos.get()
    client.force_login(seller)
    form = client.get(reverse("adboard:edit", args=[ad.pk]))
    assert form.status_code == 200 and 'value="Volvo V70"' in text(form)

    response = client.post(
        reverse("adboard:edit", args=[ad.pk]),
        car_form(title="Volvo V70, new tyres", remove_photos=[str(old_photo.pk)]),
    )

    assert response.status_code == 302
    ad.refresh_from_db()
    assert ad.title == "Volvo V70, new tyres" and ad.status == Ad.Status.PENDING
    assert ad.photos.count() == 2 and not ad.photos.filter(pk=old_photo.pk).exists()


def test_removing_every_photo_is_refused(client, seller):
    ad = make_ad(owner=seller)
    client.force_login(seller)

    response = client.post(
        reverse("adboard:edit", args=[ad.pk]),
        car_form(photos=[], remove_photos=[str(p.pk) for p in ad.photos.all()]),
    )

    assert response.status_code == 400 and "An ad has 1 to 8 photos." in text(response)
    assert ad.photos.count() == 1


def test_the_owner_marks_sold_renews_and_deletes(client, seller):
    ad = make_ad(owner=seller)
    client.force_login(seller)

    refused = client.post(reverse("adboard:renew", args=[ad.pk]))
    assert refused.status_code == 409 and "can be renewed" in text(refused)

    Ad.objects.filter(pk=ad.pk).update(expires_at=timezone.now() + timezone.timedelta(days=1))
    page = text(client.get(ad.get_absolute_url()))
    assert reverse("adboard:renew", args=[ad.pk]) in page
    assert client.post(reverse("adboard:renew", args=[ad.pk])).status_code == 302
    ad.refresh_from_db()
    assert ad.expires_at > timezone.now() + timezone.timedelta(days=20)

    assert client.post(reverse("adboard:sold", args=[ad.pk])).status_code == 302
    ad.refresh_from_db()
    assert ad.status == Ad.Status.SOLD
    assert client.post(reverse("adboard:sold", args=[ad.pk])).status_code == 409

    assert client.post(reverse("adboard:delete", args=[ad.pk])).status_code == 302
    ad.refresh_from_db()
    assert ad.status == Ad.Status.DELETED
    assert client.get(ad.get_absolute_url()).status_code == 404


def test_writing_actions_are_post_only(client, seller):
    ad = make_ad(owner=seller)
    client.force_login(seller)

    for name in ("sold", "renew", "delete", "save", "unsave", "contact"):
        assert client.get(reverse(f"adboard:{name}", args=[ad.pk])).status_code == 405
    assert client.get(reverse("adboard:report")).status_code == 405


def test_my_ads_show_the_quota_status_and_expiry(client, seller, settings):
    settings.ADBOARD_MAX_ACTIVE_ADS = 5
    make_ad(owner=seller, title="Lamp")
    make_ad(owner=seller, title="Desk", status="pending")
    make_ad(owner=seller, title="Gone", status="deleted")
    client.force_login(seller)

    page = text(client.get(reverse("adboard:mine")))

    assert "2 of 5 active ads" in page
    assert "Lamp" in page and "Desk" in page and "Gone" not in page
    assert "Waiting for review" in page and "Expires" in page


# -- messages, ratings ---------------------------------------------------------------------------------


def test_a_buyer_writes_the_seller_answers_and_a_stranger_sees_nothing(client, seller, buyer):
    ad = make_ad(owner=seller, title="Oak table")
    client.force_login(buyer)

    response = client.post(reverse("adboard:contact", args=[ad.pk]), {"body": "Is it still there?"})

    conversation = Conversation.objects.get(ad=ad, buyer=buyer)
    assert response.status_code == 302 and response.url == conversation.get_absolute_url()
    client.force_login(seller)
    inbox = text(client.get(reverse("adboard:inbox")))
    assert "Oak table" in inbox and "Omar H." in inbox and "Unread" in inbox
    thread = client.get(conversation.get_absolute_url())
    assert "Is it still there?" in text(thread)
    assert "Unread" not in text(client.get(reverse("adboard:inbox")))  # opened: read

    assert client.post(conversation.get_absolute_url(), {"body": "Yes, come on Saturday."}).status_code == 302
    client.force_login(buyer)
    page = text(client.get(conversation.get_absolute_url()))
    assert page.index("Is it still there?") < page.index("Yes, come on Saturday.")
    assert "sofia@example.org" not in page

    stranger = make_member()
    client.force_login(stranger)
    assert client.get(conversation.get_absolute_url()).status_code == 404
    assert client.post(conversation.get_absolute_url(), {"body": "Hi"}).status_code == 404


def test_an_empty_message_is_refused_on_the_page(client, seller, buyer):
    ad = make_ad(owner=seller)
    client.force_login(buyer)

    response = client.post(reverse("adboard:contact", args=[ad.pk]), {"body": "  "})

    assert response.status_code == 400
    assert not Conversation.objects.exists()


def test_the_seller_cannot_write_to_themselves(client, seller):
    ad = make_ad(owner=seller)
    client.force_login(seller)

    response = client.post(reverse("adboard:contact", args=[ad.pk]), {"body": "Hello me"})

    assert response.status_code == 409 and "This is your own ad." in text(response)


def test_the_ad_page_never_shows_the_sellers_email(client, seller, buyer):
    ad = make_ad(owner=seller)
    client.force_login(buyer)

    page = text(client.get(ad.get_absolute_url()))

    assert "sofia@example.org" not in page and "Sofia L." in page


def test_a_member_rates_a_seller_only_after_writing_to_them_and_can_change_it(client, seller, buyer):
    ad = make_ad(owner=seller)
    client.force_login(buyer)
    rate = reverse("adboard:rate", args=[seller.pk])

    refused = client.post(rate, {"stars": "5", "comment": "Great"})
    assert refused.status_code == 403 and "after writing to them" in text(refused)
    assert not Rating.objects.exists()

    client.post(reverse("adboard:contact", args=[ad.pk]), {"body": "Still for sale?"})
    assert client.post(rate, {"stars": "5", "comment": "Quick and kind."}).status_code == 302
    assert client.post(rate, {"stars": "4", "comment": "Quick, a bit late."}).status_code == 302

    rating = Rating.objects.get(seller=seller, rater=buyer)
    assert rating.stars == 4 and rating.comment == "Quick, a bit late."
    member = Member.objects.get(user=seller)
    assert member.rating_count == 1 and member.rating_sum == 4
    page = text(client.get(reverse("adboard:seller", args=[seller.pk])))
    assert "Quick, a bit late." in page and "1 rating" in page and "Change your rating" in page
    assert "1 rating" in text(client.get(ad.get_absolute_url()))


def test_a_rating_out_of_range_is_refused(client, seller, buyer):
    ad = make_ad(owner=seller)
    client.force_login(buyer)
    client.post(reverse("adboard:contact", args=[ad.pk]), {"body": "Hello"})

    response = client.post(reverse("adboard:rate", args=[seller.pk]), {"stars": "9"})

    assert response.status_code == 400 and not Rating.objects.exists()


def test_the_seller_replies_to_a_rating_once(client, seller, buyer):
    ad = make_ad(owner=seller)
    services.contact(ad, buyer, "Hello")
    rating, _created = services.rating_set(seller, buyer, stars=2, comment="Never came.")
    reply = reverse("adboard:rating_reply", args=[rating.pk])

    client.force_login(buyer)
    assert client.post(reply, {"reply": "Not mine to answer"}).status_code == 404

    client.force_login(seller)
    assert client.post(reply, {"reply": "I waited an hour."}).status_code == 302
    again = client.post(reply, {"reply": "Once more"})
    assert again.status_code == 409 and "already replied" in text(again)
    rating.refresh_from_db()
    assert rating.reply == "I waited an hour."
    assert "I waited an hour." in text(client.get(reverse("adboard:seller", args=[seller.pk])))


# -- reports and saving ---------------------------------------------------------------------------


def test_an_ad_is_hidden_after_enough_reports(client, settings):
    settings.ADBOARD_REPORTS_TO_HIDE = 3
    ad = make_ad()
    url = reverse("adboard:report")
    for _ in range(3):
        client.force_login(make_member())
        response = client.post(url, {"kind": "ad", "id": ad.pk, "reason": "fraud", "next": ad.get_absolute_url()})
        assert response.status_code == 302

    ad.refresh_from_db()
    assert ad.status == Ad.Status.HIDDEN and ad.report_count == 3
    assert client.get(ad.get_absolute_url()).status_code == 404


def test_a_second_report_and_a_bad_reason_are_refused(client, buyer):
    ad = make_ad()
    client.force_login(buyer)
    url = reverse("adboard:report")

    assert client.post(url, {"kind": "ad", "id": ad.pk, "reason": "spam"}).status_code == 302
    again = client.post(url, {"kind": "ad", "id": ad.pk, "reason": "spam"})
    assert again.status_code == 409 and "already reported" in text(again)
    assert client.post(url, {"kind": "ad", "id": ad.pk, "reason": "boring"}).status_code == 400


def test_a_stranger_cannot_report_a_message_of_someone_elses_conversation(client, seller, buyer):
    ad = make_ad(owner=seller)
    message = services.contact(ad, buyer, "Hello")
    client.force_login(make_member())

    response = client.post(reverse("adboard:report"), {"kind": "message", "id": message.pk, "reason": "spam"})

    assert response.status_code == 404


def test_a_member_saves_an_ad_and_a_search(client, buyer):
    ad = make_ad(title="Kayak")
    client.force_login(buyer)

    assert client.post(reverse("adboard:save", args=[ad.pk])).status_code == 302
    assert SavedAd.objects.filter(user=buyer, ad=ad).exists()
    response = client.post(reverse("adboard:search_save"), {"query": "q=kayak&max_price=500", "alerts": "on"})
    assert response.status_code == 302
    saved = SavedSearch.objects.get(user=buyer)
    assert saved.alerts and saved.query == "q=kayak&max_price=500"

    page = text(client.get(reverse("adboard:saved")))
    assert "Kayak" in page and saved.get_absolute_url().replace("&", "&amp;") in page
    assert reverse("adboard:unsave", args=[ad.pk]) in page  # each saved ad can be removed from the page

    assert client.post(reverse("adboard:unsave", args=[ad.pk])).status_code == 302
    assert client.post(reverse("adboard:search_delete", args=[saved.pk])).status_code == 302
    assert not SavedAd.objects.exists() and not SavedSearch.objects.exists()


def test_the_list_offers_to_save_a_search_to_members_only(client, buyer):
    make_ad()
    assert "Save this search" not in text(client.get(LIST, {"q": "ad"}))
    client.force_login(buyer)
    assert "Save this search" in text(client.get(LIST, {"q": "ad"}))


def test_someone_elses_saved_search_cannot_be_deleted(client, buyer):
    saved = services.search_save(make_member(), query="q=lamp")
    client.force_login(buyer)

    assert client.post(reverse("adboard:search_delete", args=[saved.pk])).status_code == 404
    assert SavedSearch.objects.filter(pk=saved.pk).exists()


def test_the_account_page_links_to_the_board(client, buyer):
    client.force_login(buyer)

    page = text(client.get(reverse("accounts:profile")))

    assert reverse("adboard:mine") in page and reverse("adboard:post") in page


# -- queries -------------------------------------------------------------------------------------------


def _queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


def test_the_list_costs_the_same_queries_for_3_and_30_ads(client, django_assert_max_num_queries):
    for _ in range(3):
        make_ad()
    client.get(LIST, {"q": "number"})  # the category tree and the search's vocabulary are cached once
    few = _queries(client, LIST)
    few_search = _queries(client, LIST, q="number", category="cars", f_year_min="2000")
    for _ in range(27):
        make_ad()

    many = _queries(client, LIST)
    many_search = _queries(client, LIST, q="number", category="cars", f_year_min="2000")

    assert many == few and many_search == few_search
    with django_assert_max_num_queries(8):
        client.get(LIST, {"sort": "price"})


def test_the_ad_page_costs_the_same_queries_for_3_and_30_similar_ads(client, buyer, django_assert_max_num_queries):
    ad = make_ad()
    for _ in range(3):
        make_ad()
    client.force_login(buyer)
    client.get(ad.get_absolute_url())
    few = _queries(client, ad.get_absolute_url())
    for _ in range(27):
        make_ad()

    many = _queries(client, ad.get_absolute_url())

    assert many == few
    with django_assert_max_num_queries(14):
        client.get(ad.get_absolute_url())
