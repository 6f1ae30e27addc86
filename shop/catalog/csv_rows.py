"""The rows of a product CSV file, checked (docs/catalog-csv.md): each row's cells, then each product's
rows together once they are all read. Nothing here writes; shop/catalog/csv_io.py reads the file and
shop/catalog/csv_write.py writes what the check returns.

A product is one row, or one row per variant: rows that share its `sku` and follow one another.
Its own columns (PRODUCT_FIELDS, the attribute: columns) are given on its first row; on the rows
after it they are empty (the same) or repeat the first row's value. Every row is a variant, with
its stock, its variant_ columns and its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils.translation import gettext as _

from shop.catalog.csv_vocabulary import TypeInfo, UnknownName, Vocabulary, listing
from shop.catalog.models import Category, Product, ProductAttributeValue, Variant, VariantOption

COLUMNS = [
    "sku",
    "name",
    "slug",
    "category",
    "price",
    "compare_at_price",
    "stock",
    "is_active",
    "is_featured",
    "description",
    "brand",
    # Since variants: empty on the row of a product with one variant and no type.
    "product_type",
    "variant_sku",
    "variant_price",
    "variant_compare_at_price",
    "variant_weight",
    "variant_is_active",
]
REQUIRED = {"sku", "name", "category", "price", "stock"}
# Columns named after an attribute's slug: a variant's option (option:size), a product's value (attribute:material).
OPTION, ATTRIBUTE = "option:", "attribute:"
# A product's own columns: on its first row; on the rows after it, empty or the same.
PRODUCT_FIELDS = (
    "name",
    "slug",
    "category",
    "price",
    "compare_at_price",
    "is_active",
    "is_featured",
    "description",
    "brand",
    "product_type",
)
# A variant's columns and the Variant fields they set; stock is on every row.
VARIANT_FIELDS = {
    "stock": "stock",
    "variant_price": "price",
    "variant_compare_at_price": "compare_at_price",
    "variant_weight": "weight",
    "variant_is_active": "is_active",
}
# The range every supported database stores (PostgreSQL's integer): SQLite would
# take larger numbers, and a file accepted on one database must be on the other.
_STOCK_TYPE = Product._meta.get_field("stock").get_internal_type()
STOCK_MIN, STOCK_MAX = BaseDatabaseOperations.integer_field_ranges[_STOCK_TYPE]
_FLAG_CHOICES = [(v, v) for v in ("", "1", "0", "true", "false", "yes", "no")]


def _flag(default: bool) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=_FLAG_CHOICES, required=False, coerce=lambda v: v in ("1", "true", "yes"), empty_value=default
    )


def _money(*, required: bool) -> forms.DecimalField:
    return forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, required=required)


class RowValidator:
    """Django form fields applied to one row's values.

    Not a Form: building a form deep-copies its fields, which took two thirds of the
    time of checking a 20,000-row file. Fields are stateless when cleaning, so one
    set serves every row, with the same messages a form would give.
    """

    fields = {
        "sku": forms.CharField(max_length=64),
        "name": forms.CharField(max_length=200),
        "brand": forms.CharField(max_length=100, required=False),
        "slug": forms.SlugField(max_length=200, required=False),
        "category": forms.CharField(max_length=500),
        "price": _money(required=True),
        "compare_at_price": _money(required=False),
        "stock": forms.IntegerField(min_value=STOCK_MIN, max_value=STOCK_MAX),
        "is_active": _flag(True),
        "is_featured": _flag(False),
        "description": forms.CharField(required=False),
        "product_type": forms.CharField(max_length=100, required=False),
        "variant_sku": forms.CharField(max_length=64, required=False),
        "variant_price": _money(required=False),
        "variant_compare_at_price": _money(required=False),
        "variant_weight": forms.DecimalField(min_value=0, max_digits=8, decimal_places=3, required=False),
        "variant_is_active": _flag(True),
    }

    def __init__(self, *, categories: dict[str, Category], vocabulary: Vocabulary, header: list[str]):
        self.categories = categories
        # What an empty cell of an optional column cleans to, once (the cells of variant rows are mostly empty).
        self.empty = {name: f.clean("") for name, f in self.fields.items() if not f.required}
        self.vocabulary = vocabulary
        self.options = {n: vocabulary.attributes_by_slug[n[len(OPTION) :]] for n in header if n.startswith(OPTION)}
        self.attributes = {
            n: vocabulary.attributes_by_slug[n[len(ATTRIBUTE) :]] for n in header if n.startswith(ATTRIBUTE)
        }

    def clean(self, values: dict[str, str], *, first: bool) -> tuple[dict, list[tuple[str, str]]]:
        """(cleaned data, [(column, message), ...]); the data is complete only when there is no error.

        On a product's following rows (first=False) its own columns are cleaned only when given.
        """
        data, errors = {}, []
        for name, formfield in self.fields.items():
            text = values.get(name, "")
            if not text and name in self.empty:
                if first or name not in PRODUCT_FIELDS:
                    data[name] = self.empty[name]
                continue
            if not first and not text and name in PRODUCT_FIELDS:
                continue
            try:
                data[name] = formfield.clean(text)
            except forms.ValidationError as exc:
                errors += [(name, message) for message in exc.messages]
        if "category" in data:
            key = data["category"].strip().strip("/")
            data["category"] = self.categories.get(key)
            if data["category"] is None:
                errors.append(("category", _("No category with slug or path “%(key)s”.") % {"key": key}))
        if "product_type" in data:
            try:
                data["product_type"] = (
                    self.vocabulary.product_type(data["product_type"]) if data["product_type"] else None
                )
            except UnknownName as exc:
                del data["product_type"]
                errors.append(("product_type", str(exc)))
        price, compare_at = data.get("price"), data.get("compare_at_price")
        if first and price is not None and compare_at is not None and compare_at <= price:
            errors.append(("compare_at_price", _("Must be above the price, or empty.")))
        data["options"], data["attributes"] = {}, {}
        for column, attribute in self.options.items():
            if values.get(column):
                try:
                    data["options"][attribute.pk] = self.vocabulary.value(attribute, values[column]).pk
                except UnknownName as exc:
                    errors.append((column, str(exc)))
        for column, attribute in self.attributes.items():
            if first or values.get(column):
                try:
                    found = self.vocabulary.values_in(attribute, values.get(column, ""))
                    data["attributes"][attribute.pk] = frozenset(v.pk for v in found)
                except UnknownName as exc:
                    errors.append((column, str(exc)))
        return data, errors


@dataclass
class VariantRow:
    line: int
    sku: str
    data: dict  # Variant field -> value, for the variant columns the file has (stock always)
    options: dict[int, int]  # attribute id -> value id: all the variant's options once imported
    single: bool = False  # the row names no variant: it is the product's only one, whatever its SKU was


@dataclass
class ProductRows:
    """One product of the file: its first row's columns and a variant per row."""

    line: int  # where its first row starts in the file (the header is line 1)
    data: dict
    slug: str | None  # the slug to set: from the file, made for a new product, or None to keep the current one
    variants: list[VariantRow] = field(default_factory=list)
    # The values describing the product once imported; None: leave them as they are.
    attribute_values: frozenset[int] | None = None

    @property
    def sku(self) -> str:
        return self.data["sku"]

    @property
    def last_line(self) -> int:
        return self.variants[-1].line if self.variants else self.line


