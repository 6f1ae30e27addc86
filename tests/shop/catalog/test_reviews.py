"""Product reviews: states and moderation, who may do what, votes, reports, photos, the aggregates and
the Bayesian ranking, the product page, and a race on PostgreSQL (shop/catalog/services.py)."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from shop.catalog import services
from shop.catalog.models import Product, Review, ReviewReport, ReviewVote
from shop.catalog.services import APPROVE, REJECT, REMOVE, RESTORE
from shop.core.errors import Conflict, NotFound, ShopError
from shop.core.uploads import clean_image
from shop.orders.models import OrderStatus
from tests.factories import OrderFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
S = Review.Status


def bought(user, product, status=OrderStatus.PAID):
    order = OrderFactory(user=user, status=status, placed_at=timezone.now())
    order.lines.create(
        product=product, name=product.name, sku=product.sku, unit_price="10.00", quantity=1, subtotal="10.00"
    )


def photo(name="p.jpg", size=(320, 240)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 160, 90)).save(out, "JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def review(product, user=None, rating=4, **kwargs) -> Review:
    return services.review_create(product=product, user=user or UserFactory(), rating=rating, **kwargs)


def figures(product) -> tuple:
    product.refresh_from_db()
    stars = tuple(getattr(product, f"stars_{n}") for n in range(1, 6))
    return product.rating_count, product.rating_sum, stars, product.rating_avg


@pytest.fixture(autouse=True)
def _prior(settings):
    settings.SHOP_RATING_PRIOR_WEIGHT = 10
    settings.SHOP_RATING_PRIOR_MEAN = 4.0
    settings.SHOP_REVIEW_REPORTS_TO_HIDE = 3
    settings.SHOP_REVIEWS_PREMODERATION = False


@pytest.fixture
def product():
    return ProductFactory(slug="teapot")


@pytest.fixture
def moderator():
    return StaffFactory(email="mod@example.org")


# --- aggregates and the Bayesian score ----------------------------------------------------------


def test_it_counts_published_reviews_with_their_distribution(product):
    for rating in (5, 5, 4, 1):
        review(product, rating=rating)

    assert figures(product) == (4, 15, (1, 0, 0, 1, 2), Decimal("3.75"))
    assert [row["count"] for row in product.rating_distribution] == [2, 1, 0, 0, 1]
    assert product.rating_distribution[0] == {"stars": 5, "count": 2, "percent": 50}
    # (4.0 × 10 + 15) / (10 + 4)
    assert product.rating_score == Decimal("3.929")


def test_one_five_star_review_does_not_outrank_fifty_four_point_eights(settings):
    lonely, loved = ProductFactory(name="Lonely"), ProductFactory(name="Loved")
    review(lonely, rating=5)
    # Fifty reviews averaging 4.8: forty 5s and ten 4s.
    for rating in [5] * 40 + [4] * 10:
        review(loved, rating=rating)
    lonely.refresh_from_db()
    loved.refresh_from_db()

    assert (lonely.rating_avg, loved.rating_avg) == (Decimal("5.00"), Decimal("4.80"))
    # (40 + 5) / 11 = 4.091 and (40 + 240) / 60 = 4.667
    assert (lonely.rating_score, loved.rating_score) == (Decimal("4.091"), Decimal("4.667"))
    ranked = Product.objects.order_by("-rating_score").values_list("name", flat=True)
    assert list(ranked)[:2] == ["Loved", "Lonely"]


def test_the_rating_sort_uses_the_bayesian_score(client):
    lonely, loved = ProductFactory(name="Lonely"), ProductFactory(name="Loved")
    review(lonely, rating=5)
    for n in range(20):
        review(loved, rating=5 if n % 5 else 4)

    body = client.get(reverse("catalog:products"), {"ordering": "-rating"}).content.decode()

    assert body.index("Loved") < body.index("Lonely")


def test_the_prior_task_takes_the_store_wide_mean_and_rescores(settings, product):
    settings.SHOP_RATING_PRIOR_MEAN = None
    other = ProductFactory()
    review(product, rating=5)
    review(other, rating=2)
    review(other, rating=2)

    prior = services.rating_prior_refresh()

    assert (prior.mean, prior.reviews) == (Decimal("3.00"), 3)
    product.refresh_from_db()
    assert product.rating_score == Decimal("3.182")  # (3 × 10 + 5) / 11
    review(product, rating=1)  # new reviews score against the stored prior
    product.refresh_from_db()
    assert product.rating_score == Decimal("3.000")  # (30 + 6) / 12


def test_a_recount_agrees_with_the_increments(product):
    for rating in (5, 3, 3, 2):
        review(product, rating=rating)
    before = figures(product)
    Product.objects.filter(pk=product.pk).update(rating_count=0, rating_sum=0, **{f"stars_{n}": 0 for n in range(1, 6)})

    services.product_refresh_rating(product_ids=[product.pk])

    assert figures(product) == before


# --- creating, verified purchases, pre-moderation -----------------------------------------------


def test_a_review_is_verified_when_the_author_bought_the_product(product, customer, stranger):
    bought(customer, product)
    bought(stranger, product, OrderStatus.PENDING_PAYMENT)

    assert review(product, customer).verified is True
    assert review(product, stranger).verified is False


def test_under_premoderation_a_review_waits_and_counts_only_once_approved(settings, product, moderator):
    settings.SHOP_REVIEWS_PREMODERATION = True
    pending = review(product, rating=5)

    assert pending.status == S.PENDING
    assert figures(product)[0] == 0
    assert services.review_moderate(review=pending, actor=moderator, action=APPROVE)
    assert figures(product)[:2] == (1, 5)
    assert not services.review_moderate(review=pending, actor=moderator, action=APPROVE)  # already done
    assert figures(product)[:2] == (1, 5)


def test_it_refuses_a_second_review_of_the_same_product(product, customer):
    review(product, customer)
    with pytest.raises(Conflict):
        review(product, customer, rating=1)
    assert figures(product)[:2] == (1, 4)


# --- editing and deleting: the author only ----------------------------------------------------


def test_only_its_author_edits_a_review_and_the_rating_follows(product, customer, stranger):
    mine = review(product, customer, rating=2)
    with pytest.raises(ShopError) as refused:
        services.review_update(review=mine, user=stranger, rating=5)
    assert refused.value.status_code == 403

    services.review_update(review=mine, user=customer, rating=5, title="Better now")

    mine.refresh_from_db()
    assert (mine.rating, mine.title, mine.status) == (5, "Better now", S.PUBLISHED)
    assert figures(product)[:3] == (1, 5, (0, 0, 0, 0, 1))


def test_under_premoderation_an_edit_goes_back_to_the_queue(settings, product, customer):
    mine = review(product, customer, rating=4)
    settings.SHOP_REVIEWS_PREMODERATION = True

    services.review_update(review=mine, user=customer, body="Edited")

    mine.refresh_from_db()
    assert mine.status == S.PENDING
    assert figures(product)[0] == 0


def test_an_author_deletes_their_own_review_and_no_one_elses(product, customer, stranger):
    mine = review(product, customer, rating=3)
    with pytest.raises(ShopError):
        services.review_delete(review=mine, user=stranger)

    services.review_delete(review=mine, user=customer)

    assert not Review.objects.exists()
    assert figures(product)[:2] == (0, 0)
    assert product.rating_score is None


# --- helpful votes ------------------------------------------------------------------------------


def test_a_member_votes_once_never_for_their_own_and_can_take_it_back(product, customer, stranger):
    theirs = review(product, stranger)
    assert services.review_vote(review=theirs, user=customer) == 1
    with pytest.raises(Conflict):
        services.review_vote(review=theirs, user=customer)
    with pytest.raises(ShopError):
        services.review_vote(review=theirs, user=stranger)

    assert services.review_unvote(review=theirs, user=customer) == 0
    with pytest.raises(NotFound):
        services.review_unvote(review=theirs, user=customer)
    assert ReviewVote.objects.count() == 0


# --- reports and moderation ---------------------------------------------------------------------


def test_reports_hide_a_review_at_the_threshold_until_a_moderator_decides(product, moderator):
    reviewed = review(product, rating=1)
    reporters = UserFactory.create_batch(3)
    for member in reporters[:2]:
        services.review_report(review=reviewed, user=member, reason="spam")
    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.report_count) == (S.PUBLISHED, 2)

    services.review_report(review=reviewed, user=reporters[2], reason="offensive", comment="Rude")

    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.report_count) == (S.HELD, 3)
    assert figures(product)[0] == 0
    with pytest.raises(NotFound):  # hidden: no more reports or votes
        services.review_report(review=reviewed, user=UserFactory(), reason="spam")

    assert services.review_moderate(review=reviewed, actor=moderator, action=APPROVE)
    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.report_count) == (S.PUBLISHED, 0)
    assert figures(product)[0] == 1
    assert not ReviewReport.objects.filter(resolved=False).exists()


def test_a_member_reports_once_with_a_reason(product, customer):
    reviewed = review(product)
    with pytest.raises(ShopError):
        services.review_report(review=reviewed, user=customer, reason="because")
    services.review_report(review=reviewed, user=customer, reason="spam")
    with pytest.raises(Conflict):
        services.review_report(review=reviewed, user=customer, reason="fraud")
    assert ReviewReport.objects.count() == 1


def test_moderation_never_counts_twice(product, moderator):
    reviewed = review(product, rating=5)

    with pytest.raises(ShopError):
        services.review_moderate(review=reviewed, actor=moderator, action=REMOVE)  # no reason
    assert services.review_moderate(review=reviewed, actor=moderator, action=REMOVE, note="Off topic")
    assert not services.review_moderate(review=reviewed, actor=moderator, action=REMOVE, note="Again")
    assert not services.review_moderate(review=reviewed, actor=moderator, action=REJECT, note="Late")
    assert figures(product)[:2] == (0, 0)
    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.moderation_note, reviewed.moderated_by) == (S.REMOVED, "Off topic", moderator)

    assert services.review_moderate(review=reviewed, actor=moderator, action=RESTORE)
    assert not services.review_moderate(review=reviewed, actor=moderator, action=RESTORE)
    assert figures(product)[:2] == (1, 5)


def test_a_removed_review_cannot_be_edited_by_its_author(product, customer, moderator):
    mine = review(product, customer)
    services.review_moderate(review=mine, actor=moderator, action=REMOVE, note="Spam")
    with pytest.raises(Conflict):
        services.review_update(review=mine, user=customer, body="Please")


# --- photos -------------------------------------------------------------------------------------


def test_a_review_keeps_up_to_three_cleaned_photos_with_thumbnails(product, settings):
    pictures = [clean_image(photo()) for _ in range(3)]
    reviewed = review(product, photos=pictures)

    stored = list(reviewed.photos.all())
    assert len(stored) == 3
    assert all(p.image.name.endswith(".jpg") and p.thumbnail.name.endswith("-thumb.jpg") for p in stored)
    assert (stored[0].width, stored[0].height) == (320, 240)
    with pytest.raises(ShopError):
        review(ProductFactory(), photos=[clean_image(photo()) for _ in range(4)])


# --- the product page ---------------------------------------------------------------------------


def page(client, product, **params):
    return client.get(product.get_absolute_url(), params)


def test_the_page_shows_the_summary_badges_photos_and_buttons(client, product, customer, stranger):
    bought(stranger, product)
    review(product, stranger, rating=5, title="Lovely pot", photos=[clean_image(photo())])
    review(product, rating=3)
    client.force_login(customer)

    body = page(client, product).content.decode()

    assert "Verified purchase" in body
    assert '<meter min="0" max="2" value="1"' in body
    assert "5 stars: 1 review (50%)" in body
    assert "-thumb.jpg" in body
    assert "Helpful (0)" in body and "Send report" in body
    assert "Write a review" in body


def test_an_anonymous_visitor_is_asked_to_log_in_to_vote(client, product):
    review(product)
    body = page(client, product).content.decode()
    assert "Log in to vote or report" in body and "Helpful (" not in body


def test_the_author_sees_their_pending_review_and_others_do_not(settings, client, product, customer, stranger):
    settings.SHOP_REVIEWS_PREMODERATION = True
    review(product, customer, title="My secret thoughts")

    client.force_login(customer)
    mine = page(client, product).content.decode()
    client.force_login(stranger)
    theirs = page(client, product).content.decode()

    assert "My secret thoughts" in mine and "Awaiting moderation" in mine and "Edit your review" in mine
    assert "My secret thoughts" not in theirs


def test_a_vote_a_report_an_edit_and_a_delete_through_the_page(client, product, customer, stranger):
    theirs = review(product, stranger, rating=4)
    client.force_login(customer)

    def url(name, r=theirs):
        return reverse(f"catalog:{name}", args=[product.slug, r.pk])

    assert client.post(url("review_helpful")).status_code == 302
    theirs.refresh_from_db()
    assert theirs.helpful_count == 1
    assert "Helpful (1) ✓" in page(client, product).content.decode()
    client.post(url("review_helpful"), {"undo": "1"})
    theirs.refresh_from_db()
    assert theirs.helpful_count == 0

    client.post(url("review_report"), {"reason": "spam", "comment": "An ad"})
    assert ReviewReport.objects.get().reason == "spam"
    assert "You reported this review." in page(client, product).content.decode()

    assert client.post(url("review_edit"), {"rating": 1}).status_code == 403
    assert client.post(url("review_delete")).status_code == 403
    theirs.refresh_from_db()
    assert theirs.rating == 4

    client.force_login(stranger)
    client.post(url("review_edit"), {"rating": 2, "title": "Meh", "body": ""})
    theirs.refresh_from_db()
    assert (theirs.rating, theirs.title) == (2, "Meh")
    client.post(url("review_delete"))
    assert not Review.objects.exists()


def test_a_review_with_a_file_that_is_not_a_picture_is_refused_with_a_message(client, product, customer):
    client.force_login(customer)
    fake = SimpleUploadedFile("cat.jpg", b"not a picture at all", content_type="image/jpeg")

    response = client.post(
        reverse("catalog:review_create", args=[product.slug]), {"rating": 5, "photos": [fake]}, follow=True
    )

    assert "not a picture we can use" in response.content.decode()
    assert not Review.objects.exists()


def test_reviews_sort_by_most_helpful_or_newest(client, product):
    older = review(product, title="Older but useful")
    review(product, title="Newer")
    for member in UserFactory.create_batch(2):
        services.review_vote(review=older, user=member)

    helpful = page(client, product, reviews="helpful").content.decode()
    newest = page(client, product).content.decode()

    assert helpful.index("Older but useful") < helpful.index("Newer")
    assert newest.index("Newer") < newest.index("Older but useful")


def count_queries(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_with_one_review_or_many(client, customer):
    few, many = ProductFactory(), ProductFactory()
    review(few)
    for _ in range(9):
        review(many, photos=[clean_image(photo())])
    for member in UserFactory.create_batch(2):
        services.review_vote(review=many.reviews.first(), user=member)

    assert count_queries(client, few.get_absolute_url()) == count_queries(client, many.get_absolute_url())
    client.force_login(customer)
    review(many, customer)
    assert count_queries(client, few.get_absolute_url()) + 1 >= count_queries(client, many.get_absolute_url())


def test_the_per_member_parts_stay_out_of_the_cached_page(settings, client, product, customer, stranger):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    theirs = review(product, stranger)
    services.review_vote(review=theirs, user=customer)

    client.force_login(customer)
    voter = page(client, product).content.decode()
    client.force_login(stranger)
    author = page(client, product).content.decode()
    client.logout()
    visitor = page(client, product).content.decode()

    assert "Helpful (1) ✓" in voter and "Delete your review" not in voter
    assert "Helpful (1)" not in author and "1 person found this helpful" in author and "Delete your review" in author
    assert "Log in to vote or report" in visitor and "Delete your review" not in visitor


# --- a race on PostgreSQL ----------------------------------------------------------------------


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_and_votes_keep_the_counts_right():
    from tests.concurrency import run_at_once

    product = ProductFactory()
    first = services.review_create(product=product, user=UserFactory(), rating=5)
    reviewers = UserFactory.create_batch(8)
    voters = UserFactory.create_batch(8)

    run_at_once([lambda u=u, n=i: review(product, u, rating=n % 5 + 1) for i, u in enumerate(reviewers)])
    run_at_once([lambda u=u: services.review_vote(review=first, user=u) for u in voters])

    count, total, stars, _avg = figures(product)
    published = Review.objects.filter(product=product, status=S.PUBLISHED)
    assert count == published.count() == 9
    assert total == sum(published.values_list("rating", flat=True))
    assert stars == tuple(published.filter(rating=n).count() for n in range(1, 6))
    first.refresh_from_db()
    assert first.helpful_count == ReviewVote.objects.filter(review=first).count() == 8


# --- the admin's moderation queue --------------------------------------------------------------

ADMIN = "/admin/catalog/review/"


def test_the_queue_filters_reported_reviews_and_lists_in_constant_queries(client, product):
    client.force_login(StaffFactory(is_superuser=True))
    reported = review(product, title="Reported one")
    services.review_report(review=reported, user=UserFactory(), reason="spam")
    review(product, title="Quiet one", photos=[clean_image(photo())])

    body = client.get(ADMIN, {"status": "reported"}).content.decode()
    assert "Reported one" in body and "Quiet one" not in body
    assert "Quiet one" in client.get(ADMIN, {"has_photos": "yes"}).content.decode()

    small = count_queries(client, ADMIN)
    for _ in range(10):
        review(ProductFactory(), photos=[clean_image(photo())])
    assert count_queries(client, ADMIN) == small


def test_a_bulk_removal_needs_a_reason_and_the_author_reads_it(client, product, customer):
    client.force_login(StaffFactory(is_superuser=True))
    mine = review(product, customer)
    data = {"action": "remove", "_selected_action": [mine.pk], "note": ""}

    client.post(ADMIN, data)
    mine.refresh_from_db()
    assert mine.status == S.PUBLISHED

    client.post(ADMIN, {**data, "note": "Contains a phone number"})
    mine.refresh_from_db()
    assert (mine.status, mine.moderation_note) == (S.REMOVED, "Contains a phone number")
    assert figures(product)[0] == 0
    client.force_login(customer)
    body = page(client, product).content.decode()
    assert "Removed by a moderator." in body and "Contains a phone number" in body
