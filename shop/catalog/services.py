"""Catalog writes: products' switches, and reviews with the product aggregates they move.

Reviews (docs/architecture.md, "Reviews"): every write locks the review's row, moves its state with a
conditional UPDATE on the state it read, and moves its product's aggregates (count, sum, stars, the
plain mean and the Bayesian score) with incremental UPDATEs computed by the database from the row as
it is, in the same transaction. Nothing is read, changed and written back, so two writers at once
never lose one another's review, vote or report.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

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
    Attribute,
    AttributeValue,
    Product,
    ProductAttributeValue,
    RatingPrior,
    Review,
    ReviewPhoto,
    ReviewReport,
    ReviewStatus,
    ReviewVote,
    Variant,
    VariantOption,
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
    """The admin's bulk "set stock": every active variant of these products gets `stock`, and each
    product's stock becomes the sum of its active variants' (a single-variant product: `stock`).
    Inactive variants keep theirs. Returns how many products were changed.

    Under the locks checkout takes (products, then their variants, in id order), so a sale
    meanwhile either lands before (and is overwritten, as any stock count is) or waits."""
    if stock < 0:
        raise ValueError("Stock cannot be negative.")
    with transaction.atomic():
        ids = _lock_products(product_ids)
        Variant.objects.filter(product__in=ids, is_active=True).update(stock=stock)
        return _sum_stock(ids)


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


# --- variants in the admin ----------------------------------------------------------------------
# docs/variants.md, "In the admin". Every write here locks the products, then their variants, in id
# order (as checkout does, shop/orders/checkout.py, so the two queue in one order and never deadlock),
# writes, and sets each product's stock to the sum of its active variants' in the same transaction.

# "Generate variants" makes at most this many at once (3 colours in 8 sizes are 24).
MAX_GENERATED_VARIANTS = 200


class Generated(NamedTuple):
    created: int  # variants made
    skipped: int  # combinations the product had already
    replaced: bool  # its default variant (alone, no options, no stock) gave way


def _lock_products(product_ids) -> list[int]:
    """Lock these products, then their variants, in id order. Returns the products' ids."""
    ids = list(
        Product.objects.filter(pk__in=product_ids).order_by("pk").select_for_update().values_list("pk", flat=True)
    )
    variants = Variant.objects.filter(product__in=ids).order_by("product_id", "pk").select_for_update()
    list(variants.values_list("pk", flat=True))
    return ids


def _sum_stock(product_ids: Sequence[int]) -> int:
    """Each of these (locked) products' stock becomes the sum of its active variants' (0 for none)."""
    total = (
        Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        .order_by()
        .values("product")
        .annotate(total=Sum("stock"))
        .values("total")
    )
    return Product.objects.filter(pk__in=product_ids).update(stock=Coalesce(Subquery(total), 0))


def product_admin_save(*, product: Product, stock_given: bool) -> Product:
    """Save a product from its admin form. Its stock is written only when staff typed one (a single-
    variant product's, carried to its variant by Product.save); otherwise the stock as it is now,
    read under the lock, so a sale made while the form was open is not undone."""
    with transaction.atomic():
        if product.pk is not None:
            _lock_products([product.pk])
            if not stock_given:
                product.stock = Product.objects.values_list("stock", flat=True).get(pk=product.pk)
        product.save()
    return product


def product_set_attribute_values(*, product: Product, values: Iterable[AttributeValue]) -> None:
    """The values that describe the product as a whole (material: cotton), exactly these."""
    wanted = {value.pk for value in values}
    with transaction.atomic():
        ProductAttributeValue.objects.filter(product=product).exclude(value__in=wanted).delete()
        have = set(ProductAttributeValue.objects.filter(product=product).values_list("value_id", flat=True))
        ProductAttributeValue.objects.bulk_create(
            [ProductAttributeValue(product=product, value_id=pk) for pk in sorted(wanted - have)]
        )


