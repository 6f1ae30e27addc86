"""The demo board (marketing/adboard/demo.py): its shape, and figures that agree with its rows. Seeded once for
the module with the demo customers only (the board needs nothing else), then again (it adds nothing)."""

import io
import time
from collections import defaultdict

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Max
from django.test import override_settings
from django.utils import timezone

from marketing.adboard import demo, selectors, services
from marketing.adboard.models import Ad, AdPhoto, Conversation, Member, Message, Rating, Report, SavedSearch
from shop.core.demo import DemoContext

pytestmark = pytest.mark.django_db
SEEDER = "marketing.adboard.demo.seed"
SEEDERS = list(settings.DEMO_SEEDERS)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("demo-media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with (
        override_settings(
            MEDIA_ROOT=media,
            PASSWORD_HASHERS=hashers,
            CACHES=caches,
            DEMO_SEEDERS=["shop.accounts.demo.seed"],
        ),
        django_db_blocker.unblock(),
    ):
        with transaction.atomic():
            call_command("seed_demo", stdout=io.StringIO())  # the demo customers
            output = io.StringIO()
            started = time.monotonic()
            demo.seed(DemoContext(out=output))
            seconds = time.monotonic() - started
            first = Ad.objects.count()
            again = io.StringIO()
            demo.seed(DemoContext(out=again))
            yield {"output": output.getvalue(), "again": again.getvalue(), "seconds": seconds, "first": first,
                   "media": media}  # fmt: skip
            transaction.set_rollback(True)


def test_it_is_listed_after_loyalty_and_runs_once(seeded):
    seeders = SEEDERS
    assert seeders.index(SEEDER) > seeders.index("loyalty.demo.seed")
    assert seeded["first"] == Ad.objects.count()
    assert "nothing added" in seeded["again"]
    assert seeded["seconds"] < 15, seeded["output"]


def test_it_fills_every_category_with_believable_ads(seeded):
    assert 150 <= Ad.objects.count() <= 250
    per_category = dict(Ad.objects.values_list("category__slug").annotate(n=Count("id")))
    assert set(per_category) == {c.slug for c in selectors.leaves()}
    for ad in Ad.objects.select_related("category"):
        services.details_clean(ad.category, ad.details)  # the details are what the category asks for
        assert ad.city and ad.region and ad.search_title.strip()
        if ad.price_kind == "fixed":
            assert ad.price is not None and ad.price > 0
    cars = Ad.objects.filter(category__slug="cars")
    assert all({"year", "mileage", "fuel"} <= set(ad.details) for ad in cars)
    # Max, not order_by().last(): free ads have no price, and the databases sort NULL apart.
    dearest_car = cars.aggregate(top=Max("price"))["top"]
    dearest_shoes = Ad.objects.filter(category__slug="shoes").aggregate(top=Max("price"))["top"]
    assert dearest_car > 5 * dearest_shoes


def test_every_ad_has_one_to_four_drawn_photos(seeded):
    counts = dict(AdPhoto.objects.values_list("ad").annotate(n=Count("id")))
    assert len(counts) == Ad.objects.count()
    assert set(counts.values()) <= {1, 2, 3, 4}
    assert all(counts[a.pk] == a.photo_count for a in Ad.objects.only("pk", "photo_count"))
    photo = AdPhoto.objects.first()
    assert (seeded["media"] / photo.image.name).exists() and (seeded["media"] / photo.thumbnail.name).exists()
    assert photo.image.name.endswith(".jpg") and (seeded["media"] / photo.image.name).stat().st_size < 60_000


def test_the_dates_agree_with_the_states(seeded):
    statuses = dict(Ad.objects.values_list("status").annotate(n=Count("id")))
    assert statuses["published"] > statuses["expired"] > 0 and statuses["sold"] > 0
    for ad in Ad.objects.all():
        if ad.status == "pending":
            assert ad.published_at is None and ad.expires_at is None
        elif ad.status == "published":
            assert ad.is_public
        elif ad.status == "expired":
            assert ad.expires_at < timezone.now()
        if ad.published_at:
            assert ad.created_at <= ad.published_at < ad.expires_at


def test_the_queue_waits_for_a_moderator(seeded):
    counts = services.pending_counts()
    assert counts["pending"] >= 5 and counts["hidden"] >= 3
    assert Ad.objects.filter(status="pending").exclude(flags=[]).count() >= 2
    threshold = settings.ADBOARD_REPORTS_TO_HIDE
    for ad in Ad.objects.filter(status="hidden"):
        reports = Report.objects.filter(ad=ad, resolved_at=None).count()
        assert reports == ad.report_count >= threshold
    hidden = set(Ad.objects.exclude(status="published").values_list("pk", flat=True))
    assert not hidden & set(Ad.objects.public().values_list("pk", flat=True))


def test_conversations_and_ratings_agree_with_the_sellers_figures(seeded):
    assert Conversation.objects.count() >= 20
    for talk in Conversation.objects.annotate(n=Count("messages")):
        assert talk.n >= 2 and talk.buyer_id != talk.seller_id
    assert Message.objects.count() >= 40
    sums = defaultdict(lambda: [0, 0])
    for seller, stars in Rating.objects.filter(hidden=False).values_list("seller_id", "stars"):
        sums[seller][0] += 1
        sums[seller][1] += stars
    assert len(sums) >= 10
    assert {r.stars for r in Rating.objects.all()} >= {1, 3, 5}
    assert Rating.objects.exclude(reply="").exists()
    for member in Member.objects.filter(rating_count__gt=0):
        count, total = sums.pop(member.pk)
        assert (member.rating_count, member.rating_sum) == (count, total)
        assert abs(member.rating_score - services.bayesian(count, total)) < 0.001
    assert not sums
    for rating in Rating.objects.select_related("seller", "rater"):
        assert services.can_rate(rating.rater, rating.seller)
    assert SavedSearch.objects.count() >= 3
