"""Catalog writes: products' switches, and reviews with the product aggregates they move.

Reviews (docs/architecture.md, "Reviews"): every write locks the review's row, moves its state with a
conditional UPDATE on the state it read, and moves its product's aggregates (count, sum, stars, the
plain mean and the Bayesian score) with incremental UPDATEs computed by the database from the row as
it is, in the same transaction. Nothing is read, changed and written back, so two writers at once
never lose one another's review, vote or report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.catalog import cache as product_cache
from shop.catalog.models import (
    Product,
    RatingPrior,
    Review,
    ReviewPhoto,
    ReviewReport,
    ReviewStatus,
    ReviewVote,
    Variant,
)
from shop.catalog.signals import review_published, review_removed
from shop.core.errors import Conflict, NotFound, ShopError
from shop.core.moderation import ReportReason
from shop.core.uploads import CleanImage, files_delete_on_commit

S = ReviewStatus
# Before the first store-wide mean is known (an empty store), the prior sits mid-scale.
FALLBACK_PRIOR = 3.0


class NotYours(ShopError):
    status_code = 403
    code = "permission_denied"
    default_message = _("Only its author can change this review.")


# --- aggregates ---------------------------------------------------------------------------------


def prior_mean():
    """The prior's mean as an SQL expression: the setting if fixed, else the store-wide mean kept by
    rating_prior_refresh (read inside the UPDATE itself: no query of its own)."""
    fixed = settings.SHOP_RATING_PRIOR_MEAN
    if fixed is not None:
        return Value(float(fixed), output_field=FloatField())
    stored = Subquery(RatingPrior.objects.filter(pk=1).values("mean")[:1])
    return Coalesce(Cast(stored, FloatField()), Value(FALLBACK_PRIOR, output_field=FloatField()))


def _ratio(numerator, denominator, places: int):
    # In floating point (SQLite divides integers as integers), rounded as a decimal (PostgreSQL
    # rounds only numerics): the same figures on both databases.
    value = Cast(numerator, FloatField()) / Cast(denominator, FloatField())
    return Round(Cast(value, DecimalField(max_digits=12, decimal_places=6)), places)


def rating_values(count, total) -> dict:
    """The mean and the Bayesian score of `count` reviews summing `total` stars (SQL expressions)."""
    m = settings.SHOP_RATING_PRIOR_WEIGHT
    rated = GreaterThan(count, 0)
    score = _ratio(prior_mean() * Value(float(m)) + Cast(total, FloatField()), count + m, 3)
    return {
        "rating_avg": Case(When(rated, then=_ratio(total, count, 2)), default=None),
        "rating_score": Case(When(rated, then=score), default=None),
    }


def _shift(product_id: int, *, added: Sequence[int] = (), removed: Sequence[int] = ()) -> None:
    """Published ratings in (added) and out (removed) of a product's aggregates, by increments."""
    stars = Counter(added)
    stars.subtract(removed)
    count, total = len(added) - len(removed), sum(added) - sum(removed)
    values = {f"stars_{n}": F(f"stars_{n}") + d for n, d in stars.items() if d}
    if not values and not count and not total:
        return
    # Every right-hand side reads the row as it was before this statement (SQL's UPDATE), under
    # the row lock the UPDATE takes: a concurrent review waits, then adds to what this one left.
    new_count, new_total = F("rating_count") + count, F("rating_sum") + total
    values |= {"rating_count": new_count, "rating_sum": new_total, **rating_values(new_count, new_total)}
    Product.objects.filter(pk=product_id).update(**values)


def product_refresh_rating(*, product_ids: Iterable[int]) -> None:
    """Recount products' aggregates from their published reviews: for repairs and bulk loads (the
    demo, migrations) with no review being written meanwhile; the review services never recount."""
    ids = list(product_ids)
    published = Review.objects.filter(product=OuterRef("pk"), status=S.PUBLISHED).order_by().values("product")

    def tally(expression):
        return Coalesce(Subquery(published.annotate(n=expression).values("n")), 0)

    for start in range(0, len(ids), 500):
        values = {f"stars_{n}": tally(Count("id", filter=Q(rating=n))) for n in range(1, 6)}
        values |= {"rating_count": tally(Count("id")), "rating_sum": tally(Sum("rating"))}
        # rating_count and rating_sum as just set: a second statement reads them from the row.
        Product.objects.filter(pk__in=ids[start : start + 500]).update(**values)
        Product.objects.filter(pk__in=ids[start : start + 500]).update(
            **rating_values(F("rating_count"), F("rating_sum"))
        )


