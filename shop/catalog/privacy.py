"""The catalog's part of a customer's data: their product reviews (shop/accounts/privacy.py,
docs/privacy.md)."""

from django.utils.translation import gettext_lazy

from shop.catalog import services
from shop.catalog.models import Review, ReviewReport, ReviewVote


class ReviewData:
    key = "reviews"
    label = gettext_lazy("Product reviews")
    erases = gettext_lazy("Your name on your reviews, the pictures you added to them, and comments on your reports.")
    keeps = gettext_lazy("The stars and words of your reviews, shown as written by “a customer”.")

    def export(self, user) -> dict:
        reviews = Review.objects.filter(user=user).select_related("product").prefetch_related("photos")
        return {
            "reviews": [
                {
                    "product": review.product.name,
                    "sku": review.product.sku,
                    "rating": review.rating,
                    "title": review.title,
                    "body": review.body,
                    "status": review.status,
                    "verified_purchase": review.verified,
                    "found_helpful": review.helpful_count,
                    "moderator_note": review.moderation_note,
                    "created_at": review.created_at,
                    "updated_at": review.updated_at,
                    "photos": [photo.image.url for photo in review.photos.all()],
                }
                for review in reviews.order_by("created_at", "id")
            ],
            "helpful_votes": [
                {"review": vote.review_id, "at": vote.created_at}
                for vote in ReviewVote.objects.filter(user=user).order_by("created_at", "id")
            ],
            "reports": [
                {
                    "review": report.review_id,
                    "reason": report.reason,
                    "comment": report.comment,
                    "at": report.created_at,
                }
                for report in ReviewReport.objects.filter(user=user).order_by("created_at", "id")
            ],
        }

    def erase(self, user) -> None:
        services.reviews_detach_author(user=user)
