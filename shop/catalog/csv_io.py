"""Product CSV export and import (the format is documented in docs/catalog-csv.md).

Import runs in two phases so that a big file never holds the database for long:

1. **Check** (`check_file`): the whole file is read and every row validated, with
   no write at all. If any row is wrong, nothing is imported and each problem is
   reported with its row number (the file's line number; the header is row 1).
2. **Write** (`write_rows`): the checked rows are written in batches of
   `BATCH_SIZE`, each batch its own short transaction (bulk insert and bulk
   update), so that shoppers' writes (carts, checkouts) get the database between
   batches instead of waiting behind one long transaction. A batch is all or
   nothing; if one fails (rare: a product changed in between), the batches before
   it stay written, and the result says exactly which rows were written. Rows are
   matched by SKU, so importing the same file again finishes the job.

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

from django import forms
from django.db import DatabaseError, connection, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models.sql import UpdateQuery
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from shop.catalog import cache as catalog_cache
from shop.catalog.models import Category, ImportJob, Product
from shop.core.csvsafe import escape, unescape

logger = logging.getLogger(__name__)

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
]
REQUIRED = {"sku", "name", "category", "price", "stock"}
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
# The range every supported database stores (PostgreSQL's integer): SQLite would
# take larger numbers, and a file accepted on one database must be on the other.
_STOCK_TYPE = Product._meta.get_field("stock").get_internal_type()
STOCK_MIN, STOCK_MAX = BaseDatabaseOperations.integer_field_ranges[_STOCK_TYPE]
WRITTEN_FIELDS = [
    "name",
    "brand",
    "category",
    "price",
    "compare_at_price",
    "stock",
    "is_active",
    "is_featured",
    "description",
]
STALE_JOB = timedelta(minutes=30)


def export_products(queryset, out) -> int:
    """Write products as CSV; text a spreadsheet could run as a formula is neutralised (shop/core/csvsafe.py)."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for p in queryset.select_related("category").order_by("sku").iterator(chunk_size=2000):
        writer.writerow(
            [
                escape(p.sku),
                escape(p.name),
                escape(p.slug),
                escape(p.category.slug),
                p.price,
                "" if p.compare_at_price is None else p.compare_at_price,
                p.stock,
                int(p.is_active),
                int(p.is_featured),
                escape(p.description),
                escape(p.brand),
            ]
        )
        count += 1
    return count


_FLAG_CHOICES = [(v, v) for v in ("", "1", "0", "true", "false", "yes", "no")]


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
        "price": forms.DecimalField(min_value=0, max_digits=12, decimal_places=2),
        "compare_at_price": forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, required=False),
        "stock": forms.IntegerField(min_value=STOCK_MIN, max_value=STOCK_MAX),
        "is_active": forms.TypedChoiceField(
            choices=_FLAG_CHOICES, required=False, coerce=lambda v: v in ("1", "true", "yes"), empty_value=True
        ),
        "is_featured": forms.TypedChoiceField(
            choices=_FLAG_CHOICES, required=False, coerce=lambda v: v in ("1", "true", "yes"), empty_value=False
        ),
        "description": forms.CharField(required=False),
    }

    def __init__(self, *, categories: dict[str, Category]):
        self.categories = categories

    def clean(self, values: dict[str, str]) -> tuple[dict, list[tuple[str, str]]]:
        """(cleaned data, [(column, message), ...]); the data is complete only when there is no error."""
        data, errors = {}, []
        for name, formfield in self.fields.items():
            try:
                data[name] = formfield.clean(values.get(name, ""))
            except forms.ValidationError as exc:
                errors += [(name, message) for message in exc.messages]
        if "category" in data:
            key = data["category"].strip().strip("/")
            data["category"] = self.categories.get(key)
            if data["category"] is None:
                errors.append(("category", _("No category with slug or path “%(key)s”.") % {"key": key}))
        price, compare_at = data.get("price"), data.get("compare_at_price")
        if price is not None and compare_at is not None and compare_at <= price:
            errors.append(("compare_at_price", _("Must be above the price, or empty.")))
        return data, errors


@dataclass
class Row:
    line: int  # where the row starts in the file (the header is line 1)
    data: dict
    slug: str | None  # the slug to set: from the file, made for a new product, or None to keep the current one


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row number, column, message)
    rows: list[Row] = field(default_factory=list, repr=False)
    batches: int = 0
    written_through: int | None = None  # the row number of the last row written, if any

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> int:
        return self.created + self.updated


