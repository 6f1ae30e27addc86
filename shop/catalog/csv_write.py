"""Writing one batch of checked product rows (shop/catalog/csv_rows.py) inside the caller's transaction.

A batch costs the same ten or so statements whether it holds one product or five hundred: products,
variants, options and attribute values are read, inserted and updated in bulk, and the products'
stock is summed from their variants by the database in one statement at the end of the batch, so
`Product.stock` is the sum of the active variants' stock when the transaction commits.

Plain querysets throughout: the catalog's own would make cached pages out of date statement by
statement; the import does it once, at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError, connection, models
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.db.models.sql import UpdateQuery
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from shop.catalog.csv_rows import VARIANT_FIELDS, ProductRows
from shop.catalog.models import Product, ProductAttributeValue, Variant, VariantOption

# Written on every product of the file; brand and product_type only when the file has their column.
WRITTEN_FIELDS = ["name", "category", "price", "compare_at_price", "is_active", "is_featured", "description"]


class StoreChanged(Exception):
    """The store changed between the check and the write in a way the batch cannot follow."""


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0


def write_batch(batch: list[ProductRows], *, columns: frozenset[str]) -> Written:
    fields = [*WRITTEN_FIELDS, *(name for name in ("brand", "product_type") if name in columns)]
    products, new, changed = _write_products(batch, fields)
    written = Written(created=len(new), updated=len(changed))
    written.variants_created, written.variants_updated = _write_variants(batch, products, columns)
    _write_attribute_values(batch, products)
    _sum_stock([p.pk for p in products.values()])
    return written


def _write_products(batch: list[ProductRows], fields: list[str]):
    products = models.QuerySet(model=Product)
    # Locked in id order before their variants, as checkout locks them: an import and a checkout of
    # the same products wait for one another instead of deadlocking.
    locked = products.select_for_update().filter(sku__in=[item.sku for item in batch]).order_by("pk")
    existing = {p.sku: p for p in locked}
    now = timezone.now()
    new, changed = [], []
    for item in batch:
        product = existing.get(item.sku)
        if product is None:
            product = Product(sku=item.sku, created_at=now)
            new.append(product)
        else:
            changed.append(product)
        for name in fields:
            if name == "product_type":
                product.product_type_id = item.data["product_type"]
            elif item.data[name] is not None or name != "brand":
                setattr(product, name, item.data[name])
        if item.slug:
            product.slug = item.slug
        elif product.pk is None:
            # Existed when the file was checked, deleted since: it comes back with a fresh slug.
            taken = set(
                products.filter(slug__startswith=slugify(item.data["name"])[:50]).values_list("slug", flat=True)
            )
            product.slug = free_slug(slugify(f"{item.data['name']}-{item.sku}")[:200], taken)
        product.updated_at = now
    products.bulk_create(new)
    _update_all(Product, changed, [*fields, "slug", "updated_at"])
    return {p.sku: p for p in (*new, *changed)}, new, changed


def _write_variants(batch: list[ProductRows], products: dict[str, Product], columns) -> tuple[int, int]:
    variants = models.QuerySet(model=Variant)
    current: dict[int, dict[str, int]] = {}  # product id -> {sku: variant id}
    last: dict[int, int] = {}  # product id -> its variants' highest position
    rows = variants.filter(product_id__in=[p.pk for p in products.values()]).values_list(
        "pk", "sku", "product_id", "position"
    )
    for pk, sku, product_id, position in rows:
        current.setdefault(product_id, {})[sku] = pk
        last[product_id] = max(last.get(product_id, -1), position)
    new, changed, wanted = [], [], []
    for item in batch:
        product = products[item.sku]
        mine = current.get(product.pk, {})
        for row in item.variants:
            pk = mine.get(row.sku)
            if pk is None and row.single and mine:
                if len(mine) > 1:
                    raise StoreChanged(_("product %(sku)s was given more variants meanwhile") % {"sku": item.sku})
                (pk,) = mine.values()
            variant = Variant(pk=pk, product_id=product.pk, sku=row.sku, **row.data)
            if pk is None:
                # New variants come after the product's existing ones, in the file's order.
                last[product.pk] = variant.position = last.get(product.pk, -1) + 1
                new.append(variant)
            else:
                changed.append(variant)
            wanted.append((variant, row.options))
    variants.bulk_create(new)
    names = ["sku", *(field for column, field in VARIANT_FIELDS.items() if column in columns)]
    _update_all(Variant, changed, names)
    _write_options(wanted, [v.pk for v in changed])
    return len(new), len(changed)


def _write_options(wanted: list[tuple[Variant, dict[int, int]]], existing_ids: list[int]) -> None:
    """Each variant gets exactly its wanted options: changed ones replaced, others removed."""
    options = models.QuerySet(model=VariantOption)
    have = {}
    if existing_ids:
        rows = options.filter(variant_id__in=existing_ids).values_list("pk", "variant_id", "attribute_id", "value_id")
        have = {(variant, attribute): (pk, value) for pk, variant, attribute, value in rows}
    by_variant = {variant.pk: values for variant, values in wanted}
    stale = [pk for (variant, attribute), (pk, value) in have.items() if by_variant[variant].get(attribute) != value]
    fresh = [
        VariantOption(variant_id=variant.pk, attribute_id=attribute, value_id=value)
        for variant, values in wanted
        for attribute, value in values.items()
        if have.get((variant.pk, attribute), (None, None))[1] != value
    ]
    if stale:
        options.filter(pk__in=stale).delete()
    options.bulk_create(fresh)


def _write_attribute_values(batch: list[ProductRows], products: dict[str, Product]) -> None:
    wanted = {products[item.sku].pk: item.attribute_values for item in batch if item.attribute_values is not None}
    if not wanted:
        return
    values = models.QuerySet(model=ProductAttributeValue)
    have: dict[int, set[int]] = {}
    stale = []
    for pk, product_id, value_id in values.filter(product_id__in=list(wanted)).values_list(
        "pk", "product_id", "value_id"
    ):
        if value_id in wanted[product_id]:
            have.setdefault(product_id, set()).add(value_id)
        else:
            stale.append(pk)
    if stale:
        values.filter(pk__in=stale).delete()
    values.bulk_create(
        [
            ProductAttributeValue(product_id=product_id, value_id=value_id)
            for product_id, value_ids in wanted.items()
            for value_id in sorted(value_ids - have.get(product_id, set()))
        ]
    )


def _sum_stock(product_ids: list[int]) -> None:
    """Each product's stock is the sum of its active variants', those of the file and the others, as
    they are now (one statement; the products are locked, so no checkout moves them meanwhile)."""
    active = (
        models.QuerySet(model=Variant)
        .filter(product=OuterRef("pk"), is_active=True)
        .order_by()
        .values("product")
        .annotate(total=Sum("stock"))
        .values("total")
    )
    models.QuerySet(model=Product).filter(pk__in=product_ids).update(stock=Coalesce(Subquery(active), 0))


def _update_all(model, objects: list, names: list[str]) -> None:
    """Update every object's columns with one statement prepared once and run per row.

    QuerySet.bulk_update builds a CASE expression per field and row in Python (3.7 s
    for 500 products, all of it with the write lock held), and a queryset update
    per product costs a few ms of Python each; Django compiles the UPDATE once here.
    """
    if not objects:
        return
    fields = [model._meta.get_field(name) for name in names]
    first = objects[0]
    query = models.QuerySet(model=model).filter(pk=first.pk).query.chain(UpdateQuery)
    # Compiled with a 0 for a None (which Django would write as a literal NULL): one placeholder per column.
    sample = [getattr(first, f.attname) for f in fields]
    query.add_update_fields([(f, None, 0 if value is None else value) for f, value in zip(fields, sample, strict=True)])
    statement, params = query.get_compiler(connection=connection).as_sql()
    if len(params) != len(fields) + 1 or params[-1] != first.pk:
        raise DatabaseError(f"Unexpected compiled UPDATE: {statement}")
    rows = [[f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields] + [o.pk] for o in objects]
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)


def free_slug(base: str, taken: set[str]) -> str:
    base = base.strip("-") or "product"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base[:190]}-{n}", n + 1
    return slug
