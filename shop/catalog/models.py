import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import connections, models, transaction
from django.db.models import F, Q, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce, Concat, Substr
from django.db.models.sql import UpdateQuery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.catalog import cache as catalog_cache
from shop.core.moderation import ReportReason
from shop.core.money import Money

# The product page offers a quantity from 1 to this (fewer when fewer are left).
MAX_QUANTITY_CHOICE = 10


def stock_shown(stock: int) -> int:
    """What the pages show of a stock level: each number up to a ceiling ("Only 3 left", "Out
    of stock", the quantity choice), and above it the same "in stock" whatever the number."""
    return min(stock, max(settings.SHOP_LOW_STOCK + 1, MAX_QUANTITY_CHOICE))


def _stock_delta(value) -> int | None:
    """n for `F("stock") + n`, -n for `F("stock") - n`; None for anything else (the old stock is unknown)."""
    if (
        isinstance(value, CombinedExpression)
        and value.connector in ("+", "-")
        and isinstance(value.lhs, F)
        and value.lhs.name == "stock"
        and isinstance(value.rhs, Value)
        and isinstance(value.rhs.value, int)
    ):
        return value.rhs.value if value.connector == "+" else -value.rhs.value
    return None


def _stock_updated(rows: list[tuple], values: dict) -> None:
    """Rows (product id, stock now) of products or variants whose stock was set: drop only what shows it."""
    delta = _stock_delta(values["stock"])
    shown, lists = set(), False
    for product_id, stock in rows:
        before = None if delta is None else stock - delta
        if before is None or stock_shown(before) != stock_shown(stock):
            shown.add(product_id)
        if before is None or (before == 0) != (stock == 0):
            lists = True  # sold out or back: the "in stock" filter and the home sections change
    catalog_cache.stock_changed(shown=shown, lists=lists)


class CatalogQuerySet(models.QuerySet):
    """Bulk writes to catalog tables (they send no signals) still make cached pages out of date.

    A table whose rows belong to a product names the column (`product_column`): an update
    then reads which products it changed in the same statement (UPDATE ... RETURNING, no
    extra query) and only those products' cached work is dropped. Elsewhere, everything is.
    """

    product_column: str | None = None

    def update(self, **kwargs):
        if self.product_column is None or not _can_return(self.db):
            count = super().update(**kwargs)
            if count:
                catalog_cache.changed()
            return count
        rows = self._update_returning(kwargs, self._returning())
        if rows:
            self._updated(rows, kwargs)
        return len(rows)

    update.alters_data = True

    def _returning(self) -> list[str]:
        return [self.product_column]

    def _updated(self, rows: list[tuple], values: dict) -> None:
        catalog_cache.products_changed({row[0] for row in rows}, lists=False)

    def _update_returning(self, values: dict, columns: list[str]) -> list[tuple]:
        """QuerySet.update() that also returns these columns of each updated row, as they are now."""
        self._not_support_combined_queries("update")
        if self.query.is_sliced:
            raise TypeError("Cannot update a query once a slice has been taken.")
        self._for_write = True
        query = self.query.chain(UpdateQuery)
        query.add_update_values(values)
        query.clear_select_clause()
        statement, params = query.get_compiler(self.db).as_sql()
        self._result_cache = None
        if not statement:
            return []
        connection = connections[self.db]
        returning = ", ".join(connection.ops.quote_name(column) for column in columns)
        with transaction.mark_for_rollback_on_error(using=self.db), connection.cursor() as cursor:
            cursor.execute(f"{statement} RETURNING {returning}", params)
            return cursor.fetchall()

    def bulk_create(self, objs, *args, **kwargs):
        objects = super().bulk_create(objs, *args, **kwargs)
        if self.product_column == "product_id":
            catalog_cache.products_changed({obj.product_id for obj in objects}, lists=False)
        elif objects:
            catalog_cache.changed()
        return objects

    def delete(self):
        result = super().delete()
        catalog_cache.changed()
        return result


def _can_return(using: str) -> bool:
    connection = connections[using]
    # PostgreSQL, and SQLite from 3.35 (the same feature gates Django's own RETURNING on inserts).
    return connection.vendor in ("postgresql", "sqlite") and connection.features.can_return_rows_from_bulk_insert