def rating_prior_refresh() -> RatingPrior | None:
    """Scheduled: the store-wide mean of published reviews becomes every product's prior, and scores
    follow it. Scores are rewritten only when the mean moved (each rewrite drops cached pages)."""
    figures = Review.objects.filter(status=S.PUBLISHED).aggregate(mean=Avg("rating"), n=Count("id"))
    if not figures["n"]:
        return None
    mean = round(float(figures["mean"]), 2)
    with transaction.atomic():
        prior = RatingPrior.objects.select_for_update().filter(pk=1).first()
        moved = prior is None or abs(float(prior.mean) - mean) >= 0.005
        prior, _created = RatingPrior.objects.update_or_create(
            pk=1, defaults={"mean": Decimal(f"{mean:.2f}"), "reviews": figures["n"], "computed_at": timezone.now()}
        )
        if moved and settings.SHOP_RATING_PRIOR_MEAN is None:
            # One statement from each row as it is: a review landing meanwhile waits for the row.
            Product.objects.filter(rating_count__gt=0).update(**rating_values(F("rating_count"), F("rating_sum")))
    return prior


# --- reviews ------------------------------------------------------------------------------------


def _bought(*, product_id: int, user_id: int) -> bool:
    from shop.orders.models import PAID_STATES, OrderLine

    return OrderLine.objects.filter(
        order__user_id=user_id, order__status__in=PAID_STATES, product_id=product_id
    ).exists()


def _announce(review: Review, status: str) -> None:
    """After commit, what other apps hear (loyalty rewards a published review, takes it back when a
    moderator rejects or removes it): ids only."""
    ids = {"review_id": review.pk, "product_id": review.product_id, "user_id": review.user_id}
    if status == S.PUBLISHED:
        transaction.on_commit(lambda: review_published.send(sender=Review, **ids))
    elif status in (S.REJECTED, S.REMOVED):
        transaction.on_commit(lambda: review_removed.send(sender=Review, status=status, **ids))


def _add_photos(review: Review, photos: Sequence[CleanImage], *, have: int = 0) -> None:
    limit = settings.SHOP_REVIEW_PHOTOS
    if have + len(photos) > limit:
        raise ShopError(
            ngettext("A review can have at most %(n)d picture.", "A review can have at most %(n)d pictures.", limit)
            % {"n": limit},
            field="photos",
        )
    for position, photo in enumerate(photos, start=have):
        ReviewPhoto.objects.create(review=review, image=photo.image, thumbnail=photo.thumbnail, position=position)


def review_create(
    *,
    product: Product,
    user,
    rating: int,
    title: str = "",
    body: str = "",
    photos: Sequence[CleanImage] = (),
) -> Review:
    """One review per customer and product: published at once (post-moderation) or pending
    (SHOP_REVIEWS_PREMODERATION); verified when the author has a paid order of the product."""
    status = S.PENDING if settings.SHOP_REVIEWS_PREMODERATION else S.PUBLISHED
    verified = _bought(product_id=product.pk, user_id=user.pk)
    with transaction.atomic():
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    product=product,
                    user=user,
                    rating=rating,
                    title=title,
                    body=body,
                    status=status,
                    verified=verified,
                )
        except IntegrityError:
            raise Conflict(_("You have already reviewed this product."), field="rating") from None
        _add_photos(review, photos)
        if status == S.PUBLISHED:
            _shift(product.pk, added=[rating])
        _announce(review, status)
    return review


def _locked(review_id: int) -> Review:
    """The review's row, locked until the transaction ends: every change of a review starts here."""
    review = Review.objects.select_for_update().filter(pk=review_id).first()
    if review is None:
        raise NotFound(_("This review no longer exists."))
    return review


def _move(review: Review, to: str, **fields) -> None:
    """The guarded state change: only from the state read under the lock (another moderator, or the
    reports, may have moved it: then nothing is written twice)."""
    moved = Review.objects.filter(pk=review.pk, status=review.status).update(status=to, **fields)
    if moved != 1:
        raise Conflict(_("This review was changed meanwhile: look again."))


