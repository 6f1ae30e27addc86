"""Order histories from a file, for study: `manage.py import_orders` (docs/importing-orders.md).

A file is a purchase log, one row per purchase: a customer id, a day, a quantity and an amount,
and optionally a product, a category, a currency and an email. Each row becomes one order, paid
at noon of that store day (ANALYTICS_TIME_ZONE) and delivered, placed by a guest whose email
stands for the customer id (`<id>@import.invalid`: a reserved domain, so nothing can ever be
sent there). The dashboards then count it as any sale (rollups: orders by the day they were paid,
customers by email, "unknown" visit), and nothing else is invented: no account, login, consent,
email, payment, points or stock change (the orders are bulk-inserted, so no order signal is sent).

Nothing is ever half-imported:

1. **Check** (`check_file`): every row read and validated, and the products and categories it
   names looked up, with no write. Any bad row: `BadRows`, listing each with its line and reason.
2. **Write** (`orders_import`): the new orders, their lines and their timelines in one
   transaction, bulk-inserted in batches.

Each order carries an import key (`Order.idempotency_scope` "import" and `idempotency_key`,
unique together): a hash of what the row says plus how many identical rows came before it in the
file. The same file imported again, or a longer one with more months, adds only the rows not yet
in the store; two identical purchases on one day stay two orders.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, reset_queries, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from marketing.analytics import rollups
from shop.catalog import cache as catalog_cache
from shop.catalog.models import Category, Product, Variant, VariantOption
from shop.catalog.services import variants_create_defaults
from shop.core.money import decimal_places, quantize
from shop.orders.models import NUMBER_ALPHABET, EventKind, Order, OrderEvent, OrderLine, OrderStatus, ShippingMethod

FORMATS = ("csv", "cdnow")
SCOPE = "import"  # Order.idempotency_scope of every imported order
EMAIL_DOMAIN = "import.invalid"  # RFC 2606: reserved, never delivered
LINE_NAME = "Imported purchase"  # the line of a row that names no product
NO_ADDRESS = "(imported: no address)"
PARENT_SLUG, PARENT_NAME = "imported", "Imported"  # the category that holds the categories an import creates
BATCH = 2_000  # orders per bulk insert round (lines and timelines follow each)
PROGRESS_EVERY = 10_000
LOOKUP_CHUNK = 500  # values per IN (...): SQLite takes at most 999 parameters
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("9999999999.99")  # what max_digits=12 holds
FIRST_DAY = dt.date(1900, 1, 1)
NOON = dt.time(12)

# A column and the header names read as it (lower case, spaces and dashes as underscores).
COLUMNS = {
    "customer_id": ("customer_id", "customer", "cust_id", "client_id"),
    "date": ("date", "order_date", "purchase_date"),
    "quantity": ("quantity", "qty", "units", "number_of_cds"),
    "amount": ("amount", "total", "value", "dollar_value"),
    "product": ("product", "sku", "product_name"),
    "category": ("category",),
    "currency": ("currency",),
    "email": ("email",),
}
REQUIRED = ("customer_id", "date", "quantity", "amount")
ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}


class FileRefused(Exception):
    """The file as a whole cannot be read (missing, not text, no rows)."""


class Interrupted(Exception):
    """A write the database refused (a concurrent import): rolled back, nothing written."""


class BadRows(Exception):
    """Rows the file cannot be imported with: [(line, reason)], sorted by line. Nothing was written."""

    def __init__(self, problems: list[tuple[int, str]], *, rows: int):
        self.problems = problems
        self.rows = rows
        super().__init__(f"{len(problems)} bad rows")


@dataclass(slots=True)
class Row:
    line: int
    customer_id: str
    email: str
    email_given: bool
    day: dt.date
    quantity: int
    amount: Decimal
    product: str
    category: str
    key: str = ""
    product_ref: Found | NewProduct | None = None  # an existing product (and variant), one to create, or none

    @property
    def paid_at(self) -> dt.datetime:
        return dt.datetime.combine(self.day, NOON, tzinfo=rollups.zone())


class Found(NamedTuple):
    """An existing product a row names, and the variant its line is of: the one whose SKU the row
    gives, or the product's only variant; none when a product with several is named by its own SKU
    or name (which size or colour was bought, the row does not say)."""

    product_id: int
    variant_id: int | None
    sku: str
    name: str
    options: dict[str, str]


@dataclass(eq=False)
class NewCategory:
    name: str
    parent: Category | NewCategory | None
    slug: str = ""
    saved: Category | None = None


@dataclass(eq=False)
class NewProduct:
    sku: str
    name: str
    category: Category | NewCategory
    price: Decimal
    created_at: dt.datetime
    slug: str = ""
    pk: int | None = None
    variant_pk: int | None = None  # its default variant, made with it


@dataclass
class Plan:
    """A checked file: its rows (with their keys and products) and the catalog rows to create."""

    file: str
    rows: list[Row]
    categories: list[NewCategory] = field(default_factory=list)
    products: list[NewProduct] = field(default_factory=list)


@dataclass
class ImportResult:
    file: str
    rows: int
    new: int  # orders written (in a dry run: that would be)
    already: int  # rows imported before
    customers: int
    first: dt.date
    last: dt.date
    revenue: Decimal  # of the new orders
    categories_created: int
    products_created: int
    dry_run: bool
    seconds: float


Progress = Callable[[str], None]


def cdnow_path() -> Path:
    """The CDNOW purchase log shipped inside the `lifetimes` package (read by path: importing
    lifetimes.datasets needs pkg_resources)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise FileRefused("The lifetimes package is not installed: pip install -r requirements.txt.")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "CDNOW_master.txt"


