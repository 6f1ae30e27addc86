"""The ad board: members' classified ads, their conversations, sellers' ratings and reports
(docs/adboard.md). Every write goes through services.py; this module holds the rows and the
rules that belong to one row."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from shop.core.moderation import ReportReason
from shop.core.money import Money


class AdCategory(models.Model):
    """The board's own tree (Home › Furniture, Vehicles › Cars), apart from the catalog's."""

    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    name = models.CharField(_("name"), max_length=80)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ad category")
        verbose_name_plural = _("ad categories")
        ordering = ["position", "name"]

    def __str__(self):
        return f"{self.parent.name} › {self.name}" if self.parent_id and self.parent else self.name


class AdField(models.Model):
    """A detail a category asks for (a car's year, a flat's rooms), shown on the ad and usable
    as a filter. A sub-category asks for its parent's fields too."""

    class Kind(models.TextChoices):
        NUMBER = "number", _("Number")
        CHOICE = "choice", _("Choice")
        TEXT = "text", _("Text")
        YES_NO = "yes_no", _("Yes or no")

    category = models.ForeignKey(
        AdCategory, verbose_name=_("category"), related_name="fields", on_delete=models.CASCADE
    )
    key = models.SlugField(_("key"), max_length=40, help_text=_("Used in addresses and the API, e.g. mileage."))
    label = models.CharField(_("label"), max_length=60)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NUMBER)
    unit = models.CharField(_("unit"), max_length=12, blank=True, help_text=_("Shown after numbers, e.g. km or m²."))
    choices = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_('For a choice: the values, e.g. ["petrol", "diesel"].')
    )
    min_value = models.IntegerField(_("lowest number"), null=True, blank=True)
    max_value = models.IntegerField(_("highest number"), null=True, blank=True)
    required = models.BooleanField(_("required"), default=False)
    filterable = models.BooleanField(_("a filter"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("ad detail")
        verbose_name_plural = _("ad details")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["category", "key"], name="one_ad_field_key_per_category")]

    def __str__(self):
        return self.label


class Condition(models.TextChoices):
    NEW = "new", _("New")
    LIKE_NEW = "like_new", _("Like new")
    GOOD = "good", _("Good")
    FAIR = "fair", _("Fair")
    FOR_PARTS = "for_parts", _("For parts or repair")


class PriceKind(models.TextChoices):
    FIXED = "fixed", _("Fixed price")
    NEGOTIABLE = "negotiable", _("Negotiable")
    FREE = "free", _("Free")


class AdQuerySet(models.QuerySet):
    def public(self):
        """What anyone may see in lists, search, similar ads, alerts and the API."""
        return self.filter(status=Ad.Status.PUBLISHED, expires_at__gt=timezone.now())

    def visible_to(self, user):
        """Public ads, plus the member's own in any state but deleted; moderators see everything."""
        if user is not None and user.is_authenticated:
            if user.has_perm("adboard.moderate_ad"):
                return self.all()
            return self.filter(
                Q(status=Ad.Status.PUBLISHED, expires_at__gt=timezone.now())
                | Q(status=Ad.Status.SOLD)
                | (Q(owner=user) & ~Q(status=Ad.Status.DELETED))
            )
        return self.filter(Q(status=Ad.Status.PUBLISHED, expires_at__gt=timezone.now()) | Q(status=Ad.Status.SOLD))