@dataclass
class _Existing:
    pk: int
    type_id: int | None


@dataclass
class _Line:
    line: int
    data: dict
    given: str  # the row's variant_sku ("" when empty)

    @property
    def sku(self) -> str:
        return self.given or self.data["sku"]


@dataclass
class _Group:
    """A product's rows while they are read."""

    sku: str
    line: int
    data: dict  # the first row's cleaned values (those that were valid)
    raw: dict  # the first row's cells, for messages
    existing: _Existing | None
    lines: list[_Line] = field(default_factory=list)
    bad: bool = False  # a row has a problem: the product as a whole is not checked
    apart: bool = False  # the SKU of a product before another's: its rows' variants are not checked either


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


class ProductChecker:
    """Groups rows into products and checks each product once its rows are read.

    What the store has is read once (categories, products, variants: three queries, whatever the
    size of the file); product types, attributes, options and product attribute values only when
    the file or the products it names use them (one query each).
    """

    def __init__(self, *, header: list[str], errors: list, vocabulary: Vocabulary):
        self.header = set(header) - {""}
        self.errors = errors
        self.vocabulary = vocabulary
        categories = {}
        for category in Category.objects.all():
            categories[category.slug] = category
            categories[category.path] = category
        self.validator = RowValidator(categories=categories, vocabulary=vocabulary, header=header)
        self.option_columns = {a.pk: column for column, a in self.validator.options.items()}
        self.attribute_columns = {a.pk: column for column, a in self.validator.attributes.items()}
        self.existing: dict[str, _Existing] = {}
        self.slug_owner: dict[str, str] = {}
        for pk, sku, slug, type_id in Product.objects.values_list("pk", "sku", "slug", "product_type_id"):
            self.existing[sku] = _Existing(pk, type_id)
            self.slug_owner[slug] = sku
        self.existing_skus = set(self.existing)
        self.product_skus = {e.pk: sku for sku, e in self.existing.items()}
        self.variants: dict[str, tuple[int, int]] = {}  # sku -> (pk, product id)
        self.variants_of: dict[int, list[str]] = {}
        for pk, sku, product_id in Variant.objects.order_by("position", "pk").values_list("pk", "sku", "product_id"):
            self.variants[sku] = (pk, product_id)
            self.variants_of.setdefault(product_id, []).append(sku)
        self.product_lines: dict[str, int] = {}  # the first row of each product of the file
        self.variant_lines: dict[str, int] = {}  # the row of each variant SKU of the file
        self.products: list[ProductRows] = []
        self.group: _Group | None = None
        self._options_of: dict[int, dict[int, int]] | None = None
        self._attribute_values_of: dict[int, dict[int, set[int]]] | None = None

    def add(self, line: int, values: dict[str, str]) -> None:
        sku = values.get("sku", "")
        if self.group is not None and sku and sku == self.group.sku:
            self._following(line, values)
        else:
            self.close()
            self._first(line, values)

    def close(self) -> None:
        """The current product's rows are all read: check them together."""
        group, self.group = self.group, None
        if group is not None and not group.bad:
            product = self._product(group)
            if product is not None:
                self.products.append(product)

    # A product's first row, then its following rows ----------------------------------------------

    def _first(self, line: int, values: dict[str, str]) -> None:
        if values.get("sku") in self.product_lines:
            self._apart(line, values)
            return
        data, problems = self.validator.clean(values, first=True)
        self._report(line, problems)
        if "brand" not in self.header:
            data["brand"] = None  # a file without the column (made before brands) keeps each product's brand
        sku = data.get("sku")
        if sku is None:
            return
        group = _Group(sku, line, data, values, self.existing.get(sku), bad=bool(problems))
        self.group = group
        self.product_lines[sku] = line
        taken = self._sku_taken(sku, group, as_product=True)
        if taken:
            self._report(line, [("sku", taken)])
            group.bad = True
            return
        slug = data.get("slug")
        if slug and self.slug_owner.get(slug, sku) != sku:
            owner = self.slug_owner[slug]
            message = (
                _("Slug %(slug)s is also on row %(row)d.") % {"slug": slug, "row": self.product_lines[owner]}
                if owner in self.product_lines and owner not in self.existing_skus
                else _("Slug %(slug)s belongs to product %(other)s.") % {"slug": slug, "other": owner}
            )
            self._report(line, [("slug", message)])
            group.bad = True
        elif slug:
            self.slug_owner[slug] = sku
        self._variant(group, line, data)

    def _apart(self, line: int, values: dict[str, str]) -> None:
        """A product's SKU again after another product's rows: most often a row given twice. Only that is
        reported (and its cells, as those of a following row); the rows after it with the SKU join it."""
        sku = values["sku"]
        message = _("SKU %(sku)s is also on row %(row)d: the rows of one product must follow one another.")
        data, problems = self.validator.clean(values, first=False)
        self._report(line, [*problems, ("sku", message % {"sku": sku, "row": self.product_lines[sku]})])
        self.group = _Group(sku, line, data, values, None, bad=True, apart=True)

    def _following(self, line: int, values: dict[str, str]) -> None:
        group = self.group
        data, problems = self.validator.clean(values, first=False)
        if group.apart:
            self._report(line, problems)
            return
        for name in PRODUCT_FIELDS:
            if name in data and name in group.data and not _same(data[name], group.data[name]):
                problems.append((name, self._differs(group, group.raw.get(name, ""))))
        for attribute_id, found in data["attributes"].items():
            if attribute_id in group.data["attributes"] and found != group.data["attributes"][attribute_id]:
                column = self.attribute_columns[attribute_id]
                problems.append((column, self._differs(group, group.raw.get(column, ""))))
        self._report(line, problems)
        group.bad |= bool(problems)
        self._variant(group, line, data)

    def _differs(self, group: _Group, first: str) -> str:
        return _(
            "Differs from this product's first row (row %(row)d: “%(value)s”): "
            "leave the cell empty or give the same value."
        ) % {"row": group.line, "value": _shown(first)}

    def _variant(self, group: _Group, line: int, data: dict) -> None:
        if "sku" not in data or group.apart:
            return
        item = _Line(line, data, data.get("variant_sku") or "")
        taken = self._sku_taken(item.sku, group, as_product=False)
        if taken:
            self._report(line, [("variant_sku" if item.given else "sku", taken)])
            group.bad = True
            return
        self.variant_lines[item.sku] = line
        group.lines.append(item)

    def _sku_taken(self, sku: str, group: _Group, *, as_product: bool) -> str | None:
        """Why this SKU cannot be the product's (as_product) or one of its variants', if it cannot.

        A SKU names one product and its variants: a variant may have its own product's SKU, no
        other product's; a new product may not have another product's variant's SKU."""
        if not as_product and sku in self.variant_lines:
            return _("SKU %(sku)s is also on row %(row)d.") % {"sku": sku, "row": self.variant_lines[sku]}
        if sku != group.sku and sku in self.product_lines:
            return _("SKU %(sku)s is also on row %(row)d.") % {"sku": sku, "row": self.product_lines[sku]}
        if as_product and sku in self.variant_lines:
            return _("SKU %(sku)s is also on row %(row)d.") % {"sku": sku, "row": self.variant_lines[sku]}
        mine = group.existing.pk if group.existing else None
        owner = self.variants[sku][1] if sku in self.variants else None
        if owner is not None and owner != mine and not (as_product and group.existing):
            return _("SKU %(sku)s belongs to product %(other)s.") % {"sku": sku, "other": self.product_skus[owner]}
        if sku != group.sku and sku in self.existing:
            return _("SKU %(sku)s belongs to product %(other)s.") % {"sku": sku, "other": sku}
        return None

    def _report(self, line: int, problems) -> None:
        self.errors += [(line, column, message) for column, message in problems]

    # A product's rows together ----------------------------------------------------------------

    def _product(self, group: _Group) -> ProductRows | None:
        errors = len(self.errors)
        lines = group.lines
        if len(lines) > 1:
            message = _(
                "Product %(sku)s has several rows (from row %(row)d), one per variant: each needs its variant_sku."
            )
            for item in lines:
                if not item.given:
                    self._report(item.line, [("variant_sku", message % {"sku": group.sku, "row": group.line})])
        if len(self.errors) > errors:
            return None
        targets = self._targets(group)
        if targets is None:
            return None
        info = self._type(group)
        existing = group.existing
        changed_type = (
            existing is not None and "product_type" in self.header and existing.type_id != (info.pk if info else None)
        )
        if changed_type and not self._all_variants_named(group, targets):
            return None
        rows = []
        for item, target in zip(lines, targets, strict=True):
            options = self._options(group, item, info, target, changed_type=changed_type)
            variant = {VARIANT_FIELDS[c]: item.data[c] for c in VARIANT_FIELDS if c in self.header or c == "stock"}
            rows.append(VariantRow(item.line, item.sku, variant, options, single=not item.given))
            self._check_compare_at(group, item)
        if info and info.variant_attributes and len(self.errors) == errors:
            self._check_combinations(group, info, rows, targets)
        attribute_values = self._attribute_values(group, info, changed_type=changed_type)
        if len(self.errors) > errors:
            return None
        data = {name: group.data[name] for name in ("sku", "name", *PRODUCT_FIELDS) if name in group.data}
        data.pop("slug", None)
        data.pop("product_type", None)
        if "product_type" in self.header:
            data["product_type"] = info.pk if info else None
        return ProductRows(group.line, data, group.data["slug"] or None, rows, attribute_values)

    def _targets(self, group: _Group) -> list[int | None] | None:
        """The existing variant (id) each row updates, or None for a new one."""
        lines = group.lines
        if len(lines) == 1 and not lines[0].given and group.existing:
            mine = self.variants_of.get(group.existing.pk, [])
            if len(mine) > 1:
                message = _(
                    "Product %(sku)s has %(count)d variants: give it one row per variant, each with its variant_sku "
                    "(an export of the product shows them)."
                ) % {"sku": group.sku, "count": len(mine)}
                self._report(group.line, [("variant_sku", message)])
                return None
            return [self.variants[mine[0]][0] if mine else None]
        return [self.variants[item.sku][0] if item.sku in self.variants else None for item in lines]

    def _type(self, group: _Group) -> TypeInfo | None:
        if "product_type" in self.header:
            return group.data["product_type"]
        if group.existing and group.existing.type_id:
            return self.vocabulary.types[group.existing.type_id]
        return None

    def _all_variants_named(self, group: _Group, targets: list) -> bool:
        """A product changing type gets all its variants' options from the file: none may be left out."""
        named = set(targets)
        missing = [sku for sku in self.variants_of.get(group.existing.pk, []) if self.variants[sku][0] not in named]
        if not missing:
            return True
        message = _(
            "Changing the product type of %(sku)s needs a row for each of its variants, with their options; "
            "missing: %(missing)s."
        ) % {"sku": group.sku, "missing": listing(missing)}
        self._report(group.line, [("product_type", message)])
        return False

    def _options(
        self, group: _Group, item: _Line, info: TypeInfo | None, target: int | None, *, changed_type: bool
    ) -> dict[int, int]:
        """The variant's options once imported: one value of each variant attribute of its type, from the
        file's option: column, or kept from the variant as it is when the file has no such column."""
        given = item.data["options"]
        allowed = {a.pk for a in info.variant_attributes} if info else set()
        for attribute_id in given.keys() - allowed:
            attribute = self.vocabulary.attributes[attribute_id]
            if info is None:
                message = _("Product %(sku)s has no product type, so its variants have no options.") % {
                    "sku": group.sku
                }
            else:
                message = _(
                    "%(attribute)s is not a variant attribute of product type %(type)s (its variant attributes: "
                    "%(known)s)."
                ) % {
                    "attribute": attribute.name,
                    "type": info.name,
                    "known": listing(a.name for a in info.variant_attributes),
                }
            self._report(item.line, [(self.option_columns[attribute_id], message)])
        options = {}
        kept = self._kept_options(target) if target and info else {}
        for attribute in info.variant_attributes if info else []:
            column = self.option_columns.get(attribute.pk)
            if column and attribute.pk in given:
                options[attribute.pk] = given[attribute.pk]
            elif not column and attribute.pk in kept:
                options[attribute.pk] = kept[attribute.pk]
            elif column or target is None or changed_type:
                message = _("Every variant of product type %(type)s needs a value of %(attribute)s.") % {
                    "type": info.name,
                    "attribute": attribute.name,
                }
                self._report(item.line, [(column or OPTION + attribute.slug, message)])
        return options

    def _check_compare_at(self, group: _Group, item: _Line) -> None:
        compare_at = item.data.get("variant_compare_at_price")
        price = item.data.get("variant_price")
        price = group.data.get("price") if price is None else price
        if compare_at is not None and price is not None and compare_at <= price:
            message = _("Must be above the variant's price (its own, or the product's), or empty.")
            self._report(item.line, [("variant_compare_at_price", message)])

    def _check_combinations(self, group: _Group, info: TypeInfo, rows: list[VariantRow], targets: list) -> None:
        """No two variants of a product with the same options: those of the file, and those it leaves as they are."""
        attributes = [a.pk for a in info.variant_attributes]
        seen: dict[frozenset, VariantRow] = {}
        for row in rows:
            key = frozenset(row.options.items())
            if len(row.options) < len(attributes):
                continue  # an existing variant that lacks an option (the file has no column to give it)
            if key in seen:
                message = _("Same options as row %(row)d (%(options)s): each variant needs its own.") % {
                    "row": seen[key].line,
                    "options": self._described(row.options),
                }
                self._report(row.line, [(self.option_columns.get(attributes[0], "variant_sku"), message)])
            seen.setdefault(key, row)
        if group.existing is None:
            return
        named = set(targets)
        for sku in self.variants_of.get(group.existing.pk, []):
            pk = self.variants[sku][0]
            if pk in named:
                continue
            options = {a: v for a, v in self._kept_options(pk).items() if a in attributes}
            row = seen.get(frozenset(options.items()))
            if row is not None and len(options) == len(attributes):
                message = _(
                    "Same options as variant %(sku)s, which the product already has (%(options)s): each variant "
                    "needs its own."
                ) % {"sku": sku, "options": self._described(options)}
                self._report(row.line, [(self.option_columns.get(attributes[0], "variant_sku"), message)])

    def _described(self, options: dict[int, int]) -> str:
        values = [self.vocabulary.values[pk] for pk in options.values()]
        return ", ".join(f"{self.vocabulary.attributes[v.attribute_id].name} {v.name}" for v in values)

    def _attribute_values(self, group: _Group, info: TypeInfo | None, *, changed_type: bool) -> frozenset[int] | None:
        """The values describing the product once imported; None to leave them (no attribute: column, same type)."""
        given = group.data["attributes"]
        allowed = {a.pk for a in info.product_attributes} if info else set()
        for attribute_id in {a for a, found in given.items() if found} - allowed:
            attribute = self.vocabulary.attributes[attribute_id]
            if info is None:
                message = _("Product %(sku)s has no product type, so it has no attribute values.") % {"sku": group.sku}
            else:
                message = _(
                    "%(attribute)s is not a product attribute of product type %(type)s (its product attributes: "
                    "%(known)s)."
                ) % {
                    "attribute": attribute.name,
                    "type": info.name,
                    "known": listing(a.name for a in info.product_attributes),
                }
            self._report(group.line, [(self.attribute_columns[attribute_id], message)])
        existing = group.existing
        if existing is not None and not given and not changed_type:
            return None
        kept = self._kept_attribute_values(existing.pk) if existing and allowed - given.keys() else {}
        values = set()
        for attribute_id in allowed:
            values |= given[attribute_id] if attribute_id in given else kept.get(attribute_id, set())
        if existing is None and not values:
            return None  # a new product without any: nothing to write
        return frozenset(values)

    # What the store has, read when first needed ------------------------------------------------

    def _kept_options(self, variant_id: int) -> dict[int, int]:
        if self._options_of is None:
            self._options_of = {}
            typed = VariantOption.objects.filter(variant__product__product_type__isnull=False)
            for variant, attribute, value in typed.values_list("variant_id", "attribute_id", "value_id"):
                self._options_of.setdefault(variant, {})[attribute] = value
        return self._options_of.get(variant_id, {})

    def _kept_attribute_values(self, product_id: int) -> dict[int, set[int]]:
        if self._attribute_values_of is None:
            self._attribute_values_of = {}
            values = self.vocabulary.values
            for product, value in ProductAttributeValue.objects.values_list("product_id", "value_id"):
                by_attribute = self._attribute_values_of.setdefault(product, {})
                by_attribute.setdefault(values[value].attribute_id, set()).add(value)
        return self._attribute_values_of.get(product_id, {})


def _same(a, b) -> bool:
    """Two cleaned values of a product column are the same (categories and types by identity)."""
    if hasattr(a, "pk") and hasattr(b, "pk"):
        return a.pk == b.pk
    return a == b