def review_update(
    *,
    review: Review,
    user,
    rating: int | None = None,
    title: str | None = None,
    body: str | None = None,
    photos: Sequence[CleanImage] = (),
    remove_photos: Iterable[int] = (),
) -> Review:
    """Its author edits a review. Under pre-moderation a published review goes back to the queue; a
    rejected one goes back to the queue whatever the setting; a removed one stays removed."""
    with transaction.atomic():
        current = _locked(review.pk)
        if current.user_id != user.pk:
            raise NotYours()
        if current.status == S.REMOVED:
            raise Conflict(_("A moderator removed this review: it cannot be edited."))
        new_rating = current.rating if rating is None else rating
        to = current.status
        if current.status == S.REJECTED or (current.status == S.PUBLISHED and settings.SHOP_REVIEWS_PREMODERATION):
            to = S.PENDING
        fields = {"rating": new_rating, "updated_at": timezone.now()}
        if current.status == S.REJECTED:
            fields["moderation_note"] = ""  # sent again: the old reason no longer applies
        if title is not None:
            fields["title"] = title
        if body is not None:
            fields["body"] = body
        _move(current, to, **fields)
        removed = list(remove_photos)
        if removed:
            current.photos.filter(pk__in=removed).delete()
        if photos:
            _add_photos(current, photos, have=current.photos.count())
        was_in = current.status == S.PUBLISHED
        _shift(
            current.product_id,
            added=[new_rating] if to == S.PUBLISHED else [],
            removed=[current.rating] if was_in else [],
        )
        current.refresh_from_db()
    return current


def review_delete(*, review: Review, user) -> None:
    """Its author deletes a review (its points stay: only a moderator's removal takes them back)."""
    with transaction.atomic():
        current = _locked(review.pk)
        if current.user_id != user.pk:
            raise NotYours(_("Only its author can delete this review."))
        _move(current, S.REMOVED)  # claimed first, so a moderator acting meanwhile finds it gone
        if current.status == S.PUBLISHED:
            _shift(current.product_id, removed=[current.rating])
        current.delete()


def _visible(review: Review, user, *, doing: str) -> None:
    if review.status != S.PUBLISHED:
        raise NotFound(_("This review is not shown."))
    if review.user_id == user.pk:
        raise ShopError(doing)


def review_vote(*, review: Review, user) -> int:
    """A member finds a review helpful: once each, never their own. Returns the new count."""
    with transaction.atomic():
        current = _locked(review.pk)
        _visible(current, user, doing=_("You cannot vote for your own review."))
        try:
            with transaction.atomic():
                ReviewVote.objects.create(review=current, user=user)
        except IntegrityError:
            raise Conflict(_("You have already found this review helpful.")) from None
        Review.objects.filter(pk=current.pk).update(helpful_count=F("helpful_count") + 1)
    return Review.objects.values_list("helpful_count", flat=True).get(pk=current.pk)


def review_unvote(*, review: Review, user) -> int:
    """Take one's helpful vote back. Returns the new count."""
    with transaction.atomic():
        current = _locked(review.pk)
        deleted, _detail = ReviewVote.objects.filter(review=current, user=user).delete()
        if not deleted:
            raise NotFound(_("You have not voted for this review."))
        Review.objects.filter(pk=current.pk).update(helpful_count=F("helpful_count") - 1)
    return Review.objects.values_list("helpful_count", flat=True).get(pk=current.pk)


def review_report(*, review: Review, user, reason: str, comment: str = "") -> ReviewReport:
    """A member reports a review, once, with a reason. At SHOP_REVIEW_REPORTS_TO_HIDE reports a
    published review is hidden (and leaves the rating) until a moderator decides."""
    if reason not in ReportReason.values:
        raise ShopError(_("Choose a reason from the list."), field="reason")
    with transaction.atomic():
        current = _locked(review.pk)
        _visible(current, user, doing=_("You cannot report your own review."))
        try:
            with transaction.atomic():
                report = ReviewReport.objects.create(review=current, user=user, reason=reason, comment=comment)
        except IntegrityError:
            raise Conflict(_("You have already reported this review.")) from None
        Review.objects.filter(pk=current.pk).update(report_count=F("report_count") + 1)
        threshold = settings.SHOP_REVIEW_REPORTS_TO_HIDE
        # Guarded: hidden once, from published only, whatever else reports or moderates at once.
        hidden = Review.objects.filter(pk=current.pk, status=S.PUBLISHED, report_count__gte=threshold).update(
            status=S.HELD
        )
        if hidden:
            _shift(current.product_id, removed=[current.rating])
    return report


