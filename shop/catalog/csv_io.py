"""Product CSV export and import (the format is documented in docs/catalog-csv.md).

A product is one row, or one row per variant: rows sharing its `sku`, one after another, its
own columns on the first (shop/catalog/csv_rows.py). A file made before variants is the first
case, and imports as it always did.

Import runs in two phases so that a big file never holds the database for long:

1. **Check** (`check_file`): the whole file is read and every row validated, with
   no write at all. If any row is wrong, nothing is imported and each problem is
   reported with its row number (the file's line number; the header is row 1).
2. **Write** (`write_rows`): the checked products are written in batches of about
   `BATCH_SIZE` rows (a product's rows never split), each batch its own short
   transaction (bulk insert and bulk update, shop/catalog/csv_write.py), so that
   shoppers' writes (carts, checkouts) get the database between batches instead of
   waiting behind one long transaction. A batch is all or nothing; if one fails (rare:
   a product changed in between), the batches before it stay written, and the result
   says exactly which rows were written. Products are matched by SKU and variants by
   their SKU, so importing the same file again finishes the job.

Files of more than `BACKGROUND_ROWS` rows run as a Celery task recorded in an
`ImportJob` (`import_job_create`, `import_job_run`); smaller ones run in the request.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from shop.catalog import cache as catalog_cache
from shop.catalog.csv_rows import (
    ATTRIBUTE,
    COLUMNS,
    OPTION,
    REQUIRED,
    STOCK_MAX,
    STOCK_MIN,
    ProductChecker,
    ProductRows,
    RowValidator,
    VariantRow,
)
from shop.catalog.csv_vocabulary import SEPARATOR, Vocabulary, listing
from shop.catalog.csv_write import StoreChanged, free_slug, write_batch
from shop.catalog.models import ImportJob, Product, ProductAttributeValue, Variant, VariantOption
from shop.core.csvsafe import escape, unescape
from shop.core.queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "REQUIRED",
    "STOCK_MAX",
    "STOCK_MIN",
    "ImportResult",
    "ProductRows",
    "RowValidator",
    "VariantRow",
    "check_file",
    "export_products",
    "import_products",
    "write_rows",
]

MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
# Files with more rows than this are imported in the background (ImportJob).
BACKGROUND_ROWS = 1_000
# Rows per write transaction: large enough for bulk statements to pay, small
# enough that one batch holds the write lock for a fraction of a second.
BATCH_SIZE = 500
# On SQLite a writer waiting for the lock polls (sleeping up to 100 ms): without a
# pause, the importer would take the lock again before a waiting shopper wakes up.
SQLITE_BATCH_PAUSE = 0.1
# Products read per step of an export: a few queries each, whatever their variants.
EXPORT_CHUNK = 500
STALE_JOB = timedelta(minutes=30)


# Export -----------------------------------------------------------------------------------


def export_products(queryset, out) -> int:
    """Write products as CSV, one row per variant when they have several; returns how many products.

    Products come by SKU, their variants by position. Text a spreadsheet could run as a formula is
    neutralised (shop/core/csvsafe.py). The option: and attribute: columns are those of the exported
    products' types. A fixed number of queries per EXPORT_CHUNK products, whatever their variants.
    """
    vocabulary = Vocabulary()
    type_ids = sorted(t for t in queryset.order_by().values_list("product_type", flat=True).distinct() if t)
    types = [vocabulary.types[pk] for pk in type_ids]
    options = _by_slug(a for t in types for a in t.variant_attributes)
    attributes = _by_slug(a for t in types for a in t.product_attributes)
    header = [*COLUMNS, *(OPTION + a.slug for a in options), *(ATTRIBUTE + a.slug for a in attributes)]
    writer = csv.writer(out)
    writer.writerow(header)
    ids = list(queryset.order_by("sku").values_list("pk", flat=True))
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start : start + EXPORT_CHUNK]
        products = Product.objects.filter(pk__in=chunk).select_related("category", "product_type").order_by("sku")
        variants: dict[int, list[Variant]] = {}
        for variant in Variant.objects.filter(product_id__in=chunk).order_by("product_id", "position", "pk"):
            variants.setdefault(variant.product_id, []).append(variant)
        chosen: dict[int, dict[int, int]] = {}  # variant id -> {attribute id: value id}
        described: dict[int, list[int]] = {}  # product id -> value ids
        if types:
            typed = VariantOption.objects.filter(variant__product_id__in=chunk)
            for variant_id, attribute_id, value_id in typed.values_list("variant_id", "attribute_id", "value_id"):
                chosen.setdefault(variant_id, {})[attribute_id] = value_id
            values = ProductAttributeValue.objects.filter(product_id__in=chunk).values_list("product_id", "value_id")
            for product_id, value_id in values:
                described.setdefault(product_id, []).append(value_id)
        for product in products:
            rows = _export_rows(
                product,
                variants.get(product.pk, []),
                chosen=chosen,
                described=described.get(product.pk, []),
                vocabulary=vocabulary,
            )
            for cells in rows:
                writer.writerow([cells.get(name, "") for name in header])
    return len(ids)


def _by_slug(attributes) -> list:
    return sorted({a.slug: a for a in attributes}.values(), key=lambda a: a.slug)


def _export_rows(product, variants, *, chosen, described, vocabulary):
    """The cells of a product's rows by column: its own on the first row only."""
    info = vocabulary.types[product.product_type_id] if product.product_type_id else None
    first = {
        "name": escape(product.name),
        "slug": escape(product.slug),
        "category": escape(product.category.slug),
        "price": product.price,
        "compare_at_price": "" if product.compare_at_price is None else product.compare_at_price,
        "is_active": int(product.is_active),
        "is_featured": int(product.is_featured),
        "description": escape(product.description),
        "brand": escape(product.brand),
        "product_type": escape(info.slug) if info else "",
    }
    values = sorted((vocabulary.values[pk] for pk in described), key=lambda v: (v.position, v.pk))
    for attribute in info.product_attributes if info else []:
        texts = [_value_text(v, vocabulary) for v in values if v.attribute_id == attribute.pk]
        first[ATTRIBUTE + attribute.slug] = escape(SEPARATOR.join(texts))
    # One row, as before variants, for a product whose only variant has its SKU.
    single = len(variants) == 1 and variants[0].sku == product.sku
    if not variants:
        yield {**first, "sku": escape(product.sku), "stock": product.stock}
        return
    for n, variant in enumerate(variants):
        cells = dict(first) if n == 0 else {}
        cells |= {
            "sku": escape(product.sku),
            "stock": variant.stock,
            "variant_sku": "" if single else escape(variant.sku),
            "variant_price": "" if variant.price is None else variant.price,
            "variant_compare_at_price": "" if variant.compare_at_price is None else variant.compare_at_price,
            "variant_weight": "" if variant.weight is None else variant.weight,
            "variant_is_active": "" if variant.is_active else 0,
        }
        options = chosen.get(variant.pk, {})
        for attribute in info.variant_attributes if info else []:
            if attribute.pk in options:
                cells[OPTION + attribute.slug] = escape(vocabulary.text(vocabulary.values[options[attribute.pk]]))
        yield cells


