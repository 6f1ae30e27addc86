"""Product CSV export and import (the format is documented in docs/catalog-csv.md).

Import is all or nothing: every row is validated first, and if any row is
wrong nothing is written and each problem is reported with its row number.
Rows are matched to existing products by SKU (update) or create new ones.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django import forms
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from shop.catalog.models import Category, Product

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
]
REQUIRED = {"sku", "name", "category", "price", "stock"}
MAX_ROWS = 50_000


def export_products(queryset, out) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for p in queryset.select_related("category").order_by("sku").iterator(chunk_size=2000):
        writer.writerow(
            [
                p.sku,
                p.name,
                p.slug,
                p.category.slug,
                p.price,
                "" if p.compare_at_price is None else p.compare_at_price,
                p.stock,
                int(p.is_active),
                int(p.is_featured),
                p.description,
            ]
        )
        count += 1
    return count


class ProductRowForm(forms.Form):
    sku = forms.CharField(max_length=64)
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=200, required=False)
    category = forms.CharField(max_length=500)
    price = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2)
    compare_at_price = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, required=False)
    stock = forms.IntegerField(min_value=0)
    is_active = forms.TypedChoiceField(
        choices=[(v, v) for v in ("", "1", "0", "true", "false", "yes", "no")],
        required=False,
        coerce=lambda v: v in ("1", "true", "yes"),
        empty_value=True,
    )
    is_featured = forms.TypedChoiceField(
        choices=[(v, v) for v in ("", "1", "0", "true", "false", "yes", "no")],
        required=False,
        coerce=lambda v: v in ("1", "true", "yes"),
        empty_value=False,
    )
    description = forms.CharField(required=False)

    def __init__(self, *args, categories: dict[str, Category], **kwargs):
        super().__init__(*args, **kwargs)
        self.categories = categories

    def clean_is_active(self):
        return self.cleaned_data["is_active"]

    def clean_category(self):
        key = self.cleaned_data["category"].strip().strip("/")
        category = self.categories.get(key)
        if category is None:
            raise forms.ValidationError(_("No category with slug or path “%(key)s”.") % {"key": key})
        return category

    def clean(self):
        cleaned = super().clean()
        price, compare_at = cleaned.get("price"), cleaned.get("compare_at_price")
        if price is not None and compare_at is not None and compare_at <= price:
            self.add_error("compare_at_price", _("Must be above the price, or empty."))
        return cleaned


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row number, column, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def import_products(file, *, progress=None) -> ImportResult:
    """Validate every row, then write them all in one transaction, or nothing."""
    result = ImportResult()
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="") if isinstance(file.read(0), bytes) else file
    try:
        reader = csv.DictReader(text)
        header = [h.strip() for h in (reader.fieldnames or [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        result.errors.append((1, "", _("The file is not a UTF-8 CSV file (%(error)s).") % {"error": exc}))
        return result
    missing = REQUIRED - set(header)
    unknown = set(header) - set(COLUMNS)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(_("missing columns: %(cols)s") % {"cols": ", ".join(sorted(missing))})
        if unknown:
            parts.append(_("unknown columns: %(cols)s") % {"cols": ", ".join(sorted(unknown))})
        result.errors.append((1, "", "; ".join(parts) + ". " + _("Expected: %(cols)s.") % {"cols": ", ".join(COLUMNS)}))
        return result

    categories = {}
    for category in Category.objects.all():
        categories[category.slug] = category
        categories[category.path] = category
    slug_owner = dict(Product.objects.values_list("slug", "sku"))
    valid_rows: list[dict] = []
    seen_skus: dict[str, int] = {}
    try:
        for number, raw in enumerate(reader, start=2):  # row 1 is the header
            if number > MAX_ROWS + 1:
                result.errors.append(
                    (number, "", _("Too many rows: import at most %(max)d at a time.") % {"max": MAX_ROWS})
                )
                break
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
            form = ProductRowForm(row, categories=categories)
            if not form.is_valid():
                for column, messages in form.errors.items():
                    for message in messages:
                        result.errors.append((number, column if column != "__all__" else "", message))
                continue
            sku = form.cleaned_data["sku"]
            if sku in seen_skus:
                result.errors.append(
                    (number, "sku", _("SKU %(sku)s is also on row %(row)d.") % {"sku": sku, "row": seen_skus[sku]})
                )
                continue
            seen_skus[sku] = number
            slug = form.cleaned_data["slug"]
            if slug and slug_owner.get(slug, sku) != sku:
                result.errors.append(
                    (
                        number,
                        "slug",
                        _("Slug %(slug)s belongs to product %(other)s.") % {"slug": slug, "other": slug_owner[slug]},
                    )
                )
                continue
            if slug:
                slug_owner[slug] = sku
            valid_rows.append(form.cleaned_data)
    except (UnicodeDecodeError, csv.Error) as exc:
        result.errors.append((0, "", _("The file could not be read as UTF-8 CSV (%(error)s).") % {"error": exc}))
    if result.errors:
        return result
    _write(valid_rows, result, progress)
    return result


def _write(rows: list[dict], result: ImportResult, progress) -> None:
    with transaction.atomic():
        existing = {p.sku: p for p in Product.objects.filter(sku__in=[r["sku"] for r in rows])}
        taken_slugs = set(Product.objects.values_list("slug", flat=True))
        for i, row in enumerate(rows, start=1):
            product = existing.get(row["sku"]) or Product(sku=row["sku"])
            created = product.pk is None
            for name in (
                "name",
                "category",
                "price",
                "compare_at_price",
                "stock",
                "is_active",
                "is_featured",
                "description",
            ):
                setattr(product, name, row[name])
            if row["slug"]:
                product.slug = row["slug"]
            elif created:
                product.slug = _free_slug(slugify(f"{row['name']}-{row['sku']}")[:200], taken_slugs)
            taken_slugs.add(product.slug)
            product.save()
            if created:
                result.created += 1
            else:
                result.updated += 1
            if progress and i % 500 == 0:
                progress(i, len(rows))


def _free_slug(base: str, taken: set[str]) -> str:
    slug, n = base or "product", 2
    while slug in taken:
        slug, n = f"{base[:190]}-{n}", n + 1
    return slug