APPROVE, REJECT, REMOVE, RESTORE = "approve", "reject", "remove", "restore"
# action: (the states it moves from, the state it moves to)
MODERATION = {
    APPROVE: ((S.PENDING, S.HELD), S.PUBLISHED),
    REJECT: ((S.PENDING, S.HELD), S.REJECTED),
    REMOVE: ((S.PUBLISHED, S.HELD, S.PENDING), S.REMOVED),
    RESTORE: ((S.REMOVED, S.REJECTED), S.PUBLISHED),
}


def review_moderate(*, review: Review, actor, action: str, note: str = "") -> bool:
    """A moderator decides. Returns False when the review is no longer in a state the action moves
    from (another moderator got there first): nothing is counted twice. Rejecting and removing need a
    reason, which the author reads."""
    if action not in MODERATION:
        raise ShopError(_("Unknown moderation action."), field="action")
    note = (note or "").strip()
    if action in (REJECT, REMOVE) and not note:
        raise ShopError(_("Say why: the author reads the reason."), field="note")
    sources, to = MODERATION[action]
    with transaction.atomic():
        current = Review.objects.select_for_update().filter(pk=review.pk).first()
        if current is None or current.status not in sources:
            return False
        fields = {"moderated_by": actor, "moderated_at": timezone.now(), "moderation_note": note[:300]}
        if action == APPROVE:
            fields["report_count"] = 0  # reports dismissed: it takes new ones to hide it again
        _move(current, to, **fields)
        current.reports.filter(resolved=False).update(resolved=True)
        was_in, now_in = current.status == S.PUBLISHED, to == S.PUBLISHED
        if was_in != now_in:
            _shift(
                current.product_id, added=[current.rating] if now_in else [], removed=[] if now_in else [current.rating]
            )
        current.status = to
        _announce(current, to)
    return True


def reviews_moderate(*, review_ids: Iterable[int], actor, action: str, note: str = "") -> int:
    """The same decision for many reviews (the admin's bulk actions), one at a time in id order: how
    many moved."""
    return sum(
        review_moderate(review=Review(pk=pk), actor=actor, action=action, note=note) for pk in sorted(set(review_ids))
    )


# --- products -----------------------------------------------------------------------------------


def products_set_active(*, product_ids, active: bool) -> int:
    return Product.objects.filter(pk__in=product_ids).update(is_active=active)


def products_set_stock(*, product_ids, stock: int) -> int:
    """Set the stock of single-variant products (their variant's with it); products with several
    variants keep theirs (their stock is the sum of their variants', set per variant)."""
    if stock < 0:
        raise ValueError("Stock cannot be negative.")
    single = (
        Variant.objects.filter(product__in=product_ids)
        .values("product")
        .annotate(n=Count("pk"))
        .filter(n=1)
        .values("product")
    )
    with transaction.atomic():
        Variant.objects.filter(product__in=single).update(stock=stock)
        return Product.objects.filter(pk__in=single).update(stock=stock)


def variants_create_defaults(*, product_ids) -> int:
    """The default variant (the product's SKU and stock, its price) of each of these products that has
    none: for products written in bulk (bulk_create skips Product.save, which makes it otherwise)."""
    rows = (
        Product.objects.filter(pk__in=product_ids, variants__isnull=True)
        .order_by("pk")
        .values_list("pk", "sku", "stock")
    )
    made = Variant.objects.bulk_create([Variant(product_id=pk, sku=sku, stock=stock) for pk, sku, stock in rows])
    return len(made)


def reviews_detach_author(*, user) -> None:
    """The customer's erasure (shop/accounts/privacy.py): their reviews keep their stars and words,
    which count in products' ratings, but lose their pictures (files removed after commit) and any
    tie to a name (the account's name is blanked by the erasure; the product pages that showed it
    are built again). Comments they wrote with their reports are blanked; the reports stay for the
    moderators' records."""
    reviews = Review.objects.filter(user=user)
    photos = list(ReviewPhoto.objects.filter(review__in=reviews))
    ReviewPhoto.objects.filter(pk__in=[photo.pk for photo in photos]).delete()
    files_delete_on_commit([f for photo in photos for f in (photo.image, photo.thumbnail)])
    ReviewReport.objects.filter(user=user).exclude(comment="").update(comment="")
    product_cache.products_changed(reviews.values_list("product_id", flat=True), lists=False)