def orders_import(
    *, path: str | os.PathLike, fmt: str = "csv", dry_run: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Check the whole file, then write its new orders in one transaction (none in a dry run).

    Raises FileRefused or BadRows, having written nothing."""
    started = time.monotonic()
    say = progress or (lambda text: None)
    plan = check_file(path, fmt=fmt, progress=say)
    done = _imported_keys(row.key for row in plan.rows)
    new = [row for row in plan.rows if row.key not in done]
    if not dry_run and new:
        try:
            new = _write(plan, say)
        except IntegrityError:
            # A concurrent import of the same rows, or a checkout that drew one of our order numbers
            # between our look and our insert: the transaction is rolled back whole.
            raise Interrupted(
                "Another import (or an order) wrote rows these orders needed while this one ran. Nothing was "
                "imported: run the command again (rows already in the store are skipped)."
            ) from None
    days = [row.day for row in plan.rows]
    return ImportResult(
        file=plan.file,
        rows=len(plan.rows),
        new=len(new),
        already=len(plan.rows) - len(new),
        customers=len({row.email for row in plan.rows}),
        first=min(days),
        last=max(days),
        revenue=sum((row.amount for row in new), Decimal(0)),
        categories_created=len(plan.categories) if new else 0,
        products_created=len(plan.products) if new else 0,
        dry_run=dry_run,
        seconds=time.monotonic() - started,
    )


# --- Check ---------------------------------------------------------------------------------------------------


def check_file(path: str | os.PathLike, *, fmt: str = "csv", progress: Progress | None = None) -> Plan:
    """Every row read and checked, what it names looked up, its import key given. No write.

    Raises FileRefused if the file cannot be read, BadRows listing every bad row."""
    if fmt not in FORMATS:
        raise FileRefused(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    path = Path(path)
    if not path.is_file():
        raise FileRefused(f"{path} is not a file.")
    checker = _RowChecker()
    rows: list[Row] = []
    problems: dict[int, list[str]] = defaultdict(list)
    count = 0
    for line, values, reason in _records(path, fmt):
        count += 1
        row = None if reason else checker.row(line, values, problems[line])
        if reason:
            problems[line].append(reason)
        elif row is not None:
            rows.append(row)
        if progress and count % PROGRESS_EVERY == 0:
            progress(f"checked {count:,} rows")
    if not count:
        raise FileRefused(f"{path.name} has no rows to import.")
    _check_customers(rows, problems)
    plan = Plan(file=path.name, rows=rows)
    _Catalog(plan).resolve(problems)
    found = sorted((line, "; ".join(reasons)) for line, reasons in problems.items() if reasons)
    if found:
        raise BadRows(found, rows=count)
    if progress:
        progress(f"checked {count:,} rows: all good")
    _give_keys(rows)
    return plan


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, str], str]]:
    """(line, {column: value}, "") per row, or (line, {}, reason) for a row that cannot be read."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            yield from (_cdnow_records(file) if fmt == "cdnow" else _csv_records(file))
    except UnicodeDecodeError:
        raise FileRefused(f"{path.name} is not UTF-8 text: save it as CSV UTF-8 and try again.") from None
    except csv.Error as exc:
        raise FileRefused(f"{path.name} cannot be read as CSV: {exc}.") from None
    except OSError as exc:
        raise FileRefused(f"{path} cannot be read: {exc.strerror}.") from None


def _csv_records(file) -> Iterator[tuple[int, dict[str, str], str]]:
    reader = csv.reader(file)
    header = next(reader, None)
    if header is None:
        return
    columns = _columns(header)
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1  # the line the row starts on, as an editor counts
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield line, {}, f"{len(cells)} values where the header has {len(columns)} columns"
            continue
        yield line, dict(zip(columns, cells, strict=True)), ""


def _columns(header: list[str]) -> list[str]:
    """The header's columns by their names here; BadRows (line 1) when it lacks or repeats one."""
    names = [cell.strip().lower().replace(" ", "_").replace("-", "_") for cell in header]
    columns = [ALIASES.get(name, "") for name in names]
    problems = []
    if len(header) == 1 and len(header[0].split()) > 1:
        problems.append("the header has one column: for whitespace-separated columns (CDNOW), use --format cdnow")
    else:
        unknown = [cell for cell, column in zip(header, columns, strict=True) if not column]
        if unknown:
            problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are {_known()}")
        for column, n in Counter(c for c in columns if c).items():
            if n > 1:
                given = [cell for cell, c in zip(header, columns, strict=True) if c == column]
                problems.append(f"{' and '.join(map(repr, given))} are both the {column} column: keep one")
        missing = [column for column in REQUIRED if column not in columns]
        if missing:
            problems.append(f"no {', '.join(missing)} column; the columns are {_known()}")
    if problems:
        raise BadRows([(1, "; ".join(problems))], rows=0)
    return columns


def _known() -> str:
    return ", ".join(c if c in REQUIRED else f"[{c}]" for c in COLUMNS)


def _cdnow_records(file) -> Iterator[tuple[int, dict[str, str], str]]:
    """Whitespace-separated customer id, date (YYYYMMDD), quantity, amount; a first line of names is skipped."""
    for line, text in enumerate(file, 1):
        cells = text.split()
        if not cells or (line == 1 and not cells[0].isdigit()):
            continue
        if len(cells) != len(REQUIRED):
            yield line, {}, f"{len(cells)} values: the CDNOW format has 4 (customer id, date, quantity, amount)"
            continue
        yield line, dict(zip(REQUIRED, cells, strict=True)), ""


class _Bad(ValueError):
    pass


class _RowChecker:
    """Parses and checks one row's values (the rules are in docs/importing-orders.md)."""

    def __init__(self):
        self.today = rollups.today()
        self.currency = settings.SHOP_CURRENCY
        self.places = decimal_places(self.currency)
        self.emails: dict[str, str] = {}  # customer id -> its made email (checked once per customer)

    def row(self, line: int, values: dict[str, str], reasons: list[str]) -> Row | None:
        values = {column: value.strip() for column, value in values.items()}

        def check(parse, value):
            try:
                return parse(value)
            except _Bad as exc:
                reasons.append(str(exc))

        if any("\x00" in value for value in values.values()):
            reasons.append("a value holds a NUL character")
            return None
        customer = check(self.customer_id, values["customer_id"])
        day = check(self.day, values["date"])
        quantity = check(self.quantity, values["quantity"])
        amount = check(self.amount, values["amount"])
        check(self.check_currency, values.get("currency", ""))
        product = check(lambda v: _text(v, "product", 200), values.get("product", ""))
        category = check(lambda v: _text(v, "category", 100), values.get("category", ""))
        given = values.get("email", "")
        email = check(self.email if given else self.made_email, given or customer)
        if reasons or customer is None:
            return None
        return Row(line, customer, email, bool(given), day, quantity, amount, product, category)

    def customer_id(self, value: str) -> str:
        if not value:
            raise _Bad("the customer id is empty")
        return _text(value, "customer id", 64)

    def day(self, value: str) -> dt.date:
        if re.fullmatch(r"\d{8}", value):
            value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
        elif not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise _Bad(f"date {value!r} is not written YYYY-MM-DD or YYYYMMDD")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise _Bad(f"date {value} does not exist") from None
        if day > self.today:
            raise _Bad(f"date {value} is in the future (today is {self.today} in the store's time zone)")
        if day < FIRST_DAY:
            raise _Bad(f"date {value} is before {FIRST_DAY}")
        return day

    def quantity(self, value: str) -> int:
        if not re.fullmatch(r"\d+", value) or int(value) < 1:
            raise _Bad(f"quantity {value!r} is not a whole number of at least 1")
        if int(value) > MAX_QUANTITY:
            raise _Bad(f"quantity {value} is more than {MAX_QUANTITY:,}")
        return int(value)

    def amount(self, value: str) -> Decimal:
        if re.fullmatch(r"-\d*\.?\d*", value) and re.search(r"[1-9]", value):
            raise _Bad(f"amount {value} is negative")
        match = re.fullmatch(r"\d+(?:\.(\d*))?|\.(\d+)", value)
        if not match:
            raise _Bad(f"amount {value!r} is not a number like 12.50 (a dot for decimals, no thousands separator)")
        decimals = len(match.group(1) or match.group(2) or "")
        if decimals > self.places:
            raise _Bad(f"amount {value} has more than {self.places} decimals ({self.currency})")
        amount = quantize(Decimal(value), self.currency)
        if amount > MAX_AMOUNT:
            raise _Bad(f"amount {value} is more than {MAX_AMOUNT:,}")
        return amount

    def check_currency(self, value: str) -> None:
        if value and value.upper() != self.currency:
            raise _Bad(f"currency {value} is not the store's ({self.currency}): convert the amounts first")

    def email(self, value: str) -> str:
        local, _at, domain = value.rpartition("@")
        email = f"{local}@{domain.lower()}"
        if len(email) > 254 or not _valid_email(email):
            raise _Bad(f"email {value!r} is not an email address")
        return email

    def made_email(self, customer: str | None) -> str | None:
        if customer is None:
            return None
        if customer not in self.emails:
            email = f"{customer}@{EMAIL_DOMAIN}"
            if not _valid_email(email):
                raise _Bad(
                    f"customer id {customer!r} cannot stand for a customer (letters, digits and . _ - make one); "
                    "or add an email column"
                )
            self.emails[customer] = email
        return self.emails[customer]


def _text(value: str, what: str, longest: int) -> str:
    if len(value) > longest:
        raise _Bad(f"the {what} is longer than {longest} characters")
    return value


def _valid_email(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def _check_customers(rows: list[Row], problems: dict[int, list[str]]) -> None:
    """One customer id is one email throughout the file (an email column must agree with itself)."""
    first: dict[str, Row] = {}
    for row in rows:
        seen = first.setdefault(row.customer_id, row)
        if seen.email != row.email:
            problems[row.line].append(
                f"customer {row.customer_id} has email {row.email} here but {seen.email} on line {seen.line}"
            )


def _give_keys(rows: list[Row]) -> None:
    """Each row's import key: what it says, and how many identical rows came before it."""
    seen: Counter[tuple] = Counter()
    for row in rows:
        what = (row.customer_id, row.email if row.email_given else "", row.day.isoformat(), row.quantity,
                str(row.amount), row.product, row.category)  # fmt: skip
        seen[what] += 1
        text = json.dumps([*what, seen[what]], ensure_ascii=False)
        row.key = hashlib.sha256(text.encode()).hexdigest()


def _imported_keys(keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(keys), LOOKUP_CHUNK):
        rows = Order.objects.filter(idempotency_scope=SCOPE, idempotency_key__in=chunk)
        # The exclude lets SQLite use the partial unique index on (scope, key).
        found.update(rows.exclude(idempotency_key="").order_by().values_list("idempotency_key", flat=True))
    return found


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Products and categories ---------------------------------------------------------------------------------


class _Catalog:
    """What each row's line is of. A product is found by a variant's SKU, its own SKU, else by name
    (any case); one the store lacks is created, inactive, in the row's category (found by slug, path
    or name), itself created under "Imported" if missing. A row with a category and no product buys
    that category's placeholder product, so that the category's figures count it. Reads only:
    creating is _write's."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.new_products: dict[str, NewProduct] = {}
        self.new_categories: dict[str, NewCategory] = {}
        self.parent: Category | NewCategory | None = None

    def resolve(self, problems: dict[int, list[str]]) -> None:
        rows = self.plan.rows
        products, unclear = _products_named({row.product for row in rows if row.product})
        wanted = {row.category for row in rows if row.category and row.product not in products}
        categories, unclear_categories = _categories_named(wanted)
        placeholders = _placeholders(categories.values())
        for row in rows:
            if row.product in unclear or (row.product not in products and row.category in unclear_categories):
                problems[row.line].append(unclear.get(row.product) or unclear_categories[row.category])
            elif row.product in products:
                row.product_ref = products[row.product]
            elif row.product:
                row.product_ref = self.product(row, self.category(row.category, categories))
            elif row.category:
                category = self.category(row.category, categories)
                existing = placeholders.get(category.pk) if isinstance(category, Category) else None
                row.product_ref = existing or self.placeholder(row, category)
        self.plan.categories = list(self.new_categories.values())
        self.plan.products = list(self.new_products.values())
        if self.plan.categories:
            _give_slugs(self.plan.categories, Category, "imported-category")
        if self.plan.products:
            _give_slugs(self.plan.products, Product, "imported-product")
            _give_skus(self.plan.products)

    def category(self, value: str, found: dict[str, Category]) -> Category | NewCategory:
        if not value:
            return self.imported()
        if value in found:
            return found[value]
        key = value.lower()
        if key == PARENT_NAME.lower():
            return self.imported()
        if key not in self.new_categories:
            self.new_categories[key] = NewCategory(name=value, parent=self.imported())
        return self.new_categories[key]

    def imported(self) -> Category | NewCategory:
        if self.parent is None:
            self.parent = Category.objects.filter(slug=PARENT_SLUG).first()
            if self.parent is None:
                self.parent = self.new_categories[""] = NewCategory(name=PARENT_NAME, parent=None, slug=PARENT_SLUG)
        return self.parent

    def product(self, row: Row, category: Category | NewCategory) -> NewProduct:
        key = row.product.lower()  # names are matched in any case: "Blue Train" and "blue train" are one
        if key not in self.new_products:
            sku = row.product if len(row.product) <= 64 else f"imported-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
            self.new_products[key] = self._new(row, sku, row.product, category)
        return self.new_products[key]

    def placeholder(self, row: Row, category: Category | NewCategory) -> NewProduct:
        key = f"\x00{id(category)}"  # never a product's name: those hold no NUL
        if key not in self.new_products:
            name = f"{LINE_NAME} ({category.name})"
            self.new_products[key] = self._new(row, "", name, category)  # SKU: from the category's slug, later
        return self.new_products[key]

    def _new(self, row: Row, sku: str, name: str, category) -> NewProduct:
        return NewProduct(sku=sku, name=name[:200], category=category, price=_unit_price(row), created_at=row.paid_at)


def placeholder_sku(category_slug: str) -> str:
    return f"imported-{category_slug}"[:64]


def _products_named(values: set[str]) -> tuple[dict[str, Found], dict[str, str]]:
    """{value: Found} of the products found by a variant's SKU, a product's SKU, or else by name (any
    case), and {value: why unclear}. A variant's SKU comes first: a product's only (default)
    variant has the product's SKU, and a size or colour has its own."""
    found: dict[str, Found] = {}
    by_variant: dict[int, tuple[str, int, str]] = {}  # variant id: (sku, product id, product name)
    for chunk in _chunks(sorted(values), LOOKUP_CHUNK):
        rows = Variant.objects.filter(sku__in=chunk).values_list("pk", "sku", "product_id", "product__name")
        by_variant.update((pk, (sku, product_id, name)) for pk, sku, product_id, name in rows)
    options = _variant_options(by_variant)
    for pk, (sku, product_id, name) in by_variant.items():
        found[sku] = Found(product_id, pk, sku, name, options.get(pk, {}))
    products: dict[str, tuple[int, str, str]] = {}
    for chunk in _chunks(sorted(values - found.keys()), LOOKUP_CHUNK):
        for pk, sku, name in Product.objects.filter(sku__in=chunk).values_list("pk", "sku", "name"):
            products[sku] = (pk, sku, name)
    by_name: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    rest: dict[str, list[str]] = defaultdict(list)  # lower case: the values written so
    for value in values - found.keys() - products.keys():
        rest[value.lower()].append(value)
    for chunk in _chunks(sorted(rest), LOOKUP_CHUNK):
        rows = Product.objects.annotate(lower=Lower("name")).filter(lower__in=chunk)
        for pk, sku, name, lower in rows.order_by("pk").values_list("pk", "sku", "name", "lower"):
            by_name[lower].append((pk, sku, name))
    unclear = {}
    for lower, matches in by_name.items():
        skus = ", ".join(sku for _pk, sku, _name in matches[:5])
        for value in rest[lower]:
            if len(matches) == 1:
                products[value] = matches[0]
            else:
                unclear[value] = f"product {value!r} is the name of {len(matches)} products ({skus}): give the SKU"
    only = _only_variants({pk for pk, _sku, _name in products.values()})
    for value, (pk, sku, name) in products.items():
        variant_id, variant_sku = only.get(pk, (None, sku))
        found[value] = Found(pk, variant_id, variant_sku, name, {})
    return found, unclear


def _variant_options(variants: Iterable[int]) -> dict[int, dict[str, str]]:
    """{variant id: {"Size": "L", ...}}: the options an order line keeps, as checkout writes them."""
    options: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(sorted(variants), LOOKUP_CHUNK):
        rows = VariantOption.objects.filter(variant_id__in=chunk, variant__product__product_type__isnull=False)
        for variant_id, attribute, value in rows.values_list("variant_id", "attribute__name", "value__name"):
            options[variant_id][attribute] = value  # VariantOption's own order: by attribute name
    return options


def _only_variants(products: Iterable[int]) -> dict[int, tuple[int, str]]:
    """{product id: (variant id, SKU)} of the products that have one variant."""
    by_product: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for chunk in _chunks(sorted(products), LOOKUP_CHUNK):
        for pk, sku, product_id in Variant.objects.filter(product_id__in=chunk).values_list("pk", "sku", "product_id"):
            by_product[product_id].append((pk, sku))
    return {product_id: variants[0] for product_id, variants in by_product.items() if len(variants) == 1}


def _categories_named(values: set[str]) -> tuple[dict[str, Category], dict[str, str]]:
    """{value: category} found by slug, path, or else name (any case), and {value: why unclear}."""
    if not values:
        return {}, {}
    categories = list(Category.objects.all())  # a store has hundreds at most
    by_slug = {c.slug: c for c in categories} | {c.path: c for c in categories}
    by_name: dict[str, list[Category]] = defaultdict(list)
    for category in categories:
        by_name[category.name.lower()].append(category)
    found, unclear = {}, {}
    for value in values:
        matches = [by_slug[value]] if value in by_slug else by_name.get(value.lower(), [])
        if len(matches) == 1:
            found[value] = matches[0]
        elif matches:
            paths = ", ".join(c.path for c in matches[:5])
            unclear[value] = f"category {value!r} is the name of {len(matches)} categories ({paths}): give its slug"
    return found, unclear


def _placeholders(categories: Iterable[Category]) -> dict[int, Found]:
    """{category id: Found} of the placeholder products earlier imports made."""
    skus = {placeholder_sku(c.slug): c.pk for c in categories}
    rows = list(Product.objects.filter(sku__in=list(skus)).values_list("pk", "sku", "name")) if skus else []
    only = _only_variants(pk for pk, _sku, _name in rows)
    return {skus[sku]: Found(pk, only.get(pk, (None,))[0], sku, name, {}) for pk, sku, name in rows}


def _give_slugs(items: list, model, fallback: str) -> None:
    """Free slugs (unique in the model) for the rows to create, made from their names."""
    longest = model._meta.get_field("slug").max_length - 8
    taken = set(model.objects.values_list("slug", flat=True))
    for item in items:
        base = item.slug or slugify(item.name)[:longest].strip("-") or fallback
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        item.slug = slug
        taken.add(slug)


def _give_skus(products: list[NewProduct]) -> None:
    """Placeholders take their category's SKU; a SKU some product or variant already has gets a suffix
    (its default variant takes the same SKU, and variants' SKUs are unique too)."""
    for product in products:
        product.sku = product.sku or placeholder_sku(product.category.slug)
    taken = set()
    for model in (Product, Variant):
        for chunk in _chunks([p.sku for p in products], LOOKUP_CHUNK):
            taken.update(model.objects.filter(sku__in=chunk).values_list("sku", flat=True))
    for product in products:
        base, n = product.sku, 1
        while product.sku in taken or (n > 1 and _sku_used(product.sku)):  # rare: one query per suffix tried
            n += 1
            product.sku = f"{base[:60]}-{n}"
        taken.add(product.sku)


def _sku_used(sku: str) -> bool:
    return Product.objects.filter(sku=sku).exists() or Variant.objects.filter(sku=sku).exists()


# --- Write ---------------------------------------------------------------------------------------------------


def _write(plan: Plan, say: Progress) -> list[Row]:
    """The new orders, with their lines and timelines, in one transaction: the rows written."""
    with transaction.atomic():
        # Again, inside the transaction: an import of the same file that committed meanwhile. (On
        # SQLite the transaction holds the write lock; elsewhere the unique key refuses a repeat.)
        done = _imported_keys(row.key for row in plan.rows)
        rows = [row for row in plan.rows if row.key not in done]
        if not rows:
            return rows
        _create_catalog(plan)
        tables = _Tables(settings.SHOP_CURRENCY)
        written = 0
        for batch in _chunks(rows, BATCH):
            _write_batch(plan.file, batch, tables)
            written += len(batch)
            if written % PROGRESS_EVERY < BATCH or written == len(rows):
                say(f"imported {written:,} of {len(rows):,} rows")
            reset_queries()  # with DEBUG on, Django keeps every query's SQL: thousands of large inserts
    if plan.products or plan.categories:
        catalog_cache.changed()
    return rows


def _create_catalog(plan: Plan) -> None:
    for new in plan.categories:  # parents first: "Imported" is made before the categories under it
        parent = new.parent.saved if isinstance(new.parent, NewCategory) else new.parent
        new.saved = Category(name=new.name[:100], slug=new.slug, parent=parent)
        new.saved.save()
    products = [
        Product(
            sku=new.sku, slug=new.slug, name=new.name, price=new.price, stock=0, is_active=False,
            created_at=new.created_at,
            category=new.category.saved if isinstance(new.category, NewCategory) else new.category,
        )
        for new in plan.products
    ]  # fmt: skip
    Product.objects.bulk_create(products, batch_size=LOOKUP_CHUNK)
    variants_create_defaults(product_ids=[product.pk for product in products])
    variants = dict(Variant.objects.filter(product__in=products).values_list("product_id", "pk"))
    for new, product in zip(plan.products, products, strict=True):
        new.pk, new.variant_pk = product.pk, variants[product.pk]


def _write_batch(file: str, rows: list[Row], tables: _Tables) -> None:
    numbers = _numbers([row.key for row in rows])
    tables.orders.insert(
        (numbers[row.key], row.email, row.amount, row.amount, f"Imported customer {row.customer_id}"[:150], row.key,
         row.paid_at, row.paid_at)
        for row in rows
    )  # fmt: skip
    ids = _order_ids([row.key for row in rows])
    tables.lines.insert((ids[row.key], *_line_of(row), row.quantity, _unit_price(row), row.amount) for row in rows)
    tables.events.insert(
        (ids[row.key], f"Imported from {file[:200]}, line {row.line}",
         {"import": {"file": file, "line": row.line, "key": row.key}}, row.paid_at)
        for row in rows
    )  # fmt: skip


class _Tables:
    """The three tables an import writes, and what every imported row of each has in common."""

    def __init__(self, currency: str):
        zero = Decimal(0)
        self.orders = _Table(
            Order,
            ["number", "email", "subtotal", "total", "shipping_name", "idempotency_key", "placed_at", "paid_at"],
            user=None, status=OrderStatus.DELIVERED, currency=currency, discount_total=zero, shipping_total=zero,
            amount_refunded=zero, shipping_method=ShippingMethod.STANDARD, shipping_line1=NO_ADDRESS,
            idempotency_scope=SCOPE, expires_at=None,
        )  # fmt: skip
        self.lines = _Table(
            OrderLine,
            ["order", "product", "variant", "sku", "name", "options", "quantity", "unit_price", "subtotal"],
            discount=zero,
        )
        self.events = _Table(
            OrderEvent, ["order", "message", "data", "created_at"],
            kind=EventKind.NOTE, status=OrderStatus.DELIVERED, actor=None,
        )  # fmt: skip


class _Table:
    """INSERTs of one model's rows with executemany, each value prepared by its field as bulk_create
    would: once for a value every row shares, once per distinct day or amount; text and integers go
    as they are. bulk_create, building the SQL of every model instance, took three times as long
    (26 s against 8 s for CDNOW's 69,659 orders; marketing/analytics/demo.py found the same).
    Columns not named take their field's default, auto_now ones the time now."""

    def __init__(self, model, columns: list[str], **shared):
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        self.fields = [meta.get_field(name) for name in columns]
        rest = [f for f in fields if f not in self.fields]
        now = timezone.now()
        values = [shared.pop(f.name) if f.name in shared else _default(f, now) for f in rest]
        if shared:
            raise TypeError(f"{model.__name__} has no field {', '.join(shared)}")
        self.shared = [f.get_db_prep_save(value, connection) for f, value in zip(rest, values, strict=True)]
        self.memo: list[dict] = [{} for _ in self.fields]
        quote = connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in [*rest, *self.fields])
        marks = ", ".join(["%s"] * (len(rest) + len(self.fields)))
        self.sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608 (the model's own names)

    def insert(self, rows: Iterable[tuple]) -> None:
        prepared = [[*self.shared, *map(self._prepare, self.fields, self.memo, row)] for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, prepared)

    @staticmethod
    def _prepare(field, memo: dict, value):
        if type(value) in (str, int):  # what every database takes as it is
            return value
        try:
            return memo[value]
        except KeyError:
            memo[value] = field.get_db_prep_save(value, connection)
            return memo[value]
        except TypeError:  # unhashable: JSON
            return field.get_db_prep_save(value, connection)


def _default(field, now: dt.datetime):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()


def _order_ids(keys: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(keys, LOOKUP_CHUNK):
        rows = Order.objects.filter(idempotency_scope=SCOPE, idempotency_key__in=chunk).exclude(idempotency_key="")
        ids.update(rows.order_by().values_list("idempotency_key", "id"))
    return ids


def _line_of(row: Row) -> tuple[int | None, int | None, str, str, dict[str, str]]:
    """(product id, variant id, SKU, name, options) of the row's order line."""
    ref = row.product_ref
    if isinstance(ref, NewProduct):
        return ref.pk, ref.variant_pk, ref.sku, ref.name, {}
    return tuple(ref) if ref is not None else (None, None, "", LINE_NAME, {})


def _unit_price(row: Row) -> Decimal:
    return quantize(row.amount / row.quantity, settings.SHOP_CURRENCY)


def _numbers(keys: list[str]) -> dict[str, str]:
    """An order number per key, drawn from the key (the same file gives the same numbers in any
    store) and free: a number taken by an order or another key draws again."""
    numbers: dict[str, str] = {}
    pending, attempt = keys, 0
    while pending:
        wanted = {key: _number(key, attempt) for key in pending}
        taken = set(numbers.values())
        for chunk in _chunks(list(wanted.values()), LOOKUP_CHUNK):
            taken.update(Order.objects.filter(number__in=chunk).values_list("number", flat=True))
        pending = []
        for key, number in wanted.items():
            if number in taken:
                pending.append(key)
            else:
                numbers[key] = number
                taken.add(number)
        attempt += 1
    return numbers


def _number(key: str, attempt: int) -> str:
    value = int(hashlib.sha256(f"{key}:{attempt}".encode()).hexdigest()[:16], 16)
    chars = []
    for _ in range(8):
        value, digit = divmod(value, len(NUMBER_ALPHABET))
        chars.append(NUMBER_ALPHABET[digit])
    return "".join(chars)
