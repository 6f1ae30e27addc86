"""The ad board's part of a customer's data (shop/accounts/privacy.py, docs/privacy.md): their ads,
what they saved, what they wrote in conversations, the ratings they gave and received."""

from django.db.models import Q
from django.utils.translation import gettext_lazy

from marketing.adboard import services
from marketing.adboard.models import Ad, Conversation, Member, Rating, Report, SavedAd, SavedSearch

AD_FIELDS = (
    "title",
    "description",
    "price",
    "currency",
    "price_kind",
    "condition",
    "city",
    "region",
    "details",
    "status",
    "rejection_reason",
    "created_at",
    "published_at",
    "expires_at",
)


class BoardData:
    key = "ad_board"
    label = gettext_lazy("Ad board")
    erases = gettext_lazy(
        "Your ads and their photos, what you wrote in messages (replaced by “This message was removed.”), "
        "the comments of the ratings you gave, your saved ads and saved searches."
    )
    keeps = gettext_lazy("The stars of the ratings you gave and received, with no name on them.")

    def export(self, user) -> dict:
        standing = Member.objects.filter(user=user).first()
        ads = Ad.objects.filter(owner=user).select_related("category").prefetch_related("photos")
        return {
            "member": None
            if standing is None
            else {"banned_at": standing.banned_at, "ratings": standing.rating_count, "rating": standing.rating_score},
            "ads": [
                {
                    "id": ad.pk,
                    "category": ad.category.name,
                    **{name: getattr(ad, name) for name in AD_FIELDS},
                    "photos": [photo.image.url for photo in ad.photos.all()],
                }
                for ad in ads.order_by("created_at", "id")
            ],
            "saved_ads": [
                {"ad": saved.ad_id, "title": saved.ad.title, "saved_at": saved.created_at}
                for saved in SavedAd.objects.filter(user=user).select_related("ad").order_by("created_at", "id")
            ],
            "saved_searches": list(
                SavedSearch.objects.filter(user=user)
                .order_by("created_at", "id")
                .values("name", "query", "alerts", "created_at")
            ),
            "conversations": _conversations(user),
            # What others said of the customer as a seller, without saying who they are.
            "ratings_given": list(
                Rating.objects.filter(rater=user)
                .order_by("created_at", "id")
                .values("seller_id", "ad_id", "stars", "comment", "reply", "created_at", "updated_at")
            ),
            "ratings_received": list(
                Rating.objects.filter(seller=user)
                .order_by("created_at", "id")
                .values("ad_id", "stars", "comment", "reply", "replied_at", "created_at", "hidden")
            ),
            "reports": list(
                Report.objects.filter(reporter=user)
                .order_by("created_at", "id")
                .values("ad_id", "message_id", "rating_id", "reason", "comment", "created_at")
            ),
        }

    def erase(self, user) -> None:
        services.member_erase(user)


def _conversations(user) -> list:
    """Each conversation the customer took part in, with the messages they wrote (the other
    member's are theirs, not the customer's)."""
    conversations = (
        Conversation.objects.filter(Q(buyer=user) | Q(seller=user))
        .select_related("ad")
        .prefetch_related("messages")
        .order_by("created_at", "id")
    )
    return [
        {
            "id": conversation.pk,
            "ad": conversation.ad.title,
            "role": "buyer" if conversation.buyer_id == user.pk else "seller",
            "started_at": conversation.created_at,
            "messages_written": [
                {"at": message.created_at, "body": message.body}
                for message in conversation.messages.all()
                if message.sender_id == user.pk
            ],
        }
        for conversation in conversations
    ]
