import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Codes never use characters that read alike: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def normalize_code(code: str) -> str:
    """Codes are case-insensitive and ignore spaces around them."""
    return (code or "").strip().upper()


def random_code(*, prefix: str = "", length: int = 8) -> str:
    return normalize_code(prefix) + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class PromotionQuerySet(models.QuerySet):
    """Bulk writes send no signals: the promotions index (index.py) is read again all the same.

    Except for the usage counter alone, which checkouts move all day and the index never holds.
    """

    def update(self, **kwargs):
        count = super().update(**kwargs)
        if count and set(kwargs) - {"times_used"}:
            from marketing.discounts import index

            index.changed()
        return count

    def delete(self):
        from marketing.discounts import index

        result = super().delete()
        index.changed()
        return result


class Promotion(models.Model):
    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", _("Percentage off")
        FIXED = "fixed", _("Fixed amount off")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        BUY_X_GET_Y = "bxgy", _("Buy X, get Y")

    class Scope(models.TextChoices):
        ORDER = "order", _("The whole order")
        CATEGORIES = "categories", _("Chosen categories (with their sub-categories)")
        PRODUCTS = "products", _("Chosen products")

    name = models.CharField(_("name"), max_length=120, help_text=_("Shown to customers, e.g. “10% off dresses”."))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PERCENTAGE)
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        default=0,
        help_text=_(
            "Percent for a percentage, an amount for a fixed discount, the percent off the Y items for "
            "buy X get Y (100 = free)."
        ),
    )
    buy_quantity = models.PositiveSmallIntegerField(_("buy (X)"), default=0)
    get_quantity = models.PositiveSmallIntegerField(_("get (Y)"), default=0)
    scope = models.CharField(_("applies to"), max_length=20, choices=Scope.choices, default=Scope.ORDER)
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+", verbose_name=_("categories"))
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+", verbose_name=_("products"))
    excluded_products = models.ManyToManyField(
        "catalog.Product", blank=True, related_name="+", verbose_name=_("excluded products")
    )
    exclude_on_sale = models.BooleanField(_("exclude items already on sale"), default=False)
    # Conditions
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    min_subtotal = models.DecimalField(_("minimum subtotal"), max_digits=12, decimal_places=2, null=True, blank=True)
    min_quantity = models.PositiveIntegerField(_("minimum quantity"), null=True, blank=True)
    first_order_only = models.BooleanField(_("first order only"), default=False)
    customers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("only for these customers")
    )
    segment = models.CharField(
        _("customer segment"),
        max_length=100,
        blank=True,
        help_text=_("Only for members of this segment (segments are defined by the campaigns app)."),
    )
    requires_code = models.BooleanField(
        _("needs a code"), default=True, help_text=_("Off: applied automatically to every cart that qualifies.")
    )
    stackable = models.BooleanField(_("combines with other promotions"), default=True)
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher goes first."))
    # Limits
    usage_limit = models.PositiveIntegerField(_("total uses"), null=True, blank=True)
    usage_limit_per_customer = models.PositiveIntegerField(_("uses per customer"), null=True, blank=True)
    max_discount = models.DecimalField(_("maximum discount"), max_digits=12, decimal_places=2, null=True, blank=True)
    times_used = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PromotionQuerySet.as_manager()

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["-priority", "-id"]
        constraints = [
            # The last guard on usage limits: a claim beyond the limit fails in the database.
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(times_used__lte=F("usage_limit")),
                name="promotion_within_usage_limit",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="promotion_value_not_negative"),
            models.CheckConstraint(
                condition=~Q(kind="percentage") | Q(value__lte=100), name="promotion_percentage_at_most_100"
            ),
        ]

    def __str__(self):
        return self.name


class CodeBatch(models.Model):
    """A request for `count` single-use codes, and the job that makes them.

    Small batches are made in the request (done at once); large ones by a task,
    which records its progress in `made` and can be run again after a crash
    (services.code_batch_fill). The codes are downloaded once it is done.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Making codes")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    promotion = models.ForeignKey(Promotion, related_name="batches", on_delete=models.CASCADE)
    prefix = models.CharField(_("prefix"), max_length=20, blank=True)
    length = models.PositiveSmallIntegerField(_("random characters"), default=8)
    count = models.PositiveIntegerField(_("codes"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    made = models.PositiveIntegerField(_("made so far"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("code batch")
        verbose_name_plural = _("code batches")
        constraints = [models.CheckConstraint(condition=Q(made__lte=F("count")), name="code_batch_made_within_count")]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self):
        return f"{self.count} × {self.prefix}… ({self.promotion})"

    @property
    def is_done(self) -> bool:
        return self.status == self.Status.DONE

    @property
    def progress(self) -> int:
        """Percent made, 0 to 100."""
        return 100 if not self.count else self.made * 100 // self.count


class DiscountCode(models.Model):
    promotion = models.ForeignKey(Promotion, related_name="codes", on_delete=models.CASCADE)
    code = models.CharField(_("code"), max_length=40, unique=True)
    max_uses = models.PositiveIntegerField(
        _("uses"), null=True, blank=True, help_text=_("1 = single-use; empty = shared.")
    )
    times_used = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    batch = models.ForeignKey(CodeBatch, null=True, blank=True, related_name="codes", on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(times_used__lte=F("max_uses")), name="code_within_max_uses"
            ),
        ]

    def __str__(self):
        return self.code

    def save(self, *args, **kwargs):
        self.code = normalize_code(self.code)
        super().save(*args, **kwargs)


class CartCode(models.Model):
    """The code a cart carries (marketing's own table: the cart model knows nothing of codes)."""

    cart = models.OneToOneField("cart.Cart", related_name="+", on_delete=models.CASCADE, primary_key=True)
    code = models.ForeignKey(DiscountCode, related_name="+", on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.code} on cart {self.cart_id}"


class Redemption(models.Model):
    """A promotion used by an order: claimed at checkout, released if the order never completes."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Used")
        RELEASED = "released", _("Released")

    promotion = models.ForeignKey(Promotion, related_name="redemptions", on_delete=models.PROTECT)
    code = models.ForeignKey(DiscountCode, null=True, blank=True, related_name="redemptions", on_delete=models.PROTECT)
    order = models.ForeignKey("orders.Order", related_name="+", on_delete=models.CASCADE)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    amount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.UniqueConstraint(fields=["order", "promotion"], name="one_redemption_per_order_and_promotion"),
        ]
        indexes = [models.Index(fields=["promotion", "customer", "status"])]

    def __str__(self):
        return f"{self.promotion} on {self.order}"