def variants_drop_default(*, product: Product) -> int:
    """A product created in the admin together with its variants: the default variant Product.save
    made for it (the product's SKU and stock, no options) gives way to them."""
    with transaction.atomic():
        _lock_products([product.pk])
        default = Variant.objects.filter(product=product, sku=product.sku, options__isnull=True)
        deleted, _detail = Variant.objects.filter(pk__in=list(default.values_list("pk", flat=True))).delete()
    return deleted


def variant_set_options(*, variant: Variant, values: dict[Attribute, AttributeValue | None]) -> None:
    """A variant's value of each of these attributes (None: no value)."""
    for attribute, value in values.items():
        if value is None:
            VariantOption.objects.filter(variant=variant, attribute=attribute).delete()
            continue
        if value.attribute_id != attribute.pk:
            raise ShopError(
                _("%(value)s is not a value of %(attribute)s.") % {"value": value.name, "attribute": attribute.name}
            )
        VariantOption.objects.update_or_create(variant=variant, attribute=attribute, defaults={"value": value})
    product_cache.products_changed([variant.product_id])


def product_variants_saved(*, product: Product) -> None:
    """After the admin saved a product and its variants: options only of its type's variant
    attributes (a type changed drops the others); a single variant keeps the product's SKU (as
    Product.save would on the next save); the product's stock is the sum of its active variants'."""
    with transaction.atomic():
        _lock_products([product.pk])
        kept = product.product_type.variant_attributes.all() if product.product_type_id else Attribute.objects.none()
        VariantOption.objects.filter(variant__product=product).exclude(attribute__in=kept).delete()
        variants = list(Variant.objects.filter(product=product)[:2])
        if len(variants) == 1 and variants[0].sku != product.sku:
            if not Variant.objects.filter(sku=product.sku).exists():
                Variant.objects.filter(pk=variants[0].pk).update(sku=product.sku)
        _sum_stock([product.pk])
        product.stock = Product.objects.values_list("stock", flat=True).get(pk=product.pk)
    product_cache.products_changed([product.pk])


def variant_save(*, variant: Variant, fields: Sequence[str] | None = None) -> Variant:
    """Save a variant edited on its own (the variants list, its page): its product's stock follows.
    `fields`: only these (what the form changed), so a sale meanwhile keeps its stock."""
    with transaction.atomic():
        _lock_products([variant.product_id])
        if fields is None or fields:
            variant.save(update_fields=fields)
        _sum_stock([variant.product_id])
    product_cache.products_changed([variant.product_id])
    return variant


def variants_mark_sold_out(*, variant_ids: Iterable[int]) -> int:
    """These variants' stock becomes 0, and their products' stock the sum of the rest. Returns how
    many had stock."""
    ids = list(variant_ids)
    with transaction.atomic():
        products = _lock_products(Variant.objects.filter(pk__in=ids).values("product_id"))
        sold_out = Variant.objects.filter(pk__in=ids, stock__gt=0).update(stock=0)
        _sum_stock(products)
    return sold_out


def generated_sku(sku: str, values: Sequence[AttributeValue]) -> str:
    """A generated variant's SKU: the product's, then its values' slugs (TEE-RED-M)."""
    return "-".join([sku, *(value.slug.upper() for value in values)])


def generated_sku_example(*, product: Product, attributes: Sequence[Attribute]) -> str:
    """The SKU the first combination would have (for the form that generates them)."""
    firsts: dict[int, AttributeValue] = {}
    for value in AttributeValue.objects.filter(attribute__in=attributes).order_by("position", "pk"):
        firsts.setdefault(value.attribute_id, value)
    return generated_sku(product.sku, [firsts[a.pk] for a in attributes if a.pk in firsts])


def variant_attributes_of(product: Product) -> list[Attribute]:
    """The attributes the product's variants have a value of each of (its type's variant attributes);
    refused when it has none, as variants cannot be told apart then."""
    if product.product_type_id is None:
        raise ShopError(_("Choose a product type with variant attributes (size, colour) for this product first."))
    attributes = list(product.product_type.variant_attributes.all())
    if not attributes:
        raise ShopError(
            _("The product type %(type)s has no variant attributes: add some to it first.")
            % {"type": product.product_type.name}
        )
    return attributes