class Category(models.Model):
    """A node of the category tree, e.g. Clothing > Women > Dresses.

    `path` is the chain of slugs from the root ("clothing/women/dresses"): a
    whole subtree is one indexed prefix query, and the tree in display order is
    one query ordered by path.
    """

    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    path = models.CharField(max_length=500, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["path"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        old_path = self.path
        self.path = f"{self.parent.path}/{self.slug}" if self.parent_id else self.slug
        self.depth = self.path.count("/")
        with transaction.atomic():
            super().save(*args, **kwargs)
            if old_path and old_path != self.path:
                # Moved or renamed: re-root every descendant's path in one statement.
                Category.objects.filter(path__startswith=old_path + "/").update(
                    path=Concat(models.Value(self.path), Substr("path", len(old_path) + 1)),
                    depth=F("depth") + (self.depth - old_path.count("/")),
                )

    def get_absolute_url(self):
        return reverse("catalog:category", kwargs={"slug": self.slug})

    def clean(self):
        if self.parent_id and self.pk:
            if self.parent_id == self.pk or self.parent.path.startswith(self.path + "/"):
                raise ValidationError({"parent": _("A category cannot be placed inside itself.")})

    def subtree(self):
        """This category and all below it."""
        return Category.objects.filter(Q(pk=self.pk) | Q(path__startswith=self.path + "/"))

    def ancestors(self):
        """From the root down to this category's parent (for breadcrumbs), in one query."""
        parts = self.path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts))]
        return Category.objects.filter(path__in=prefixes).order_by("depth") if prefixes else Category.objects.none()


class ProductPartQuerySet(CatalogQuerySet):
    """Rows shown on their product's card or page (images, reviews)."""

    product_column = "product_id"


