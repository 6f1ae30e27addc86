"""Recommendations: similar-item lists built offline, shelves assembled from them online.

The build (marketing.recommendations.build) reads orders and the analytics event log, computes
each product's closest neighbours in three tables and a few rankings, and replaces these rows in
one transaction. Serving a shelf (marketing.recommendations.shelves) reads a handful of them,
never the history. Staff steer the result with rules (pin, block) and shelf settings. See
docs/recommendations.md.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Shelf(models.TextChoices):
    """A row of products a page shows, named as the shopper reads it."""

    BOUGHT_TOGETHER = "bought_together", _("Frequently bought together")
    VIEWED_TOGETHER = "viewed_together", _("Customers who viewed this also viewed")
    COMPLETE_ORDER = "complete_order", _("Complete your order")
    FOR_YOU = "for_you", _("Recommended for you")
    TRENDING = "trending", _("Trending now")
    RECENTLY_VIEWED = "recently_viewed", _("Recently viewed")
    AFTER_ORDER = "after_order", _("Goes well with your order")


class Table(models.TextChoices):
    """A similar-items table: who counts as "the same shopper" and what they did."""

    BOUGHT = "bought", _("bought in the same order")
    VIEWED = "viewed", _("viewed in the same visit")
    # Purchases, cart additions and views of the same customer (or visit), weighted and decayed:
    # what personal shelves are assembled from.
    BLENDED = "blended", _("bought, carted or viewed by the same customer")


class Neighbours(models.Model):
    """One product's closest neighbours in one table, best first: [[product id, score], ...]."""

    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    table = models.CharField(_("table"), max_length=8, choices=Table.choices)
    items = models.JSONField(_("neighbours"), default=list)

    class Meta:
        verbose_name = _("similar products")
        verbose_name_plural = _("similar products")
        constraints = [models.UniqueConstraint(fields=["product", "table"], name="recommendations_one_row_per_table")]

    def __str__(self):
        return f"{self.product_id} {self.table}: {len(self.items)}"


class Ranking(models.Model):
    """A ranked list the build keeps for shelves without a product to start from: trending, and the
    best-sellers of the whole store (`category` empty) or of a category (cold start)."""

    class Kind(models.TextChoices):
        TRENDING = "trending", _("trending")
        BESTSELLERS = "bestsellers", _("best-sellers")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    category = models.ForeignKey("catalog.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    items = models.JSONField(_("products"), default=list)  # [[product id, score], ...], best first

    class Meta:
        verbose_name = _("ranking")
        verbose_name_plural = _("rankings")
        constraints = [
            models.UniqueConstraint(fields=["kind", "category"], name="recommendations_one_ranking"),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(category__isnull=True), name="recommendations_one_store_ranking"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.category_id or ''}".strip()


class Build(models.Model):
    """One run of the build: when, on how much history, how long, and how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.RUNNING)
    products = models.PositiveIntegerField(_("products with neighbours"), default=0)
    interactions = models.PositiveIntegerField(_("interactions read"), default=0)
    seconds = models.DecimalField(_("seconds"), max_digits=8, decimal_places=2, null=True, blank=True)
    peak_memory_mib = models.DecimalField(_("peak memory (MiB)"), max_digits=8, decimal_places=1, null=True, blank=True)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        verbose_name = _("build")
        verbose_name_plural = _("builds")
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        constraints = [
            # One build at a time, in every process: a second one cannot start (build.py).
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="running"), name="recommendations_one_running_build"
            )
        ]

    def __str__(self):
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.status}"


class Rule(models.Model):
    """Staff's word on one product's shelves: always show `target` (pinned, in `position` order),
    or never show it. A block also keeps `target` out of lists assembled from `product`."""

    class Action(models.TextChoices):
        PIN = "pin", _("pin: always show")
        BLOCK = "block", _("block: never show")

    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="+", verbose_name=_("on the shelves of")
    )
    target = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", verbose_name=_("product"))
    action = models.CharField(_("action"), max_length=5, choices=Action.choices)
    position = models.PositiveSmallIntegerField(_("position"), default=0, help_text=_("Pins show in this order."))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("pin or block")
        verbose_name_plural = _("pins and blocks")
        ordering = ["product", "action", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "target"], name="recommendations_one_rule_per_pair"),
            models.CheckConstraint(condition=~models.Q(product=models.F("target")), name="recommendations_not_itself"),
        ]

    def __str__(self):
        return f"{self.get_action_display()}: {self.target_id} on {self.product_id}"

    def clean(self):
        if self.product_id and self.product_id == self.target_id:
            raise ValidationError(_("A product is never recommended on its own page: choose another product."))


class ShelfSetting(models.Model):
    """A shelf turned on or off, and how many products it shows."""

    shelf = models.CharField(_("shelf"), max_length=16, choices=Shelf.choices, unique=True)
    enabled = models.BooleanField(_("shown"), default=True)
    size = models.PositiveSmallIntegerField(_("products shown"), default=8)

    class Meta:
        verbose_name = _("shelf")
        verbose_name_plural = _("shelves")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=1, size__lte=24), name="recommendations_shelf_size")
        ]

    def __str__(self):
        return self.get_shelf_display()