def _value_text(value, vocabulary: Vocabulary) -> str:
    text = vocabulary.text(value)
    return value.slug if SEPARATOR in text else text


# Import -----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row number, column, message)
    products: list[ProductRows] = field(default_factory=list, repr=False)
    columns: frozenset[str] = frozenset()
    batches: int = 0
    written_through: int | None = None  # the row number of the last row written, if any

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> int:
        return self.created + self.updated

    @property
    def row_count(self) -> int:
        """The rows to write: one per variant."""
        return sum(len(p.variants) for p in self.products)


def import_products(file, *, progress=None, batch_size: int | None = None) -> ImportResult:
    """Check every row, then write them in batches (nothing is written if any row is wrong)."""
    result = check_file(file)
    if result.ok:
        write_rows(result, progress=progress, batch_size=batch_size)
    return result


# Phase 1: check (no writes) ------------------------------------------------------------


def check_file(file) -> ImportResult:
    """Read and validate the whole file; result.products are ready to write when result.ok."""
    result = ImportResult()
    text = _read_text(file, result)
    if text is None:
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    vocabulary = Vocabulary()
    header = _read_header(reader, result, vocabulary)
    if header is None:
        return result
    result.columns = frozenset(header) - {""}
    checker = ProductChecker(header=header, errors=result.errors, vocabulary=vocabulary)
    for count, (line, cells) in enumerate(_records(reader, result), start=1):
        if count > MAX_ROWS:
            result.errors.append((line, "", _("Too many rows: import at most %(max)d at a time.") % {"max": MAX_ROWS}))
            break
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            result.errors.append((line, "", _too_many_cells(len(cells), len(header))))
            continue
        checker.add(line, {name: unescape(value.strip()) for name, value in zip(header, cells, strict=False) if name})
    checker.close()
    result.products = checker.products
    if result.ok and not result.products:
        result.errors.append((1, "", _("The file has a header but no products.")))
    if result.ok:
        _plan_slugs(result.products, taken=set(checker.slug_owner), existing_skus=checker.existing_skus)
    # A product's problems are found once its rows are all read: listed with the rows they concern.
    result.errors.sort(key=lambda error: error[0])
    return result