class Ad(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        PUBLISHED = "published", _("Published")
        REJECTED = "rejected", _("Rejected")
        HIDDEN = "hidden", _("Hidden after reports")
        SOLD = "sold", _("Sold")
        EXPIRED = "expired", _("Expired")
        DELETED = "deleted", _("Deleted")

    # A member's ads that count against the quota.
    ACTIVE = (Status.PENDING, Status.PUBLISHED, Status.HIDDEN)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("seller"), related_name="ads", on_delete=models.CASCADE
    )
    category = models.ForeignKey(AdCategory, verbose_name=_("category"), related_name="ads", on_delete=models.PROTECT)
    title = models.CharField(_("title"), max_length=90)
    description = models.TextField(_("description"), max_length=5000)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    price_kind = models.CharField(_("price"), max_length=10, choices=PriceKind.choices, default=PriceKind.FIXED)
    condition = models.CharField(_("condition"), max_length=10, choices=Condition.choices, default=Condition.GOOD)
    city = models.CharField(_("city"), max_length=80)
    region = models.CharField(_("region"), max_length=80)
    details = models.JSONField(_("details"), default=dict, blank=True)

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    rejection_reason = models.TextField(_("reason given to the seller"), blank=True)
    flags = models.JSONField(_("automatic flags"), default=list, blank=True)
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    photo_count = models.PositiveSmallIntegerField(_("photos"), default=0)

    created_at = models.DateTimeField(_("posted"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("expiry reminder sent"), null=True, blank=True)
    # Lower-cased stems of the words, space-separated and framed by spaces (" red sofa "), so a
    # word is found as " stem" on both databases; PostgreSQL indexes them with pg_trgm.
    search_title = models.TextField(editable=False, default="")
    search_body = models.TextField(editable=False, default="")
    # The text as the duplicate check compares it.
    fingerprint = models.CharField(max_length=64, editable=False, default="", db_index=True)

    objects = AdQuerySet.as_manager()

    class Meta:
        verbose_name = _("ad")
        verbose_name_plural = _("ads")
        ordering = ["-published_at", "-id"]
        permissions = [("moderate_ad", _("Can moderate the ad board"))]
        indexes = [
            models.Index(fields=["status", "-published_at"]),
            models.Index(fields=["category", "status", "-published_at"]),
            models.Index(fields=["status", "price"]),
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0) | Q(price__isnull=True), name="ad_price_not_negative"),
            models.CheckConstraint(
                condition=~Q(price_kind="fixed") | Q(price__isnull=False), name="ad_fixed_price_has_amount"
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("adboard:detail", args=[self.pk, slugify(self.title)[:60] or "ad"])

    @property
    def price_money(self) -> Money | None:
        return None if self.price is None else Money(self.price, self.currency)

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED and self.expires_at is not None and self.expires_at > timezone.now()

    @property
    def cover(self):
        photos = list(self.photos.all())  # the prefetched list when there is one
        return photos[0] if photos else None


def ad_photo_path(photo, filename: str) -> str:
    return f"ads/{timezone.now():%Y/%m}/{filename}"


class AdPhoto(models.Model):
    ad = models.ForeignKey(Ad, related_name="photos", on_delete=models.CASCADE)
    image = models.ImageField(_("photo"), upload_to=ad_photo_path, width_field="width", height_field="height")
    thumbnail = models.ImageField(_("thumbnail"), upload_to=ad_photo_path)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["position", "id"]

    def __str__(self):
        return self.image.name


class Member(models.Model):
    """A member's standing on the board: a ban, and their rating as a seller (kept by the
    database with increments in the transaction that changes a rating)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, related_name="board", on_delete=models.CASCADE
    )
    banned_at = models.DateTimeField(_("banned"), null=True, blank=True)
    ban_reason = models.CharField(_("reason for the ban"), max_length=200, blank=True)
    rating_count = models.PositiveIntegerField(_("ratings"), default=0)
    rating_sum = models.PositiveIntegerField(_("sum of stars"), default=0)
    # The Bayesian average (services.bayesian): what lists show and sort by.
    rating_score = models.DecimalField(_("rating"), max_digits=4, decimal_places=3, null=True, blank=True)

    class Meta:
        verbose_name = _("board member")
        verbose_name_plural = _("board members")
        constraints = [
            models.CheckConstraint(
                condition=Q(rating_sum__lte=5 * models.F("rating_count")), name="member_rating_sum_in_range"
            )
        ]

    def __str__(self):
        return str(self.user)

    @property
    def is_banned(self) -> bool:
        return self.banned_at is not None


class SavedAd(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="saved_ads", on_delete=models.CASCADE)
    ad = models.ForeignKey(Ad, related_name="saves", on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("saved ad")
        verbose_name_plural = _("saved ads")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "ad"], name="save_an_ad_once")]

    def __str__(self):
        return f"{self.ad} saved by {self.user}"


class SavedSearch(models.Model):
    """A search a member keeps; with alerts on, an email when a new ad matches it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="saved_searches", on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=120)
    query = models.CharField(_("search"), max_length=500)  # the list page's query string, normalised
    alerts = models.BooleanField(_("email me new ads"), default=True)
    checked_at = models.DateTimeField(_("last looked for new ads"), default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "query"], name="save_a_search_once")]
        indexes = [models.Index(fields=["alerts", "checked_at"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("adboard:list") + (f"?{self.query}" if self.query else "")


class Conversation(models.Model):
    """A buyer's thread with a seller about one ad."""

    ad = models.ForeignKey(Ad, related_name="conversations", on_delete=models.CASCADE)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="board_buying", on_delete=models.CASCADE)
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="board_selling", on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now, db_index=True)
    buyer_read_at = models.DateTimeField(null=True, blank=True)
    seller_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at"]
        constraints = [
            models.UniqueConstraint(fields=["ad", "buyer"], name="one_conversation_per_ad_and_buyer"),
            models.CheckConstraint(condition=~Q(buyer=models.F("seller")), name="conversation_between_two_members"),
        ]

    def __str__(self):
        return f"{self.ad} · {self.buyer}"

    def get_absolute_url(self):
        return reverse("adboard:conversation", args=[self.pk])

    def other(self, user):
        return self.seller if user.pk == self.buyer_id else self.buyer

    def unread_for(self, user) -> bool:
        read = self.buyer_read_at if user.pk == self.buyer_id else self.seller_read_at
        return read is None or read < self.last_message_at


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, related_name="messages", on_delete=models.CASCADE)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.CASCADE)
    body = models.TextField(_("message"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    hidden = models.BooleanField(_("hidden"), default=False)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.body[:60]


class Rating(models.Model):
    """A member's rating of a seller they contacted and of the deal, once per pair, editable;
    the seller answers once, in public."""

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="board_ratings", on_delete=models.CASCADE)
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="board_ratings_given", on_delete=models.CASCADE)
    ad = models.ForeignKey(
        Ad, verbose_name=_("ad"), null=True, blank=True, related_name="ratings", on_delete=models.SET_NULL
    )
    stars = models.PositiveSmallIntegerField(_("stars"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), max_length=1000, blank=True)
    reply = models.TextField(_("seller's reply"), max_length=1000, blank=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    hidden = models.BooleanField(_("hidden"), default=False)

    class Meta:
        verbose_name = _("seller rating")
        verbose_name_plural = _("seller ratings")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["seller", "rater"], name="rate_a_seller_once"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"),
            models.CheckConstraint(condition=~Q(seller=models.F("rater")), name="rating_not_of_oneself"),
        ]

    def __str__(self):
        return f"{self.stars}★ {self.seller} by {self.rater}"