class ProductQuerySet(CatalogQuerySet):
    product_column = "id"

    def _returning(self) -> list[str]:
        return ["id", "stock"]

    def _updated(self, rows: list[tuple], values: dict) -> None:
        """A stock change drops only what shows it; any other change drops the products and the lists."""
        if set(values) != {"stock"}:
            catalog_cache.products_changed({pk for pk, _stock in rows})
            return
        _stock_updated(rows, values)

    def active(self):
        return self.filter(is_active=True)

    def in_category(self, category: Category):
        return self.filter(category__in=category.subtree())

    def on_sale(self):
        return self.filter(compare_at_price__isnull=False)

    def in_stock(self):
        return self.filter(stock__gt=0)

    def for_listing(self):
        """What a product card shows, in a fixed number of queries whatever the page size: with
        `price_low` and `price_high`, its active variants' lowest and highest prices (a card of a
        product whose sizes cost differently says "From"), read in the same query."""
        return (
            self.select_related("category")
            .prefetch_related(models.Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")))
            .annotate(price_low=_variant_price(models.Min), price_high=_variant_price(models.Max))
        )


def _variant_price(aggregate):
    """The lowest or highest price of the product's active variants (a variant without its own
    price costs the product's), as a subquery of the product's row."""
    prices = (
        Variant.objects.filter(product=models.OuterRef("pk"), is_active=True)
        .annotate(paid=Coalesce("price", models.OuterRef("price")))
        .values("product")
        .annotate(found=aggregate("paid"))
        .values("found")
    )
    return models.Subquery(prices, output_field=models.DecimalField(max_digits=12, decimal_places=2))


class Product(models.Model):
    """What the store sells, as one page: one or more variants (docs/architecture.md, "The apps").

    `stock` is the sum of the stock of the product's active variants, kept in the same
    transaction as every change to a variant's stock (checkout takes from both with guarded
    updates; restocking gives back to both), so every reader of a product's stock (cards,
    filters, the "in stock" sort, caches) is still right without knowing about variants.
    `sku` is the default variant's SKU while the product has a single variant: saving such a
    product (the admin, the CSV import) carries its SKU and stock over to that variant.
    """

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=200)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), related_name="products", on_delete=models.PROTECT
    )
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    compare_at_price = models.DecimalField(
        _("compare-at price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The former price, shown struck through when the product is on sale. Must be above the price."),
    )
    product_type = models.ForeignKey(
        "ProductType",
        verbose_name=_("product type"),
        null=True,
        blank=True,
        related_name="products",
        on_delete=models.PROTECT,
    )
    # The sum of the active variants' stock (see the class docstring).
    stock = models.PositiveIntegerField(_("stock"), default=0)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive products are hidden from the store.")
    )
    is_featured = models.BooleanField(_("featured"), default=False)
    is_consumable = models.BooleanField(
        _("bought again and again"),
        default=False,
        help_text=_("Used up and bought again (coffee, shampoo): still recommended to those who bought it."),
    )
    # Kept by the review services with incremental UPDATEs in the transaction that changes a
    # review (docs/architecture.md, "Reviews"); only published reviews count.
    rating_count = models.PositiveIntegerField(_("reviews"), default=0, editable=False)
    rating_sum = models.PositiveIntegerField(_("sum of the stars"), default=0, editable=False)
    stars_1 = models.PositiveIntegerField(_("1-star reviews"), default=0, editable=False)
    stars_2 = models.PositiveIntegerField(_("2-star reviews"), default=0, editable=False)
    stars_3 = models.PositiveIntegerField(_("3-star reviews"), default=0, editable=False)
    stars_4 = models.PositiveIntegerField(_("4-star reviews"), default=0, editable=False)
    stars_5 = models.PositiveIntegerField(_("5-star reviews"), default=0, editable=False)
    # The plain mean (rating_sum / rating_count), for search engines and staff.
    rating_avg = models.DecimalField(
        _("mean rating"), max_digits=3, decimal_places=2, null=True, blank=True, editable=False
    )
    # The Bayesian average (prior mean C with weight m): (C·m + rating_sum) / (m + rating_count). What
    # customers see and what the rating sorts use, so one 5-star review does not outrank fifty 4.8s.
    rating_score = models.DecimalField(
        _("rating"), max_digits=4, decimal_places=3, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["is_active", "price"]),
            models.Index(fields=["is_active", "-created_at"]),
            models.Index(fields=["is_active", "name"]),
            models.Index(fields=["is_active", "-rating_score"]),
        ]
        constraints = [
            # The last line of defence against overselling: the database itself refuses negative stock.
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gt=F("price")),
                name="product_compare_at_above_price",
            ),
            # The star counts add up to the review count: a lost increment would break this.
            models.CheckConstraint(
                condition=Q(
                    rating_count=F("stars_1") + F("stars_2") + F("stars_3") + F("stars_4") + F("stars_5"),
                    rating_sum=F("stars_1") + 2 * F("stars_2") + 3 * F("stars_3") + 4 * F("stars_4") + 5 * F("stars_5"),
                ),
                name="product_rating_counts_add_up",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """A new product gets its default variant; a single-variant product's SKU and stock are its variant's."""
        adding = self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if adding:
                Variant.objects.create(product=self, sku=self.sku, stock=self.stock)
                return
            fields = kwargs.get("update_fields")
            if fields is not None and not {"sku", "stock"} & set(fields):
                return
            variants = list(self.variants.all()[:2])
            if len(variants) == 1 and (variants[0].sku, variants[0].stock) != (self.sku, self.stock):
                Variant.objects.filter(pk=variants[0].pk).update(sku=self.sku, stock=self.stock)

    def get_absolute_url(self):
        return reverse("catalog:product", kwargs={"slug": self.slug})

    def clean(self):
        if self.compare_at_price is not None and self.price is not None and self.compare_at_price <= self.price:
            raise ValidationError({"compare_at_price": _("The compare-at price must be above the price, or empty.")})

    @property
    def price_from(self) -> Money | None:
        """The lowest price of its sizes and colours when they cost differently (read by
        `for_listing`), for a card's "From"; None when every variant costs the same."""
        low, high = getattr(self, "price_low", None), getattr(self, "price_high", None)
        if low is None or low == high:
            return None
        return Money(low, settings.SHOP_CURRENCY)

    @property
    def price_money(self) -> Money:
        return Money(self.price, settings.SHOP_CURRENCY)

    @property
    def compare_at_money(self) -> Money | None:
        return Money(self.compare_at_price, settings.SHOP_CURRENCY) if self.compare_at_price is not None else None

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None

    @property
    def discount_percent(self) -> int:
        if not self.on_sale:
            return 0
        return int((1 - self.price / self.compare_at_price) * 100)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def low_stock(self) -> bool:
        return 0 < self.stock <= settings.SHOP_LOW_STOCK

    @property
    def rating_distribution(self) -> list[dict]:
        """Each star from 5 to 1: its count and share of the reviews (percent, whole)."""
        total = self.rating_count
        return [
            {"stars": n, "count": c, "percent": round(100 * c / total) if total else 0}
            for n, c in ((n, getattr(self, f"stars_{n}")) for n in range(5, 0, -1))
        ]

    @property
    def main_image(self):
        # Uses the prefetched list when there is one (no query per product).
        images = list(self.images.all())
        return images[0] if images else None


class ProductImage(models.Model):
    product = models.ForeignKey(Product, related_name="images", on_delete=models.CASCADE)
    # A picture of one variant (the blue one); empty: of the product, whatever the variant.
    variant = models.ForeignKey(
        "Variant", verbose_name=_("variant"), null=True, blank=True, related_name="images", on_delete=models.SET_NULL
    )
    image = models.ImageField(_("image"), upload_to="products/%Y/%m")
    alt_text = models.CharField(
        _("alternative text"), max_length=200, blank=True, help_text=_("Describes the image for screen readers.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = ProductPartQuerySet.as_manager()

    class Meta:
        verbose_name = _("image")
        verbose_name_plural = _("images")
        ordering = ["position", "id"]

    def __str__(self):
        return self.alt_text or self.image.name

    @property
    def alt(self) -> str:
        return self.alt_text or self.product.name


class Attribute(models.Model):
    """A property a product can have (size, colour, material); its values are fixed choices."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("attribute")
        verbose_name_plural = _("attributes")
        ordering = ["name"]

    def __str__(self):
        return self.name


class AttributeValue(models.Model):
    """One choice of an attribute: "42" of EU size, "Blue" of colour (with its swatch)."""

    attribute = models.ForeignKey(Attribute, related_name="values", on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    swatch = models.CharField(
        _("swatch"),
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour as #rrggbb."))],
        help_text=_("The colour shown for this value, as #rrggbb (colours only)."),
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("attribute value")
        verbose_name_plural = _("attribute values")
        ordering = ["attribute", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["attribute", "slug"], name="one_attribute_value_per_slug")]

    def __str__(self):
        return f"{self.attribute}: {self.name}"


class ProductType(models.Model):
    """A kind of product (Clothing, Shoes) and its attributes: those that make variants (size,
    colour) and those that only describe the product (material)."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    variant_attributes = models.ManyToManyField(
        Attribute,
        verbose_name=_("variant attributes"),
        blank=True,
        related_name="+",
        help_text=_("Each variant has one value of each (size, colour)."),
    )
    product_attributes = models.ManyToManyField(
        Attribute,
        verbose_name=_("product attributes"),
        blank=True,
        related_name="+",
        help_text=_("Describe the product as a whole (material)."),
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("product type")
        verbose_name_plural = _("product types")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ProductAttributeValue(models.Model):
    """A value describing a product as a whole (material: cotton)."""

    product = models.ForeignKey(Product, related_name="attribute_values", on_delete=models.CASCADE)
    value = models.ForeignKey(AttributeValue, related_name="+", on_delete=models.CASCADE)

    objects = ProductPartQuerySet.as_manager()

    class Meta:
        verbose_name = _("product attribute value")
        verbose_name_plural = _("product attribute values")
        constraints = [models.UniqueConstraint(fields=["product", "value"], name="one_product_attribute_value")]

    def __str__(self):
        return str(self.value)


class VariantQuerySet(ProductPartQuerySet):
    def _returning(self) -> list[str]:
        return ["product_id", "stock"]

    def _updated(self, rows: list[tuple], values: dict) -> None:
        # The product page shows each variant's stock ("Only 2 left in size 42", a sold-out size),
        # and the size filters count variants in stock: the same rule as a product's stock.
        if set(values) != {"stock"}:
            super()._updated(rows, values)
        else:
            _stock_updated(rows, values)

    def active(self):
        return self.filter(is_active=True)


class Variant(models.Model):
    """What a cart line holds and checkout takes stock from: one size and colour of a product.

    Every product has at least one (its default variant, which a product with no variant
    attributes keeps alone). Its stock changes only together with its product's summed stock.
    """

    product = models.ForeignKey(Product, related_name="variants", on_delete=models.CASCADE)
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    price = models.DecimalField(
        _("price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Empty: the product's price."),
    )
    compare_at_price = models.DecimalField(
        _("compare-at price"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    stock = models.PositiveIntegerField(_("stock"), default=0)
    weight = models.DecimalField(
        _("weight (kg)"), max_digits=8, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    values = models.ManyToManyField(AttributeValue, through="VariantOption", related_name="variants", blank=True)

    objects = VariantQuerySet.as_manager()

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["position", "id"]
        constraints = [
            # As on the product: the database itself refuses to oversell a variant.
            models.CheckConstraint(condition=Q(stock__gte=0), name="variant_stock_not_negative"),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="variant_price_not_negative"
            ),
        ]

    def __str__(self):
        return self.sku

    @property
    def unit_price(self):
        """The variant's own price, or the product's."""
        return self.product.price if self.price is None else self.price

    @property
    def price_money(self) -> Money:
        return Money(self.unit_price, settings.SHOP_CURRENCY)

    @property
    def compare_at_money(self) -> Money | None:
        """The former price struck through: the variant's own beside its own price, else the product's."""
        if self.price is None:
            return self.product.compare_at_money
        if self.compare_at_price is None or self.compare_at_price <= self.price:
            return None
        return Money(self.compare_at_price, settings.SHOP_CURRENCY)

    @property
    def label(self) -> str:
        """The options in words ("42 · Blue"), for a cart or order line; empty for a product's only variant.

        No query when the options were read (shop.catalog.selectors.variants_load_options) or when
        the product, read with the variant, has no type (so no options)."""
        prefetched = "options" in getattr(self, "_prefetched_objects_cache", {})
        if not prefetched and Variant.product.is_cached(self) and self.product.product_type_id is None:
            return ""
        return " · ".join(self.options_snapshot().values())

    def options_snapshot(self) -> dict[str, str]:
        """{"Size": "42", "Colour": "Blue"}: what an order line keeps of the options (prefetch `options__value`
        and `options__attribute` to read it without queries)."""
        return {o.attribute.name: o.value.name for o in self.options.all()}


class VariantOption(models.Model):
    """A variant's value of one of its product type's variant attributes."""

    variant = models.ForeignKey(Variant, related_name="options", on_delete=models.CASCADE)
    attribute = models.ForeignKey(Attribute, related_name="+", on_delete=models.PROTECT)
    value = models.ForeignKey(AttributeValue, related_name="+", on_delete=models.PROTECT)

    class Meta:
        verbose_name = _("option")
        verbose_name_plural = _("options")
        ordering = ["attribute__name", "id"]
        constraints = [models.UniqueConstraint(fields=["variant", "attribute"], name="one_option_per_attribute")]

    def __str__(self):
        return f"{self.attribute}: {self.value.name}"

    def clean(self):
        if self.value_id and self.attribute_id and self.value.attribute_id != self.attribute_id:
            raise ValidationError({"value": _("Choose a value of this attribute.")})


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("awaiting moderation")
    PUBLISHED = "published", _("published")
    HELD = "held", _("hidden after reports")
    REJECTED = "rejected", _("rejected")
    REMOVED = "removed", _("removed")


class ReviewQuerySet(ProductPartQuerySet):
    def published(self):
        return self.filter(status=ReviewStatus.PUBLISHED)

    def visible_to(self, user):
        """Published reviews, and the user's own whatever their state."""
        if user is not None and user.is_authenticated:
            return self.filter(Q(status=ReviewStatus.PUBLISHED) | Q(user=user))
        return self.published()


class Review(models.Model):
    """A customer's review of a product. Written only through shop.catalog.services (the states and the
    product's aggregates move together: docs/architecture.md, "Reviews")."""

    Status = ReviewStatus

    product = models.ForeignKey(Product, related_name="reviews", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="reviews", on_delete=models.CASCADE)
    rating = models.PositiveSmallIntegerField(_("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    title = models.CharField(_("title"), max_length=120, blank=True)
    body = models.TextField(_("review"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PUBLISHED)
    verified = models.BooleanField(
        _("verified purchase"), default=False, help_text=_("The author had a paid order of this product when writing.")
    )
    helpful_count = models.PositiveIntegerField(_("found helpful"), default=0)
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    moderation_note = models.CharField(
        _("moderator's note"), max_length=300, blank=True, help_text=_("Shown to the author.")
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    moderated_at = models.DateTimeField(_("moderated"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["product", "status", "-created_at"]),
            models.Index(fields=["product", "status", "-helpful_count"]),
            models.Index(fields=["status", "-report_count"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["product", "user"], name="one_review_per_customer_and_product"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"),
        ]

    def __str__(self):
        return f"{self.rating}★ {self.product} by {self.user}"

    @property
    def is_published(self) -> bool:
        return self.status == ReviewStatus.PUBLISHED


def review_photo_path(photo, filename: str) -> str:
    return f"reviews/{timezone.now():%Y/%m}/{filename}"


class ReviewPhoto(models.Model):
    """A customer's picture with their review: cleaned by shop.core.uploads (re-drawn, no metadata)."""

    review = models.ForeignKey(Review, related_name="photos", on_delete=models.CASCADE)
    image = models.ImageField(_("picture"), upload_to=review_photo_path, width_field="width", height_field="height")
    thumbnail = models.ImageField(_("thumbnail"), upload_to=review_photo_path)
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("review photo")
        verbose_name_plural = _("review photos")
        ordering = ["position", "id"]

    def __str__(self):
        return self.image.name


class ReviewVote(models.Model):
    """A member found a review helpful: once per member and review, never on their own."""

    review = models.ForeignKey(Review, related_name="votes", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="review_votes", on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("helpful vote")
        verbose_name_plural = _("helpful votes")
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="one_helpful_vote_per_member")]

    def __str__(self):
        return f"{self.user_id} → {self.review_id}"


class ReviewReport(models.Model):
    """A member reported a review to the moderators: once per member and review, with a reason."""

    review = models.ForeignKey(Review, related_name="reports", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="review_reports", on_delete=models.CASCADE)
    reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    resolved = models.BooleanField(_("dealt with"), default=False)
    created_at = models.DateTimeField(_("reported"), default=timezone.now)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["review", "user"], name="one_report_per_member_and_review")]

    def __str__(self):
        return f"{self.get_reason_display()}: {self.review_id}"


class RatingPrior(models.Model):
    """The store-wide mean rating, the Bayesian prior of every product's score: one row (pk=1),
    recomputed by a scheduled task (shop.catalog.tasks.refresh_rating_prior)."""

    mean = models.DecimalField(_("store-wide mean"), max_digits=3, decimal_places=2)
    reviews = models.PositiveIntegerField(_("published reviews"), default=0)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        verbose_name = _("rating prior")
        verbose_name_plural = _("rating prior")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="catalog_rating_prior_single_row")]

    def __str__(self):
        return f"{self.mean} ({self.reviews})"


def import_file_path(job, filename: str) -> str:
    """Stored files are not public: a random folder makes their media URL unguessable."""
    return f"imports/{uuid.uuid4().hex}/{filename}"


class ImportJob(models.Model):
    """A product CSV import run in the background (shop/catalog/csv_io.py), with its progress and report."""

    MAX_ERRORS = 1000  # problems kept for the report; error_count has them all

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        CHECKING = "checking", _("checking rows")
        WRITING = "writing", _("writing")
        DONE = "done", _("done")
        REJECTED = "rejected", _("rejected: nothing imported")
        FAILED = "failed", _("stopped")

    file = models.FileField(_("file"), upload_to=import_file_path)
    filename = models.CharField(_("file name"), max_length=255)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    created = models.PositiveIntegerField(_("products created"), default=0)
    updated = models.PositiveIntegerField(_("products updated"), default=0)
    error_count = models.PositiveIntegerField(_("problems"), default=0)
    errors = models.JSONField(_("problems found"), default=list, blank=True)  # [[row, column, message], ...]
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last progress"), default=timezone.now)

    class Meta:
        verbose_name = _("product import")
        verbose_name_plural = _("product imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self):
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.REJECTED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0