def import_products(file, *, progress=None, batch_size: int | None = None) -> ImportResult:
    """Check every row, then write them in batches (nothing is written if any row is wrong)."""
    result = check_file(file)
    if result.ok:
        write_rows(result, progress=progress, batch_size=batch_size)
    return result


# Phase 1: check (no writes) ------------------------------------------------------------


def check_file(file) -> ImportResult:
    """Read and validate the whole file; result.rows are ready to write when result.ok."""
    result = ImportResult()
    text = _read_text(file, result)
    if text is None:
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _read_header(reader, result)
    if header is None:
        return result
    categories = {}
    for category in Category.objects.all():
        categories[category.slug] = category
        categories[category.path] = category
    validator = RowValidator(categories=categories)
    slug_owner = dict(Product.objects.values_list("slug", "sku"))
    existing_skus = set(slug_owner.values())
    seen_skus: dict[str, int] = {}
    for count, (line, cells) in enumerate(_records(reader, result), start=1):
        if count > MAX_ROWS:
            result.errors.append((line, "", _("Too many rows: import at most %(max)d at a time.") % {"max": MAX_ROWS}))
            break
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            result.errors.append((line, "", _too_many_cells(len(cells), len(header))))
            continue
        values = {name: unescape(value.strip()) for name, value in zip(header, cells, strict=False) if name}
        data, problems = validator.clean(values)
        if "brand" not in header:
            data["brand"] = None  # a file without the column (made before brands) keeps each product's brand
        if problems:
            result.errors += [(line, column, message) for column, message in problems]
            continue
        sku, slug = data["sku"], data["slug"]
        if sku in seen_skus:
            message = _("SKU %(sku)s is also on row %(row)d.") % {"sku": sku, "row": seen_skus[sku]}
            result.errors.append((line, "sku", message))
            continue
        seen_skus[sku] = line
        if slug and slug_owner.get(slug, sku) != sku:
            owner = slug_owner[slug]
            message = (
                _("Slug %(slug)s is also on row %(row)d.") % {"slug": slug, "row": seen_skus[owner]}
                if owner in seen_skus and owner not in existing_skus
                else _("Slug %(slug)s belongs to product %(other)s.") % {"slug": slug, "other": owner}
            )
            result.errors.append((line, "slug", message))
            continue
        if slug:
            slug_owner[slug] = sku
        result.rows.append(Row(line=line, data=data, slug=slug or None))
    if result.ok and not result.rows:
        result.errors.append((1, "", _("The file has a header but no products.")))
    if result.ok:
        _plan_slugs(result.rows, taken=set(slug_owner), existing_skus=existing_skus)
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


def _read_header(reader, result: ImportResult) -> list[str] | None:
    header = None
    for _line, cells in _records(reader, result):
        header = [c.strip().lower() for c in cells]
        break
    if header is None:
        if result.ok:
            result.errors.append((1, "", _("The file is empty. The first row must name the columns.")))
        return None
    problems = []
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    missing = REQUIRED - set(header)
    unknown = set(header) - set(COLUMNS) - {""}
    if duplicated:
        problems.append(_("columns named twice: %(cols)s") % {"cols": ", ".join(duplicated)})
    if missing:
        problems.append(_("missing columns: %(cols)s") % {"cols": ", ".join(sorted(missing))})
    if unknown:
        problems.append(_("unknown columns: %(cols)s") % {"cols": ", ".join(sorted(unknown))})
    if problems:
        message = (
            "; ".join(problems)
            + ". "
            + _("The first row must name the columns: %(cols)s.") % {"cols": ", ".join(COLUMNS)}
        )
        result.errors.append((1, "", message))
        return None
    return header


def _too_many_cells(cells: int, columns: int) -> str:
    return _(
        "This row has %(cells)d values but the header names %(columns)d columns. "
        "A value containing a comma must be in double quotes."
    ) % {"cells": cells, "columns": columns}


def _plan_slugs(rows: list[Row], *, taken: set[str], existing_skus: set[str]) -> None:
    """New products without a slug get one made from name and SKU, after every slug in the file is reserved."""
    for row in rows:
        if row.slug is None and row.data["sku"] not in existing_skus:
            row.slug = _free_slug(slugify(f"{row.data['name']}-{row.data['sku']}")[:200], taken)
            taken.add(row.slug)