def _read_text(file, result: ImportResult) -> str | None:
    data = file.read(MAX_BYTES + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        result.errors.append((1, "", too_big_message()))
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        result.errors.append((1, "", _("The file is UTF-16 text. Save it as “CSV UTF-8” and upload it again.")))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = _(
            "Row %(row)d is not UTF-8 text (byte 0x%(byte)02x). Save the file as “CSV UTF-8” and upload it again."
        ) % {"row": line, "byte": data[exc.start]}
        result.errors.append((line, "", message))
        return None
    if not text.strip():
        result.errors.append((1, "", _("The file is empty. The first row must name the columns.")))
        return None
    return text


def too_big_message() -> str:
    return _("The file is larger than %(size)s. Split it into smaller files.") % {"size": filesizeformat(MAX_BYTES)}


def _records(reader, result: ImportResult):
    """(line where the record starts, cells) for each non-blank record; a broken record ends the file."""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = _("This row cannot be read as CSV (%(error)s); rows after it were not checked.") % {"error": exc}
            result.errors.append((line, "", message))
            return
        if any(c.strip() for c in cells):
            yield line, cells


def _read_header(reader, result: ImportResult, vocabulary: Vocabulary) -> list[str] | None:
    header = None
    for _line, cells in _records(reader, result):
        header = [_column_name(c) for c in cells]
        break
    if header is None:
        if result.ok:
            result.errors.append((1, "", _("The file is empty. The first row must name the columns.")))
        return None
    problems = []
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    missing = REQUIRED - set(header)
    named = [name for name in header if name.startswith((OPTION, ATTRIBUTE))]
    unknown = set(header) - set(COLUMNS) - {""} - set(named)
    unknown_attributes = {n for n in named if n.partition(":")[2] not in vocabulary.attributes_by_slug}
    if duplicated:
        problems.append(_("columns named twice: %(cols)s") % {"cols": ", ".join(duplicated)})
    if missing:
        problems.append(_("missing columns: %(cols)s") % {"cols": ", ".join(sorted(missing))})
    if unknown | unknown_attributes:
        problems.append(_("unknown columns: %(cols)s") % {"cols": ", ".join(sorted(unknown | unknown_attributes))})
    if problems:
        message = (
            "; ".join(problems)
            + ". "
            + _("The first row must name the columns: %(cols)s.") % {"cols": ", ".join(COLUMNS)}
        )
        if unknown_attributes:
            message += " " + _(
                "Columns option:<slug> and attribute:<slug> name an attribute by its slug (attributes: %(slugs)s)."
            ) % {"slugs": listing(sorted(vocabulary.attributes_by_slug))}
        result.errors.append((1, "", message))
        return None
    return header


def _column_name(cell: str) -> str:
    """A header cell as the column it names: any case, spaces around it or around an attribute slug's colon."""
    name = cell.strip().lower()
    prefix, colon, slug = name.partition(":")
    return f"{prefix.strip()}:{slug.strip()}" if colon and prefix.strip() + ":" in (OPTION, ATTRIBUTE) else name


def _too_many_cells(cells: int, columns: int) -> str:
    return _(
        "This row has %(cells)d values but the header names %(columns)d columns. "
        "A value containing a comma must be in double quotes."
    ) % {"cells": cells, "columns": columns}


def _plan_slugs(products: list[ProductRows], *, taken: set[str], existing_skus: set[str]) -> None:
    """New products without a slug get one made from name and SKU, after every slug in the file is reserved."""
    for product in products:
        if product.slug is None and product.sku not in existing_skus:
            product.slug = free_slug(slugify(f"{product.data['name']}-{product.sku}")[:200], taken)
            taken.add(product.slug)


# Phase 2: write, in short transactions ----------------------------------------------------


def write_rows(result: ImportResult, *, progress=None, batch_size: int | None = None) -> ImportResult:
    """Write checked products in batches; progress(rows done, rows) runs inside each batch's transaction.

    The catalog's cached pages are made out of date once, at the end (not once per
    row or batch): pages built meanwhile are dropped then.
    """
    total, done = result.row_count, 0
    pause = SQLITE_BATCH_PAUSE if connection.vendor == "sqlite" else 0
    try:
        for batch in _batches(result.products, batch_size or BATCH_SIZE):
            rows = sum(len(p.variants) for p in batch)
            try:
                with transaction.atomic():
                    written = write_batch(batch, columns=result.columns)
                    if progress:
                        progress(done + rows, total)
            except (DatabaseError, StoreChanged) as exc:
                logger.warning("Product import stopped at row %d: %s", batch[0].line, exc)
                result.errors.append((batch[0].line, "", _write_failed_message(result, batch, exc)))
                break
            done += rows
            result.created += written.created
            result.updated += written.updated
            result.variants_created += written.variants_created
            result.variants_updated += written.variants_updated
            result.batches += 1
            result.written_through = batch[-1].last_line
            if pause and done < total:
                time.sleep(pause)
    finally:
        if result.written:
            catalog_cache.changed()
    return result


def _batches(products: list[ProductRows], size: int):
    """Products in batches of about `size` rows: a product's rows are never split."""
    batch, rows = [], 0
    for product in products:
        if batch and rows + len(product.variants) > size:
            yield batch
            batch, rows = [], 0
        batch.append(product)
        rows += len(product.variants)
    if batch:
        yield batch


def _write_failed_message(result: ImportResult, batch: list[ProductRows], exc: Exception) -> str:
    values = {"row": batch[0].line, "last": batch[-1].last_line, "error": exc}
    if result.written_through is None:
        return (
            _("Writing stopped at rows %(row)d–%(last)d (%(error)s). Nothing was imported. Fix the file and try again.")
            % values
        )
    values |= {"through": result.written_through, "created": result.created, "updated": result.updated}
    return (
        _(
            "Writing stopped at rows %(row)d–%(last)d (%(error)s). Rows up to %(through)d were imported "
            "(%(created)d created, %(updated)d updated); row %(row)d and the rows after it were not. "
            "Importing the same file again is safe: rows are matched by SKU."
        )
        % values
    )


# Background imports ---------------------------------------------------------------------


def count_rows(file) -> int:
    """About how many rows a file has (its lines less the header), without parsing it."""
    file.seek(0)
    lines, last = 0, b""
    while chunk := file.read(1024 * 1024):
        chunk = chunk.encode() if isinstance(chunk, str) else chunk
        lines += chunk.count(b"\n")
        last = chunk
    file.seek(0)
    return max(lines - (1 if last.endswith(b"\n") else 0), 0)


def import_job_create(*, file, filename: str, user) -> ImportJob:
    """Store the file and queue its import (it starts once this transaction commits)."""
    from django.core.files.base import File

    from shop.catalog import tasks

    job = ImportJob(filename=filename[:255], created_by=user)
    job.file.save(filename, File(file), save=False)
    job.save()
    enqueue_on_commit(tasks.run_product_import, job_id=job.pk)  # the broker down: the job waits for its sweep
    return job


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import once: a second delivery of the same task finds it claimed and does nothing."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.CHECKING, started_at=now, updated_at=now
    )
    if not claimed:
        return None
    job = ImportJob.objects.get(pk=job_id)
    try:
        _run(job)
    except Exception:
        logger.exception("Product import %s failed", job.pk)
        job.refresh_from_db(fields=["rows_done", "created", "updated"])
        _finish(
            job,
            ImportJob.Status.FAILED,
            message=_(
                "An unexpected error stopped the import after %(done)d rows. Rows are matched by SKU: "
                "importing the same file again is safe."
            )
            % {"done": job.rows_done},
        )
    return job


