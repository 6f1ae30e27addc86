"""The board's rules, at the service level (docs/adboard.md): posting, quota, bans, flags,
moderation, expiry and reminders, renewal, messages, ratings (Bayesian, kept by increments),
reports and their threshold, saved-search alerts."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from marketing.adboard import search, selectors, services
from marketing.adboard.models import Ad, AdCategory, Member, Message, Notice, Rating, Report
from shop.core.errors import Conflict, NotFound
from shop.core.uploads import clean_image
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def picture(color=(120, 40, 40)):
    out = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(out, "JPEG")
    return clean_image(SimpleUploadedFile("p.jpg", out.getvalue()))


def category(slug="cars"):
    return AdCategory.objects.get(slug=slug)


CAR = {"year": 2016, "mileage": 90000, "fuel": "diesel"}


def post(owner=None, *, slug="cars", title="Volkswagen Golf estate", price="7500", details=None, photos=1, **kw):
    owner = owner or UserFactory()
    fields = {
        "category": category(slug),
        "title": title,
        "description": kw.pop("description", "Well kept, full service history, new tyres."),
        "price": price,
        "price_kind": kw.pop("price_kind", "fixed"),
        "condition": kw.pop("condition", "good"),
        "city": kw.pop("city", "Leeds"),
        "region": kw.pop("region", "Yorkshire"),
        "details": CAR if details is None and slug == "cars" else (details or {}),
        "photos": [picture() for _ in range(photos)],
    }
    fields.update(kw)
    return services.ad_create(owner, **fields)


def published(**kw):
    ad = post(**kw)
    assert services.ad_approve(ad)
    ad.refresh_from_db()
    return ad


# -- posting ----------------------------------------------------------------------------------


def test_a_new_ad_waits_for_a_moderator_and_is_nowhere_public():
    ad = post()
    assert ad.status == Ad.Status.PENDING
    assert not Ad.objects.public().filter(pk=ad.pk).exists()
    stranger = UserFactory()
    assert not Ad.objects.visible_to(stranger).filter(pk=ad.pk).exists()
    assert Ad.objects.visible_to(ad.owner).filter(pk=ad.pk).exists()
    assert ad.photos.count() == 1 and ad.photos.get().thumbnail


def test_approval_publishes_for_the_configured_time():
    ad = published()
    assert ad.status == Ad.Status.PUBLISHED
    assert ad.expires_at - ad.published_at == pytest.approx(dt.timedelta(days=30), abs=dt.timedelta(seconds=5))
    assert Ad.objects.public().filter(pk=ad.pk).exists()


@override_settings(ADBOARD_PREMODERATION=False)
def test_without_premoderation_a_clean_ad_goes_live_and_a_flagged_one_waits():
    assert post().status == Ad.Status.PUBLISHED
    flagged = post(title="Golf, call 07700 900123")
    assert flagged.status == Ad.Status.PENDING
    assert "phone_in_title" in flagged.flags


def test_the_category_details_are_checked_and_typed():
    with pytest.raises(ValidationError) as error:
        post(details={"year": 2016, "fuel": "diesel"})  # mileage is required for cars
    assert "mileage" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        post(details={**CAR, "fuel": "steam"})
    assert "fuel" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        post(details={**CAR, "colour": "red"})
    assert "colour" in error.value.message_dict
    ad = post(details={"year": "2019", "mileage": "12,000", "fuel": "petrol"})
    assert ad.details == {"year": 2019, "mileage": 12000, "fuel": "petrol"}


def test_an_ad_is_posted_in_a_precise_category_with_one_to_eight_photos():
    with pytest.raises(ValidationError) as error:
        post(slug="vehicles")
    assert "category" in error.value.message_dict
    with pytest.raises(ValidationError):
        post(photos=0)
    with pytest.raises(ValidationError):
        post(photos=9)


def test_a_fixed_price_needs_an_amount_and_free_has_none():
    with pytest.raises(ValidationError) as error:
        post(price="")
    assert "price" in error.value.message_dict
    free = post(slug="furniture", price="12", price_kind="free", details={})
    assert free.price is None
    with pytest.raises(ValidationError):
        post(price="-5")


@override_settings(ADBOARD_MAX_ACTIVE_ADS=2)
def test_the_quota_counts_active_ads_and_frees_a_place_when_one_is_sold():
    owner = UserFactory()
    first = post(owner)
    post(owner)
    with pytest.raises(Conflict):
        post(owner)
    services.ad_mark_sold(first, owner)
    post(owner)  # a place again


def test_a_banned_member_cannot_post_or_write_and_their_waiting_ads_are_rejected():
    owner = UserFactory()
    waiting = post(owner)
    seller_ad = published()
    assert services.member_ban(owner, reason="spam")
    waiting.refresh_from_db()
    assert waiting.status == Ad.Status.REJECTED
    with pytest.raises(services.Forbidden):
        post(owner)
    with pytest.raises(services.Forbidden):
        services.contact(seller_ad, owner, "Still available?")
    assert not services.member_ban(owner)  # once
    services.member_unban(owner)
    post(owner)


def test_automatic_flags():
    owner = UserFactory()
    for i in range(5):
        published(title=f"Car number {i}", price=str(8000 + i * 100), description=f"Car {i} in fine shape.")
    assert "link_in_title" in post(owner, title="Golf see www.cheapcars.example").flags
    assert "unusual_price" in post(owner, title="Golf bargain", price="90").flags
    twice = post(owner, title="Ford Focus", description="One owner.")
    assert "duplicate_text" not in twice.flags
    assert "duplicate_text" in post(owner, title="Ford  focus!", description="One owner").flags


@override_settings(ADBOARD_ADS_PER_HOUR=(2, 3600))
def test_too_many_ads_too_fast_are_flagged():
    owner = UserFactory()
    flags = [post(owner, title=f"Car {i}", description=f"Car {i}.").flags for i in range(4)]
    assert "too_fast" not in flags[0] and "too_fast" in flags[-1]


# -- owner's changes ----------------------------------------------------------------------------


def test_only_the_owner_edits_sells_renews_or_deletes():
    ad = published()
    stranger = UserFactory()
    for call in (
        lambda: services.ad_update(ad, stranger, title="Mine now"),
        lambda: services.ad_mark_sold(ad, stranger),
        lambda: services.ad_renew(ad, stranger),
        lambda: services.ad_delete(ad, stranger),
    ):
        with pytest.raises(services.Forbidden):
            call()
    ad.refresh_from_db()
    assert ad.title == "Volkswagen Golf estate" and ad.status == Ad.Status.PUBLISHED


def test_an_edit_goes_back_to_the_queue_and_a_rejected_ad_can_be_fixed():
    ad = published()
    services.ad_update(ad, ad.owner, title="Volkswagen Golf estate, 2016")
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PENDING and ad.search_title.startswith(" volkswagen golf")
    assert services.ad_reject(ad, reason="Add the number of owners.")
    ad.refresh_from_db()
    assert ad.status == Ad.Status.REJECTED and ad.rejection_reason == "Add the number of owners."
    services.ad_update(ad, ad.owner, description="Two owners, full history.")
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PENDING and ad.rejection_reason == ""


def test_a_rejection_needs_a_reason_and_a_decision_is_taken_once():
    ad = post()
    with pytest.raises(ValidationError):
        services.ad_reject(ad, reason=" ")
    assert services.ad_approve(ad)
    assert not services.ad_approve(ad)  # decided already
    assert Notice.objects.filter(kind=Notice.Kind.PUBLISHED, user=ad.owner).count() == 1


def test_photos_are_added_and_removed_within_the_limit():
    ad = published(photos=2)
    first = ad.photos.first()
    services.ad_update(ad, ad.owner, photos_remove=[first.pk], photos_add=[picture(), picture()])
    ad.refresh_from_db()
    assert ad.photo_count == 3 and list(ad.photos.values_list("position", flat=True)) == [0, 1, 2]
    with pytest.raises(ValidationError):
        services.ad_update(ad, ad.owner, photos_remove=list(ad.photos.values_list("pk", flat=True)))


# -- expiry, reminders, renewal ------------------------------------------------------------------


def test_expiry_reminder_once_then_expired_then_renewed_in_one_call():
    ad = published()
    Ad.objects.filter(pk=ad.pk).update(expires_at=timezone.now() + dt.timedelta(days=2))
    assert services.ads_remind() == 1
    assert services.ads_remind() == 0  # once per period
    assert Notice.objects.filter(kind=Notice.Kind.EXPIRY, user=ad.owner).count() == 1
    Ad.objects.filter(pk=ad.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert not Ad.objects.public().filter(pk=ad.pk).exists()  # gone at once, before the job runs
    assert services.ads_expire() == 1
    ad.refresh_from_db()
    assert ad.status == Ad.Status.EXPIRED
    services.ad_renew(ad, ad.owner)
    ad.refresh_from_db()
    assert ad.status == Ad.Status.PUBLISHED and ad.expires_at > timezone.now() + dt.timedelta(days=29)
    assert ad.reminded_at is None


def test_an_ad_far_from_expiry_is_not_renewed():
    ad = published()
    with pytest.raises(Conflict):
        services.ad_renew(ad, ad.owner)


# -- messages and ratings -------------------------------------------------------------------------


def test_a_conversation_is_between_its_two_members():
    ad = published()
    buyer, stranger = UserFactory(), UserFactory()
    message = services.contact(ad, buyer, "Is it still available?")
    services.contact(ad, buyer, "I could come tomorrow.")
    # One email per unread conversation, not one per message.
    assert Notice.objects.filter(kind=Notice.Kind.MESSAGE, user=ad.owner).count() == 1
    conversation = message.conversation
    assert conversation.seller_id == ad.owner_id
    services.reply(conversation, ad.owner, "Yes, come and see it.")
    with pytest.raises(NotFound):
        services.reply(conversation, stranger, "Me too")
    assert selectors.conversation_for(conversation.pk, stranger) is None
    assert selectors.conversation_for(conversation.pk, buyer) == conversation
    with pytest.raises(Conflict):
        services.contact(ad, ad.owner, "Talking to myself")
    # The seller has read the thread (they replied): the next message is worth an email again.
    services.contact(ad, buyer, "Tomorrow at six?")
    assert Notice.objects.filter(kind=Notice.Kind.MESSAGE, user=ad.owner).count() == 2
    assert Notice.objects.filter(kind=Notice.Kind.MESSAGE, user=buyer).count() == 1


def test_nobody_can_write_about_an_ad_that_is_not_public():
    ad = post()
    with pytest.raises(NotFound):
        services.contact(ad, UserFactory(), "Hello")


def rated_pair():
    ad = published()
    buyer = UserFactory()
    services.contact(ad, buyer, "Hello")
    return ad.owner, buyer, ad


def test_a_member_rates_a_seller_only_after_writing_to_them_and_once_editable():
    seller, buyer, ad = rated_pair()
    with pytest.raises(services.Forbidden):
        services.rating_set(seller, UserFactory(), stars=5)
    rating, created = services.rating_set(seller, buyer, stars=2, comment="Late", ad=ad)
    assert created
    rating, created = services.rating_set(seller, buyer, stars=4, comment="Sorted out in the end")
    assert not created and rating.stars == 4
    member = Member.objects.get(user=seller)
    assert (member.rating_count, member.rating_sum) == (1, 4)
    assert Rating.objects.filter(seller=seller).count() == 1


def test_the_seller_replies_once_in_public():
    seller, buyer, _ad = rated_pair()
    rating, _ = services.rating_set(seller, buyer, stars=5)
    with pytest.raises(services.Forbidden):
        services.rating_reply(rating, buyer, "I am not the seller")
    services.rating_reply(rating, seller, "Thank you!")
    with pytest.raises(Conflict):
        services.rating_reply(rating, seller, "Again")


def test_bayesian_score_one_five_star_rating_does_not_outrank_fifty_at_four_point_eight():
    # Prior: 5 ratings of 3.5. One 5: (17.5 + 5) / 6 = 3.75. Fifty at 4.8 (40 fives, 10 fours = 240):
    # (17.5 + 240) / 55 = 4.682.
    assert services.bayesian(1, 5) == Decimal("3.75")
    assert services.bayesian(50, 240).quantize(Decimal("0.001")) == Decimal("4.682")
    seller, buyer, _ad = rated_pair()
    services.rating_set(seller, buyer, stars=5)
    assert Member.objects.get(user=seller).rating_score == Decimal("3.750")


def test_the_rating_sort_puts_the_steady_seller_first():
    one_five, buyer, lone = rated_pair()
    services.rating_set(one_five, buyer, stars=5)
    steady = published(title="Skoda Octavia")
    Member.objects.filter(user=steady.owner).update(rating_count=50, rating_sum=240, rating_score=Decimal("4.682"))
    ordered = list(search.apply(search.Filters(sort="rating"), Ad.objects.public()).values_list("pk", flat=True))
    assert ordered.index(steady.pk) < ordered.index(lone.pk)


def test_a_rating_deleted_or_hidden_leaves_the_score():
    seller, buyer, _ad = rated_pair()
    rating, _ = services.rating_set(seller, buyer, stars=1)
    assert services.rating_hide(rating, hidden=True)
    assert not services.rating_hide(rating, hidden=True)  # once
    assert Member.objects.get(user=seller).rating_count == 0
    services.rating_hide(rating, hidden=False)
    services.rating_delete(rating, buyer)
    member = Member.objects.get(user=seller)
    assert (member.rating_count, member.rating_sum) == (0, 0)


# -- reports --------------------------------------------------------------------------------------


@override_settings(ADBOARD_REPORTS_TO_HIDE=3)
def test_an_ad_is_hidden_at_the_report_threshold_until_a_moderator_decides():
    ad = published()
    reporters = [UserFactory() for _ in range(3)]
    services.report(reporters[0], ad=ad, reason="spam")
    with pytest.raises(Conflict):
        services.report(reporters[0], ad=ad, reason="fraud")  # once each
    services.report(reporters[1], ad=ad, reason="fraud")
    assert Ad.objects.public().filter(pk=ad.pk).exists()
    services.report(reporters[2], ad=ad, reason="prohibited")
    ad.refresh_from_db()
    assert ad.status == Ad.Status.HIDDEN and ad.report_count == 3
    assert not Ad.objects.public().filter(pk=ad.pk).exists()
    assert services.ad_approve(ad)  # the moderator keeps it
    assert not Report.objects.filter(ad=ad, resolved_at__isnull=True).exists()


def test_reports_need_a_known_reason_and_not_ones_own():
    ad = published()
    with pytest.raises(ValidationError):
        services.report(UserFactory(), ad=ad, reason="boring")
    with pytest.raises(Conflict):
        services.report(ad.owner, ad=ad, reason="spam")


@override_settings(ADBOARD_REPORTS_TO_HIDE=2)
def test_a_reported_rating_is_hidden_and_leaves_the_score():
    seller, buyer, _ad = rated_pair()
    rating, _ = services.rating_set(seller, buyer, stars=1)
    services.report(seller, rating=rating, reason="offensive")
    services.report(UserFactory(), rating=rating, reason="offensive")
    rating.refresh_from_db()
    assert rating.hidden and Member.objects.get(user=seller).rating_count == 0


@override_settings(ADBOARD_REPORTS_TO_HIDE=1)
def test_a_reported_message_is_hidden_from_the_other_member():
    seller, buyer, _ad = rated_pair()
    message = Message.objects.get(sender=buyer)
    services.report(seller, message=message, reason="offensive")
    message.refresh_from_db()
    assert message.hidden
    assert list(selectors.messages_of(message.conversation, viewer=seller)) == []
    assert list(selectors.messages_of(message.conversation, viewer=buyer)) == [message]


# -- saved searches ---------------------------------------------------------------------------------


def test_a_saved_search_emails_new_matching_ads_once():
    member = UserFactory()
    saved = services.search_save(member, query="q=golf&category=cars&max_price=9000")
    SavedSearchTime = timezone.now() - dt.timedelta(minutes=1)
    type(saved).objects.filter(pk=saved.pk).update(checked_at=SavedSearchTime)
    match = published(title="Golf estate", price="8000")
    published(title="Golf estate", price="12000")  # too dear
    published(slug="furniture", title="Golf bag stand", price="20", details={})  # another category
    hidden = post(title="Golf hatchback", price="5000")  # waiting: never in an alert
    assert services.saved_search_alerts() == 1
    notice = Notice.objects.get(kind=Notice.Kind.SAVED_SEARCH, user=member)
    assert notice.data["ads"] == [match.pk] and hidden.pk not in notice.data["ads"]
    assert services.saved_search_alerts() == 0  # nothing new since


def test_the_same_search_is_saved_once_whatever_the_order_of_its_filters():
    member = UserFactory()
    one = services.search_save(member, query="category=cars&q=golf")
    two = services.search_save(member, query="q=golf&category=cars&page=3")
    assert one.pk == two.pk
