"""The board in the admin: the moderators' queue, decisions in bulk and one at a time, bans, the pages' query
counts, the home figure, and who may decide."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketing.adboard import services
from marketing.adboard.admin import AdFieldForm
from marketing.adboard.models import Ad, AdField, Member, Notice, Rating, Report
from tests.factories import UserFactory
from tests.marketing.adboard.helpers import make_ad, make_member

pytestmark = pytest.mark.django_db
ADS = "/admin/adboard/ad/"
VIEW = [
    "view_ad",
    "change_ad",
    "view_member",
    "view_rating",
    "view_message",
    "view_report",
    "view_notice",
    "view_adcategory",
]


def staff_with(*codenames, email):
    user = UserFactory(email=email, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="adboard", codename__in=codenames))
    return user


@pytest.fixture
def moderator(client):
    user = staff_with(*VIEW, "moderate_ad", email="moderator@example.org")
    client.force_login(user)
    return user


@pytest.fixture
def clerk(client):
    """Staff who may look at the board but not decide."""
    user = staff_with(*VIEW, email="clerk@example.org")
    client.force_login(user)
    return user


def act(client, action, objects, url=ADS, **data):
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects], **data}, follow=True)


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_it_lists_only_what_needs_a_decision_in_the_queue(client, moderator):
    waiting, hidden = make_ad(status="pending"), make_ad(status="hidden")
    make_ad(status="published"), make_ad(status="rejected")
    response = client.get(ADS, {"queue": "decide"})
    assert response.status_code == 200
    assert {a.pk for a in response.context["cl"].result_list} == {waiting.pk, hidden.pk}


def test_it_shows_flags_as_words_and_filters_flagged_ads(client, moderator):
    flagged = make_ad(status="pending", title="Sofa call 555 123 4567")
    make_ad(status="pending")
    assert flagged.flags == ["phone_in_title"]
    response = client.get(ADS, {"flagged": "yes"})
    assert [a.pk for a in response.context["cl"].result_list] == [flagged.pk]
    assert "phone number in the title" in response.content.decode()


def test_a_moderator_approves_in_bulk_and_hears_what_someone_else_decided(client, moderator):
    one, two, done = make_ad(status="pending"), make_ad(status="hidden"), make_ad(status="published")
    response = act(client, "approve_selected", [one, two, done])
    assert response.status_code == 200
    assert "2 ads published." in texts(response)
    assert any("1 was not waiting for a decision" in t for t in texts(response))
    for ad in (one, two):
        ad.refresh_from_db()
        assert ad.status == Ad.Status.PUBLISHED and ad.expires_at is not None
    assert Notice.objects.filter(kind="published", user=one.owner).count() == 1


def test_rejecting_asks_for_a_reason_first(client, moderator):
    ad = make_ad(status="pending")
    page = act(client, "reject_selected", [ad])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/adboard/reason.html"
    assert 'name="reason"' in page.content.decode()
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PENDING

    empty = act(client, "reject_selected", [ad], apply="1", reason="  ")
    assert empty.status_code == 400
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PENDING

    done = act(client, "reject_selected", [ad], apply="1", reason="Show the bike itself, not a catalogue picture.")
    assert "1 ad rejected; its seller was told why." in texts(done)
    ad.refresh_from_db()
    assert (ad.status, ad.rejection_reason) == (Ad.Status.REJECTED, "Show the bike itself, not a catalogue picture.")
    notice = Notice.objects.get(kind="rejected", user=ad.owner)
    assert notice.data["reason"] == ad.rejection_reason


def test_banning_the_sellers_rejects_their_waiting_ads(client, moderator):
    seller = make_member(email="spammer@example.org")
    first = make_ad(owner=seller, status="pending")
    second = make_ad(owner=seller, status="pending")
    page = act(client, "ban_sellers", [first, second])
    assert page.status_code == 200 and "spammer@example.org" in page.content.decode()
    done = act(client, "ban_sellers", [first, second], apply="1", reason="Posting the same phone ad again and again")
    assert any("1 member banned" in t for t in texts(done))
    member = Member.objects.get(user=seller)
    assert member.is_banned and member.ban_reason == "Posting the same phone ad again and again"
    assert set(Ad.objects.filter(owner=seller).values_list("status", flat=True)) == {Ad.Status.REJECTED}


def test_staff_without_the_permission_cannot_decide(client, clerk):
    ad = make_ad(status="pending")
    page = client.get(ADS)
    assert page.status_code == 200
    form = page.context["action_form"]  # None when no action is left
    choices = [name for name, _label in form.fields["action"].choices] if form else []
    assert not {"approve_selected", "reject_selected", "ban_sellers"} & set(choices)
    act(client, "approve_selected", [ad])
    act(client, "reject_selected", [ad], apply="1", reason="No.")
    assert client.post(reverse("admin:adboard_ad_approve", args=[ad.pk])).status_code == 403
    assert client.get(reverse("admin:adboard_ad_reject", args=[ad.pk])).status_code == 403
    assert client.get(reverse("admin:adboard_ad_ban", args=[ad.pk])).status_code == 403
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PENDING
    # And the members' private messages are not theirs to read.
    assert client.get("/admin/adboard/message/").status_code == 403


def test_the_change_page_decides_through_its_buttons_and_never_writes_a_status(client, moderator):
    ad = make_ad(status="pending")
    url = reverse("admin:adboard_ad_change", args=[ad.pk])
    page = client.get(url)
    html = page.content.decode()
    assert reverse("admin:adboard_ad_approve", args=[ad.pk]) in html
    assert reverse("admin:adboard_ad_reject", args=[ad.pk]) in html
    assert 'name="status"' not in html and 'name="report_count"' not in html

    # A correction of the title is saved; a status in the form is ignored.
    form = {
        "title": "Corrected title",
        "description": ad.description,
        "category": ad.category_id,
        "price_kind": "fixed",
        "price": "120",
        "condition": "good",
        "city": ad.city,
        "region": ad.region,
        "details": '{"year": 2015, "mileage": 90000, "fuel": "petrol"}',
        "status": "published",
        "report_count": "0",
        "reports-TOTAL_FORMS": "0",
        "reports-INITIAL_FORMS": "0",
    }
    saved = client.post(url, form)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    ad.refresh_from_db()
    assert (ad.title, ad.status) == ("Corrected title", Ad.Status.PENDING)
    assert " correct" in ad.search_title

    approved = client.post(reverse("admin:adboard_ad_approve", args=[ad.pk]), follow=True)
    assert "“Corrected title” is published." in texts(approved)
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PUBLISHED

    reject = reverse("admin:adboard_ad_reject", args=[ad.pk])
    assert client.get(reject).status_code == 200
    client.post(reject, {"reason": "Wrong category: this is a motorbike."})
    ad.refresh_from_db()
    assert (ad.status, ad.rejection_reason) == (Ad.Status.REJECTED, "Wrong category: this is a motorbike.")


def test_the_list_and_the_change_page_take_the_same_queries_however_many_rows(client, moderator):
    reporters = [make_member() for _ in range(6)]

    def measure(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    ad = make_ad(status="published")
    make_ad(status="pending", title="Call 555 123 4567 now")
    services.report(reporters[0], reason="spam", ad=ad)
    measure(reverse("admin:adboard_ad_change", args=[ad.pk]))  # warms the content types' cache
    few_list, few_page = measure(ADS), measure(reverse("admin:adboard_ad_change", args=[ad.pk]))
    for n in range(4):
        make_ad(status="pending", owner=reporters[n])
    for reporter in reporters[1:]:
        services.report(reporter, reason="fraud", ad=ad)
    assert measure(ADS) == few_list
    assert measure(reverse("admin:adboard_ad_change", args=[ad.pk])) == few_page
    for url in ["/admin/adboard/report/", "/admin/adboard/member/", "/admin/adboard/adcategory/"]:
        assert client.get(url).status_code == 200


def test_the_home_page_counts_the_ads_waiting_for_moderators_only(client, moderator):
    make_ad(status="pending"), make_ad(status="pending"), make_ad(status="hidden"), make_ad(status="published")
    page = client.get("/admin/")
    figure = next(f for f in page.context["figures"] if f.label == "Ads waiting for a decision")
    assert figure.value == "3" and figure.attention
    assert figure.url == ADS + "?queue=decide"
    assert "2 new, 1 hidden after reports" in figure.note
    other = staff_with(*VIEW, email="clerk2@example.org")
    client.force_login(other)
    assert not [f for f in client.get("/admin/").context["figures"] if f.label == "Ads waiting for a decision"]


def test_ratings_and_messages_are_hidden_through_the_services(client, moderator):
    seller, buyer = make_member(), make_member()
    ad = make_ad(owner=seller, status="published")
    message = services.contact(ad, buyer, "Is it still there?")
    rating, _created = services.rating_set(seller, buyer, stars=1, comment="Rude.")
    act(client, "hide_selected", [rating], url="/admin/adboard/rating/")
    assert Rating.objects.get(pk=rating.pk).hidden
    assert Member.objects.get(user=seller).rating_count == 0
    act(client, "show_selected", [rating], url="/admin/adboard/rating/")
    assert Member.objects.get(user=seller).rating_count == 1
    act(client, "hide_selected", [message], url="/admin/adboard/message/")
    message.refresh_from_db()
    assert message.hidden


def test_the_reports_list_links_to_what_was_reported(client, moderator):
    ad = make_ad(status="published")
    services.report(make_member(), reason="spam", ad=ad, comment="Same ad every day")
    page = client.get("/admin/adboard/report/", {"open": "open"})
    assert reverse("admin:adboard_ad_change", args=[ad.pk]) in page.content.decode()
    assert Report.objects.filter(resolved_at=None).count() == 1


def test_a_choice_detail_needs_a_list_of_words():
    base = {"key": "fuel", "label": "Fuel", "kind": "choice", "unit": "", "position": 0, "filterable": True}
    assert not AdFieldForm({**base, "choices": '"petrol"'}).is_valid()
    assert not AdFieldForm({**base, "choices": "[1, 2]"}).is_valid()
    assert not AdFieldForm({**base, "choices": "[]"}).is_valid()
    assert AdFieldForm({**base, "choices": '["petrol", "diesel"]'}).is_valid()
    assert not AdFieldForm({**base, "kind": "number", "choices": '["a"]'}).is_valid()
    assert AdField.Kind.CHOICE == "choice"