def _free_slug(base: str, taken: set[str]) -> str:
    base = base.strip("-") or "product"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base[:190]}-{n}", n + 1
    return slug


# Phase 2: write, in short transactions ----------------------------------------------------


def write_rows(result: ImportResult, *, progress=None, batch_size: int | None = None) -> ImportResult:
    """Write checked rows in batches; progress(done, total) runs inside each batch's transaction.

    The catalog's cached pages are made out of date once, at the end (not once per
    row or batch): pages built meanwhile are dropped then.
    """
    rows, total = result.rows, len(result.rows)
    batch_size = batch_size or BATCH_SIZE
    pause = SQLITE_BATCH_PAUSE if connection.vendor == "sqlite" else 0
    try:
        for start in range(0, total, batch_size):
            batch = rows[start : start + batch_size]
            try:
                with transaction.atomic():
                    created, updated = _write_batch(batch)
                    if progress:
                        progress(start + len(batch), total)
            except DatabaseError as exc:
                logger.warning("Product import stopped at row %d: %s", batch[0].line, exc)
                result.errors.append((batch[0].line, "", _write_failed_message(result, batch, exc)))
                break
            result.created += created
            result.updated += updated
            result.batches += 1
            result.written_through = batch[-1].line
            if pause and start + batch_size < total:
                time.sleep(pause)
    finally:
        if result.written:
            catalog_cache.changed()
    return result


def _write_batch(batch: list[Row]) -> tuple[int, int]:
    # A plain queryset: the catalog's own would mark cached pages out of date per statement.
    products = models.QuerySet(model=Product)
    existing = {p.sku: p for p in products.filter(sku__in=[row.data["sku"] for row in batch])}
    now = timezone.now()
    new, changed = [], []
    for row in batch:
        product = existing.get(row.data["sku"])
        if product is None:
            product = Product(sku=row.data["sku"], created_at=now)
            new.append(product)
        else:
            changed.append(product)
        for name in WRITTEN_FIELDS:
            if row.data[name] is not None or name != "brand":
                setattr(product, name, row.data[name])
        if row.slug:
            product.slug = row.slug
        elif product.pk is None:
            # Existed when the file was checked, deleted since: it comes back with a fresh slug.
            taken = set(products.filter(slug__startswith=slugify(row.data["name"])[:50]).values_list("slug", flat=True))
            product.slug = _free_slug(slugify(f"{row.data['name']}-{row.data['sku']}")[:200], taken)
        product.updated_at = now
    products.bulk_create(new)
    _update_all(changed, [*WRITTEN_FIELDS, "slug", "updated_at"])
    return len(new), len(changed)


def _update_all(products: list[Product], names: list[str]) -> None:
    """Update every product's columns with one statement prepared once and run per row.

    QuerySet.bulk_update builds a CASE expression per field and row in Python (3.7 s
    for 500 products, all of it with the write lock held), and a queryset update
    per product costs a few ms of Python each; Django compiles the UPDATE once here.
    """
    if not products:
        return
    fields = [Product._meta.get_field(name) for name in names]
    first = products[0]
    query = models.QuerySet(model=Product).filter(pk=first.pk).query.chain(UpdateQuery)
    # Compiled with a 0 for a None (which Django would write as a literal NULL): one placeholder per column.
    sample = [getattr(first, f.attname) for f in fields]
    query.add_update_fields([(f, None, 0 if value is None else value) for f, value in zip(fields, sample, strict=True)])
    statement, params = query.get_compiler(connection=connection).as_sql()
    if len(params) != len(fields) + 1 or params[-1] != first.pk:
        raise DatabaseError(f"Unexpected compiled UPDATE: {statement}")
    rows = [[f.get_db_prep_save(getattr(p, f.attname), connection) for f in fields] + [p.pk] for p in products]
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)


def _write_failed_message(result: ImportResult, batch: list[Row], exc: Exception) -> str:
    values = {"row": batch[0].line, "last": batch[-1].line, "error": exc}
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
    transaction.on_commit(lambda: tasks.run_product_import.delay(job_id=job.pk))
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
    job.rows_total = len(result.rows)
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
        tasks.run_product_import.delay(job_id=job_id)
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
