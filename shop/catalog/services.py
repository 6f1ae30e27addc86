from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from shop.catalog.models import Product, Review
from shop.core.errors import Conflict


def review_create(*, product: Product, user, rating: int, title: str = "", body: str = "") -> Review:
    """One review per customer and product; the product's rating follows."""
    with transaction.atomic():
        # Lock the product so two reviews landing at once both count in its average.
        Product.objects.select_for_update().filter(pk=product.pk).first()
        try:
            with transaction.atomic():
                review = Review.objects.create(product=product, user=user, rating=rating, title=title, body=body)
        except IntegrityError:
            raise Conflict(_("You have already reviewed this product."), field="rating") from None
        product_refresh_rating(product_ids=[product.pk])
    return review


def product_refresh_rating(*, product_ids) -> None:
    reviews = Review.objects.filter(product=OuterRef("pk")).order_by().values("product")
    Product.objects.filter(pk__in=product_ids).update(
        rating_avg=Subquery(reviews.annotate(avg=Avg("rating")).values("avg")),
        rating_count=Coalesce(Subquery(reviews.annotate(n=Count("id")).values("n")), 0),
    )


def products_set_active(*, product_ids, active: bool) -> int:
    return Product.objects.filter(pk__in=product_ids).update(is_active=active)


def products_set_stock(*, product_ids, stock: int) -> int:
    if stock < 0:
        raise ValueError("Stock cannot be negative.")
    return Product.objects.filter(pk__in=product_ids).update(stock=stock)
