"""Reads of the board that are more than one line (docs/adboard.md)."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db.models import Count, F, Prefetch, Q
from django.db.models.functions import Abs

from marketing.adboard.models import Ad, AdCategory, AdField, AdPhoto, Conversation, Message, Rating

TREE_KEY = "adboard:tree:v2"  # (token, tree)
TOKEN_KEY = "adboard:tree:token"
# This process's copy of the tree, under the token it was read for. A list page asks for the tree
# some 30 times (the filters, the chips, the category links, the counts): each time from the shared
# cache was a file read and some 40 rows unpickled; now it is one small token read.
_latest: dict[str, dict] = {}


def _tree() -> dict:
    token = cache.get(TOKEN_KEY)
    found = _latest.get(token) if token else None
    if found is not None:
        return found
    entry = cache.get(TREE_KEY)
    if token and entry is not None and entry[0] == token:
        found = entry[1]
    else:
        categories = list(AdCategory.objects.filter(is_active=True).order_by("position", "name"))
        by_id = {c.pk: c for c in categories}
        for c in categories:
            c.parent = by_id.get(c.parent_id) if c.parent_id else None
        fields: dict[int, list[AdField]] = {}
        for f in AdField.objects.filter(category__in=categories).order_by("position", "id"):
            fields.setdefault(f.category_id, []).append(f)
        found = {"categories": categories, "by_id": by_id, "fields": fields}
        token = uuid.uuid4().hex
        cache.set(TREE_KEY, (token, found), 3600)
        cache.set(TOKEN_KEY, token, 3600)  # after the tree: a reader of this token finds its tree
    _latest.clear()
    _latest[token] = found
    return found


def tree_changed() -> None:
    cache.delete_many([TOKEN_KEY, TREE_KEY])
    _latest.clear()


def categories() -> list[AdCategory]:
    """Active categories, parents before their children, from the cache (no query once warm)."""
    return _tree()["categories"]


def roots() -> list[AdCategory]:
    cats = categories()
    return [c for c in cats if c.parent_id is None]


def children(category: AdCategory) -> list[AdCategory]:
    return [c for c in categories() if c.parent_id == category.pk]


def leaves() -> list[AdCategory]:
    """The categories an ad can be posted in (the most precise ones)."""
    cats = categories()
    parents = {c.parent_id for c in cats}
    return [c for c in cats if c.pk not in parents]


def category_by_slug(slug: str) -> AdCategory | None:
    return next((c for c in categories() if c.slug == slug), None)


def category_by_id(pk) -> AdCategory | None:
    return _tree()["by_id"].get(pk)


def descendant_ids(category: AdCategory) -> list[int]:
    found, frontier = [category.pk], [category.pk]
    cats = categories()
    while frontier:
        frontier = [c.pk for c in cats if c.parent_id in frontier]
        found += frontier
    return found


def ancestors(category: AdCategory) -> list[AdCategory]:
    """From the root down to the category itself."""
    chain = []
    node = category_by_id(category.pk)
    while node is not None:
        chain.append(node)
        node = category_by_id(node.parent_id) if node.parent_id else None
    return list(reversed(chain))


def fields_for(category: AdCategory) -> list[AdField]:
    """The details a category asks for: its ancestors' first, then its own."""
    fields = _tree()["fields"]
    return [f for c in ancestors(category) for f in fields.get(c.pk, [])]


def cards(queryset):
    """Ads for a list: their category, seller's standing and photos in a constant number of queries."""
    return queryset.select_related("category", "owner__board").prefetch_related(
        Prefetch("photos", queryset=AdPhoto.objects.order_by("position", "id"))
    )


def ad_detail(pk: int, user):
    return (
        Ad.objects.visible_to(user)
        .select_related("category", "owner", "owner__board")
        .prefetch_related(Prefetch("photos", queryset=AdPhoto.objects.order_by("position", "id")))
        .filter(pk=pk)
        .first()
    )


def similar(ad: Ad, limit: int = 6) -> list[Ad]:
    """Public ads of the same category, nearest in price first (then the newest)."""
    qs = Ad.objects.public().filter(category_id=ad.category_id).exclude(pk=ad.pk)
    if ad.price is not None:
        qs = qs.annotate(distance=Abs(F("price") - ad.price)).order_by(
            F("distance").asc(nulls_last=True), "-published_at"
        )
    else:
        qs = qs.order_by("-published_at")
    return list(cards(qs)[:limit])


def seller_ratings(seller, *, viewer=None):
    """A seller's ratings as shown: hidden ones only to moderators."""
    qs = Rating.objects.filter(seller=seller).select_related("rater", "ad")
    if viewer is None or not viewer.has_perm("adboard.moderate_ad"):
        qs = qs.filter(hidden=False)
    return qs.order_by("-created_at", "-id")


def seller_public_ads(seller):
    return cards(Ad.objects.public().filter(owner=seller).order_by("-published_at", "-id"))


def conversations_of(user):
    """A member's conversations, newest first, with the ad and the other member, and whether unread."""
    return (
        Conversation.objects.filter(Q(buyer=user) | Q(seller=user))
        .select_related("ad", "buyer", "seller")
        .prefetch_related(Prefetch("ad__photos", queryset=AdPhoto.objects.order_by("position", "id")))
        .order_by("-last_message_at", "-id")
    )


def conversation_for(pk: int, user):
    """A conversation only its two members (and moderators) can open."""
    qs = Conversation.objects.select_related("ad", "buyer", "seller")
    if not user.has_perm("adboard.moderate_ad"):
        qs = qs.filter(Q(buyer=user) | Q(seller=user))
    return qs.filter(pk=pk).first()


def messages_of(conversation, *, viewer):
    qs = Message.objects.filter(conversation=conversation).select_related("sender")
    if not viewer.has_perm("adboard.moderate_ad"):
        # A hidden message stays visible to the one who wrote it.
        qs = qs.filter(Q(hidden=False) | Q(sender=viewer))
    return qs.order_by("created_at", "id")


def unread_count(user) -> int:
    return Conversation.objects.filter(
        Q(buyer=user) & (Q(buyer_read_at__isnull=True) | Q(buyer_read_at__lt=F("last_message_at")))
        | Q(seller=user) & (Q(seller_read_at__isnull=True) | Q(seller_read_at__lt=F("last_message_at")))
    ).count()


def category_counts() -> dict[int, int]:
    """Public ads per category (each counted in its parents too), for the browse page."""
    rows = Ad.objects.public().values("category_id").annotate(n=Count("id")).values_list("category_id", "n")
    by_id = _tree()["by_id"]
    counts: dict[int, int] = {}
    for category_id, n in rows:
        node = by_id.get(category_id)
        while node is not None:
            counts[node.pk] = counts.get(node.pk, 0) + n
            node = by_id.get(node.parent_id) if node.parent_id else None
    return counts


def rating_summary(member) -> dict:
    """What an ad or a seller page shows of a seller's rating."""
    if member is None or not member.rating_count:
        return {"score": None, "count": 0}
    return {"score": member.rating_score, "count": member.rating_count}