def variants_generate(*, product: Product, values: Iterable[AttributeValue]) -> Generated:
    """A variant for each combination of these values (at least one of each variant attribute of the
    product's type) that the product has not: SKU the product's and the values' slugs (TEE-RED-M),
    stock 0, the product's price, after its other variants. A default variant alone, with no options
    and no stock, gives way to them; one with stock stays (staff give it options or delete it).
    All or nothing: a combination whose SKU is taken or too long refuses the lot."""
    chosen = list(values)
    with transaction.atomic():
        _lock_products([product.pk])
        product = Product.objects.select_related("product_type").get(pk=product.pk)
        attributes = variant_attributes_of(product)
        combinations = _combinations(attributes, chosen)
        variants = list(Variant.objects.filter(product=product).prefetch_related("options"))
        have = {frozenset(option.value_id for option in variant.options.all()) for variant in variants}
        new = [combo for combo in combinations if frozenset(value.pk for value in combo) not in have]
        _check_skus([generated_sku(product.sku, combo) for combo in new])
        replaced = bool(new) and len(variants) == 1 and not variants[0].options.all() and variants[0].stock == 0
        if replaced:
            variants[0].delete()
            variants = []
        start = max((variant.position for variant in variants), default=-1) + 1
        made = Variant.objects.bulk_create(
            [
                Variant(product=product, sku=generated_sku(product.sku, combo), stock=0, position=start + i)
                for i, combo in enumerate(new)
            ]
        )
        VariantOption.objects.bulk_create(
            [
                VariantOption(variant=variant, attribute_id=value.attribute_id, value=value)
                for variant, combo in zip(made, new, strict=True)
                for value in combo
            ]
        )
        _sum_stock([product.pk])
    product_cache.products_changed([product.pk])
    return Generated(created=len(made), skipped=len(combinations) - len(new), replaced=replaced)


def _combinations(attributes: Sequence[Attribute], chosen: Sequence[AttributeValue]) -> list[tuple]:
    """Every combination of the chosen values, one of each attribute, in the attributes' order."""
    by_attribute: dict[int, list[AttributeValue]] = {attribute.pk: [] for attribute in attributes}
    for value in chosen:
        if value.attribute_id not in by_attribute:
            raise ShopError(_("%(value)s is not a value of this product type's variant attributes.") % {"value": value})
        by_attribute[value.attribute_id].append(value)
    missing = [attribute.name for attribute in attributes if not by_attribute[attribute.pk]]
    if missing:
        raise ShopError(_("Choose at least one value of each: %(names)s.") % {"names": ", ".join(missing)})
    columns = [sorted(set(by_attribute[a.pk]), key=lambda v: (v.position, v.pk)) for a in attributes]
    count = 1
    for column in columns:
        count *= len(column)
    if count > MAX_GENERATED_VARIANTS:
        raise ShopError(
            _("That makes %(count)d combinations; at most %(max)d are made at once.")
            % {"count": count, "max": MAX_GENERATED_VARIANTS}
        )
    return list(itertools.product(*columns))


def _check_skus(skus: Sequence[str]) -> None:
    limit = Variant._meta.get_field("sku").max_length
    too_long = [sku for sku in skus if len(sku) > limit]
    if too_long:
        raise ShopError(
            _("These SKUs would be longer than %(n)d characters: %(skus)s. Shorten the product's SKU or the slugs.")
            % {"n": limit, "skus": ", ".join(too_long[:5])}
        )
    taken = sorted(Variant.objects.filter(sku__in=skus).values_list("sku", flat=True))
    if taken:
        raise ShopError(
            _("These SKUs are taken already: %(skus)s. Change them where they are, or the product's SKU.")
            % {"skus": ", ".join(taken[:5])}
        )
