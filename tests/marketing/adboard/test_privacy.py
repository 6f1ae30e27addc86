"""The ad board's part of an erasure."""

import pytest
from django.core.files.storage import default_storage

from marketing.adboard import services
from marketing.adboard.models import Ad, AdPhoto, Member, Message, Rating, SavedAd, SavedSearch
from marketing.adboard.privacy import BoardData
from shop.accounts.privacy import customer_erase
from tests.marketing.adboard.helpers import make_ad, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller():
    return make_member(email="seller@example.org", first_name="Olive")


def test_it_deletes_the_ads_and_their_photo_files(seller, django_capture_on_commit_callbacks):
    ad = make_ad(owner=seller, description="Ring Olive on 555 0100")
    files = [name for p in ad.photos.all() for name in (p.image.name, p.thumbnail.name)]
    assert files and all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(user=seller, requested_by="self")

    ad.refresh_from_db()
    assert (ad.status, ad.description, ad.city, ad.details) == ("deleted", "", "", {})
    assert not AdPhoto.objects.filter(ad=ad).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert not Ad.objects.public().filter(pk=ad.pk).exists()


def test_it_replaces_the_messages_they_wrote(seller):
    ad = make_ad(owner=seller)
    buyer = make_member()
    asked = services.contact(ad, buyer, "Still there?")
    answered = services.reply(asked.conversation, seller, "Yes, at 12 Private Lane.")

    customer_erase(user=seller, requested_by="self")

    assert Message.objects.get(pk=answered.pk).body == "This message was removed."
    assert Message.objects.get(pk=asked.pk).body == "Still there?"


def test_it_keeps_the_stars_of_ratings_given_without_the_comment(seller):
    other = make_member()
    services.contact(make_ad(owner=other), seller, "Hello")
    rating, _created = services.rating_set(other, seller, stars=4, comment="Olive was here")
    before = Member.objects.get(user=other).rating_score

    customer_erase(user=seller, requested_by="self")

    rating.refresh_from_db()
    assert (rating.stars, rating.comment) == (4, "")
    assert Member.objects.get(user=other).rating_score == before


def test_it_deletes_saved_ads_and_searches_and_bans_posting(seller):
    services.ad_save(make_ad(), seller)
    services.search_save(seller, query="q=sofa")

    customer_erase(user=seller, requested_by="self")

    assert not SavedAd.objects.filter(user=seller).exists()
    assert not SavedSearch.objects.filter(user=seller).exists()
    assert Member.objects.get(user=seller).is_banned


def test_it_leaves_other_members_alone(seller):
    other = make_member()
    theirs = make_ad(owner=other)
    services.search_save(other, query="q=sofa")

    customer_erase(user=seller, requested_by="self")

    assert Ad.objects.get(pk=theirs.pk).status == "published"
    assert SavedSearch.objects.filter(user=other).exists()
    assert not Member.objects.get(user=other).is_banned


def test_it_exports_the_ads_and_ratings(seller):
    make_ad(owner=seller, title="Oak bookshelf")
    buyer = make_member()
    services.contact(make_ad(owner=seller, title="Chair"), buyer, "Hi")
    services.rating_set(seller, buyer, stars=5, comment="Great")

    exported = BoardData().export(seller)

    assert [ad["title"] for ad in exported["ads"]] == ["Oak bookshelf", "Chair"]
    assert exported["ratings_received"][0]["stars"] == 5
    assert "rater_id" not in exported["ratings_received"][0]
    assert Rating.objects.filter(seller=seller).count() == 1