def _run(job: ImportJob) -> None:
    with job.file.open("rb") as file:
        result = check_file(file)
    if not result.ok:
        _finish(job, ImportJob.Status.REJECTED, errors=result.errors)
        return
    job.rows_total = result.row_count
    job.status = ImportJob.Status.WRITING
    job.updated_at = timezone.now()
    job.save(update_fields=["rows_total", "status", "updated_at"])

    def progress(done, total):
        # Inside the batch's transaction: the job says exactly which rows are written, even after a crash.
        ImportJob.objects.filter(pk=job.pk).update(rows_done=done, updated_at=timezone.now())
        job.rows_done = done

    write_rows(result, progress=progress)
    job.created, job.updated = result.created, result.updated
    if result.ok:
        _finish(job, ImportJob.Status.DONE)
    else:
        _finish(job, ImportJob.Status.FAILED, errors=result.errors)


def _finish(job: ImportJob, status: str, *, errors=(), message: str = "") -> None:
    job.status = status
    job.error_count = len(errors)
    job.errors = [list(error) for error in errors[: ImportJob.MAX_ERRORS]]
    job.message = message
    job.finished_at = job.updated_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "error_count",
            "errors",
            "message",
            "created",
            "updated",
            "finished_at",
            "updated_at",
        ]
    )


def import_jobs_sweep() -> int:
    """Queue jobs whose task never ran (the broker was down); close jobs whose worker died."""
    from shop.catalog import tasks

    now = timezone.now()
    queued = list(
        ImportJob.objects.filter(status=ImportJob.Status.QUEUED, created_at__lt=now - timedelta(minutes=2)).values_list(
            "pk", flat=True
        )
    )
    for job_id in queued:
        enqueue(tasks.run_product_import, job_id=job_id)
    stale = ImportJob.objects.filter(
        status__in=[ImportJob.Status.CHECKING, ImportJob.Status.WRITING], updated_at__lt=now - STALE_JOB
    )
    for job in stale:
        _finish(
            job,
            ImportJob.Status.FAILED,
            message=_(
                "The import stopped (its worker went away) after %(done)d rows. Rows are matched by SKU: "
                "importing the same file again is safe."
            )
            % {"done": job.rows_done},
        )
    return len(queued) + len(stale)