class Report(models.Model):
    """A member's report of an ad, a message or a rating (exactly one), once each."""

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="board_reports", on_delete=models.CASCADE)
    ad = models.ForeignKey(Ad, null=True, blank=True, related_name="reports", on_delete=models.CASCADE)
    message = models.ForeignKey(Message, null=True, blank=True, related_name="reports", on_delete=models.CASCADE)
    rating = models.ForeignKey(Rating, null=True, blank=True, related_name="reports", on_delete=models.CASCADE)
    reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("reported"), default=timezone.now)
    resolved_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(ad__isnull=False, message__isnull=True, rating__isnull=True)
                    | Q(ad__isnull=True, message__isnull=False, rating__isnull=True)
                    | Q(ad__isnull=True, message__isnull=True, rating__isnull=False)
                ),
                name="report_of_one_thing",
            ),
            models.UniqueConstraint(fields=["reporter", "ad"], name="report_an_ad_once"),
            models.UniqueConstraint(fields=["reporter", "message"], name="report_a_message_once"),
            models.UniqueConstraint(fields=["reporter", "rating"], name="report_a_rating_once"),
        ]

    def __str__(self):
        return f"{self.get_reason_display()}: {self.ad or self.message or self.rating}"


class Notice(models.Model):
    """An email the board must send (a new message, a saved search's new ads, an expiry
    reminder, a moderator's decision), written in the transaction that decides it and sent
    once by a task (shop.core.outbox); `key` is unique, so nothing is written twice."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("New message")
        SAVED_SEARCH = "saved_search", _("New ads for a saved search")
        EXPIRY = "expiry", _("Ad about to expire")
        REJECTED = "rejected", _("Ad rejected")
        PUBLISHED = "published", _("Ad published")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=120, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.CASCADE)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("board email")
        verbose_name_plural = _("board emails")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user}"


PHONE = re.compile(r"(?:\+?\d[\s().-]?){7,}")
LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|io|co|info|biz|ru|de|uk)\b")
