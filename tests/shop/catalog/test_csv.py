import csv
import io
from decimal import Decimal
from unittest import mock

import pytest

from shop.catalog import csv_io
from shop.catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HEADER = "sku,name,slug,category,price,compare_at_price,stock,is_active,is_featured,description\n"


@pytest.fixture
def categories():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=clothing)
    return {"clothing": clothing, "dresses": dresses}


def as_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def run(text: str) -> csv_io.ImportResult:
    return csv_io.import_products(as_file(text))


def test_it_exports_a_header_and_one_row_per_product(categories):
    ProductFactory(
        sku="A-1",
        name="Linen Dress",
        slug="linen-dress",
        category=categories["dresses"],
        price=Decimal("49.00"),
        compare_at_price=Decimal("60.00"),
        stock=3,
        is_featured=True,
        description="Light, airy.",
    )
    ProductFactory(sku="A-0", category=categories["clothing"], price=Decimal("5.50"), is_active=False)
    out = io.StringIO()

    count = csv_io.export_products(Product.objects.all(), out)

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert count == 2
    assert rows[0] == csv_io.COLUMNS
    assert [r[0] for r in rows[1:]] == ["A-0", "A-1"]  # ordered by SKU
    assert rows[1][4:9] == ["5.50", "", "10", "0", "0"]
    assert rows[2] == [
        "A-1",
        "Linen Dress",
        "linen-dress",
        "dresses",
        "49.00",
        "60.00",
        "3",
        "1",
        "1",
        "Light, airy.",
        "",
        *[""] * 6,  # product_type and the variant columns: empty for a product with one variant and no type
    ]


def test_it_round_trips_an_export_through_an_import(categories):
    originals = [
        ProductFactory(
            sku="RT-1",
            category=categories["dresses"],
            price=Decimal("49.99"),
            compare_at_price=Decimal("59.99"),
            description='Comma, "quotes"\nand a new line',
        ),
        ProductFactory(sku="RT-2", category=categories["clothing"], stock=0, is_active=False, is_featured=True),
    ]
    out = io.StringIO()
    csv_io.export_products(Product.objects.all(), out)
    before = {p.sku: p for p in Product.objects.all()}
    # Change the database, then restore it from the export.
    Product.objects.update(price=Decimal("1.00"), compare_at_price=None, stock=99, is_active=True, description="")

    result = run(out.getvalue())

    assert result.ok, result.errors
    assert (result.created, result.updated) == (0, 2)
    for original in originals:
        original.refresh_from_db()
        expected = before[original.sku]
        for name in ("name", "slug", "category_id", "price", "compare_at_price", "stock", "is_active", "is_featured"):
            assert getattr(original, name) == getattr(expected, name), name
        assert original.description == expected.description


def test_it_creates_new_products_and_updates_existing_ones_by_sku(categories):
    existing = ProductFactory(sku="KEEP-1", name="Old name", slug="old-slug", price=Decimal("3.00"))
    text = HEADER + (
        "KEEP-1,New name,,clothing,4.50,,7,,,\nNEW-1,Silk Dress,,clothing/dresses,120.00,150.00,2,yes,true,Silky\n"
    )

    result = run(text)

    assert result.ok, result.errors
    assert (result.created, result.updated) == (1, 1)
    existing.refresh_from_db()
    assert existing.name == "New name"
    assert existing.slug == "old-slug"  # an empty slug keeps the current one
    assert existing.price == Decimal("4.50")
    assert existing.stock == 7
    new = Product.objects.get(sku="NEW-1")
    assert new.category == categories["dresses"]
    assert new.compare_at_price == Decimal("150.00")
    assert new.slug == "silk-dress-new-1"
    assert new.is_active and new.is_featured
    assert new.description == "Silky"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("yes", True), ("0", False), ("false", False), ("no", False)],
)
def test_it_reads_booleans(categories, value, expected):
    result = run(HEADER + f"B-1,Bool,,clothing,1.00,,1,{value},{value},\n")

    assert result.ok, result.errors
    product = Product.objects.get(sku="B-1")
    assert product.is_active is expected
    assert product.is_featured is expected


def test_it_makes_an_empty_active_flag_true_and_an_empty_featured_flag_false(categories):
    result = run(HEADER + "B-2,Defaults,,clothing,1.00,,1,,,\n")

    assert result.ok, result.errors
    product = Product.objects.get(sku="B-2")
    assert product.is_active is True
    assert product.is_featured is False


def test_it_rejects_an_unknown_boolean(categories):
    result = run(HEADER + "B-3,Bad bool,,clothing,1.00,,1,maybe,,\n")

    assert not result.ok
    assert [(row, column) for row, column, _message in result.errors] == [(2, "is_active")]
    assert not Product.objects.exists()


def test_it_reports_a_duplicate_sku_in_the_file_and_imports_nothing(categories):
    text = HEADER + "D-1,First,,clothing,1.00,,1,,,\nD-2,Other,,clothing,1.00,,1,,,\nD-1,Again,,clothing,2.00,,1,,,\n"

    result = run(text)

    assert not result.ok
    assert len(result.errors) == 1
    row, column, message = result.errors[0]
    assert (row, column) == (4, "sku")
    assert "row 2" in message
    assert not Product.objects.exists()


def test_it_reports_an_unknown_category(categories):
    result = run(HEADER + "C-1,Thing,,no-such-category,1.00,,1,,,\n")

    assert not result.ok
    row, column, message = result.errors[0]
    assert (row, column) == (2, "category")
    assert "no-such-category" in message
    assert not Product.objects.exists()


def test_it_finds_categories_by_slug_or_by_path(categories):
    result = run(HEADER + "P-1,By slug,,dresses,1.00,,1,,,\nP-2,By path,,/clothing/dresses/,1.00,,1,,,\n")

    assert result.ok, result.errors
    assert set(Product.objects.values_list("category__slug", flat=True)) == {"dresses"}


def test_it_refuses_a_slug_owned_by_another_product(categories):
    owner = ProductFactory(sku="OWNER", slug="taken-slug", name="Owner")

    result = run(HEADER + "THIEF,Thief,taken-slug,clothing,1.00,,1,,,\n")

    assert not result.ok
    row, column, message = result.errors[0]
    assert (row, column) == (2, "slug")
    assert "OWNER" in message
    assert not Product.objects.filter(sku="THIEF").exists()
    owner.refresh_from_db()
    assert owner.slug == "taken-slug"


def test_it_refuses_the_same_new_slug_twice_in_one_file(categories):
    text = HEADER + "S-1,One,same-slug,clothing,1.00,,1,,,\nS-2,Two,same-slug,clothing,1.00,,1,,,\n"

    result = run(text)

    assert [(row, column) for row, column, _message in result.errors] == [(3, "slug")]
    assert not Product.objects.exists()


def test_it_lets_a_product_keep_its_own_slug(categories):
    product = ProductFactory(sku="SELF", slug="my-slug", price=Decimal("1.00"))

    result = run(HEADER + "SELF,Renamed,my-slug,clothing,2.00,,1,,,\n")

    assert result.ok, result.errors
    product.refresh_from_db()
    assert (product.name, product.price) == ("Renamed", Decimal("2.00"))


@pytest.mark.parametrize("compare_at", ["10.00", "9.00"])
def test_it_refuses_a_compare_at_price_not_above_the_price(categories, compare_at):
    result = run(HEADER + f"CA-1,Sale,,clothing,10.00,{compare_at},1,,,\n")

    assert [(row, column) for row, column, _message in result.errors] == [(2, "compare_at_price")]
    assert not Product.objects.exists()


def test_it_imports_nothing_when_one_row_of_many_is_bad(categories):
    existing = ProductFactory(sku="E-1", price=Decimal("5.00"))
    text = HEADER + (
        "E-1,Changed,,clothing,6.00,,1,,,\nN-1,Fine,,clothing,1.00,,1,,,\nN-2,Broken,,clothing,abc,,-3,,,\n"
    )

    result = run(text)

    assert not result.ok
    assert {(row, column) for row, column, _message in result.errors} == {(4, "price"), (4, "stock")}
    assert (result.created, result.updated) == (0, 0)
    existing.refresh_from_db()
    assert existing.price == Decimal("5.00")
    assert not Product.objects.filter(sku="N-1").exists()


def test_it_reports_missing_and_unknown_columns(categories):
    result = run("sku,name,colour\nX-1,Thing,red\n")

    assert not result.ok
    assert len(result.errors) == 1
    row, column, message = result.errors[0]
    assert row == 1
    for missing in ("category", "price", "stock"):
        assert missing in message
    assert "colour" in message
    assert not Product.objects.exists()


def test_it_accepts_a_byte_order_mark_and_padded_headers(categories):
    text = "\ufeff sku , name ,category,price,stock\nBOM-1,With BOM,clothing,1.00,4\n"

    result = run(text)

    assert result.ok, result.errors
    assert Product.objects.get(sku="BOM-1").stock == 4


def test_it_reports_a_file_that_is_not_utf8(categories):
    result = csv_io.import_products(io.BytesIO(HEADER.encode() + "X-1,Caf\xe9,,clothing,1,,1,,,\n".encode("latin-1")))

    assert not result.ok
    assert not Product.objects.exists()


# Numbers the database cannot store, on any database


def test_it_reports_a_stock_too_large_for_any_database_instead_of_failing(categories):
    result = run(HEADER + "BIG-1,Big,,clothing,1.00,,100000000000000000000,,,\n")

    assert [(row, column) for row, column, _message in result.errors] == [(2, "stock")]
    assert "2147483647" in result.errors[0][2]
    assert not Product.objects.exists()


def test_it_accepts_on_sqlite_only_the_integers_postgresql_stores(categories):
    # SQLite would store 2147483648; PostgreSQL's integer column would refuse it.
    refused = run(HEADER + "INT-1,Too many,,clothing,1.00,,2147483648,,,\n")
    accepted = run(HEADER + "INT-2,Most,,clothing,1.00,,2147483647,,,\n")

    assert [(row, column) for row, column, _message in refused.errors] == [(2, "stock")]
    assert accepted.ok, accepted.errors
    assert Product.objects.get().stock == 2147483647


# Slugs


def test_a_generated_slug_never_takes_a_slug_a_later_row_asks_for(categories):
    text = HEADER + (
        "G-1,Silk Dress,,clothing,1.00,,1,,,\n"  # would be given silk-dress-g-1
        "G-2,Other,silk-dress-g-1,clothing,1.00,,1,,,\n"
    )

    result = run(text)

    assert result.ok, result.errors
    assert Product.objects.get(sku="G-2").slug == "silk-dress-g-1"
    assert Product.objects.get(sku="G-1").slug == "silk-dress-g-1-2"


def test_it_reports_a_new_slug_asked_for_twice_with_the_first_row(categories):
    text = HEADER + "S-1,One,same-slug,clothing,1.00,,1,,,\nS-2,Two,same-slug,clothing,1.00,,1,,,\n"

    result = run(text)

    assert result.errors == [(3, "slug", "Slug same-slug is also on row 2.")]


# Row numbers are the file's line numbers


def test_a_row_that_is_not_utf8_mid_file_is_reported_with_its_line(categories):
    data = (HEADER + "U-1,Fine,,clothing,1.00,,1,,,\n").encode() + "U-2,Caf\xe9,,clothing,1,,1,,,\n".encode("latin-1")

    result = csv_io.import_products(io.BytesIO(data))

    assert len(result.errors) == 1
    row, column, message = result.errors[0]
    assert (row, column) == (3, "")
    assert "Row 3 is not UTF-8" in message
    assert "CSV UTF-8" in message
    assert not Product.objects.exists()


def test_a_row_that_breaks_the_csv_reader_mid_file_is_reported_with_its_line(categories):
    text = HEADER + "L-1,Fine,,clothing,1.00,,1,,,\n" + "L-2,Long,,clothing,1.00,,1,,," + "x" * 200_000 + "\n"

    result = run(text)

    assert [(row, column) for row, column, _message in result.errors] == [(3, "")]
    assert "cannot be read as CSV" in result.errors[0][2]
    assert not Product.objects.exists()


def test_rows_are_numbered_by_line_even_after_a_value_on_several_lines_and_a_blank_line(categories):
    text = HEADER + ('M-1,Multi,,clothing,1.00,,1,,,"first line\nsecond line"\n\nM-2,Bad,,clothing,abc,,1,,,\n')

    result = run(text)

    assert [(row, column) for row, column, _message in result.errors] == [(5, "price")]


# Hostile files: each a clear message, nothing imported, never an exception

HOSTILE = {
    "latin-1": ((HEADER + "X-1,Café,,clothing,1,,1,,,\n").encode("latin-1"), (2, ""), "not UTF-8"),
    "utf-16": ((HEADER + "X-1,Thing,,clothing,1,,1,,,\n").encode("utf-16"), (1, ""), "UTF-16"),
    "empty": (b"", (1, ""), "The file is empty"),
    "blank lines only": (b"\n\r\n  \n", (1, ""), "The file is empty"),
    "header only": (HEADER.encode(), (1, ""), "no products"),
    "no header": (b"X-1,Thing,,clothing,1,,1,,,\n", (1, ""), "The first row must name the columns"),
    "column twice": (b"sku,name,category,price,stock,price\nX-1,T,clothing,1,1,2\n", (1, ""), "named twice: price"),
    "long name": ((HEADER + f"X-1,{'n' * 201},,clothing,1,,1,,,\n").encode(), (2, "name"), "at most 200"),
    "NUL byte": ((HEADER + "X-1,Nu\x00ll,,clothing,1,,1,,,\n").encode(), (2, "name"), "Null characters"),
    "negative price": ((HEADER + "X-1,T,,clothing,-1.00,,1,,,\n").encode(), (2, "price"), "greater than or equal"),
    "5 decimals": ((HEADER + "X-1,T,,clothing,1.23456,,1,,,\n").encode(), (2, "price"), "2 decimal places"),
    "NaN": ((HEADER + "X-1,T,,clothing,NaN,,1,,,\n").encode(), (2, "price"), "Enter a number"),
    "Infinity": ((HEADER + "X-1,T,,clothing,Infinity,,1,,,\n").encode(), (2, "price"), "Enter a number"),
    "huge price": ((HEADER + "X-1,T,,clothing,1e400,,1,,,\n").encode(), (2, "price"), "digits"),
    "stock in exponent": ((HEADER + "X-1,T,,clothing,1,,1e3,,,\n").encode(), (2, "stock"), "whole number"),
    "stock of 5000 digits": ((HEADER + f"X-1,T,,clothing,1,,{'9' * 5000},,,\n").encode(), (2, "stock"), ""),
    "negative stock": ((HEADER + "X-1,T,,clothing,1,,-1,,,\n").encode(), (2, "stock"), "greater than or equal"),
    "too many values": ((HEADER + "X-1,T,,clothing,1,,1,,,,extra\n").encode(), (2, ""), "double quotes"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_gets_a_clear_message_and_imports_nothing(categories, case):
    data, where, fragment = HOSTILE[case]

    result = csv_io.import_products(io.BytesIO(data))

    assert not result.ok
    assert (result.errors[0][0], result.errors[0][1]) == where
    assert fragment in result.errors[0][2]
    assert not Product.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(categories, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_BYTES", 1024)
    big = HEADER + "X-1,T,,clothing,1,,1,,,\n" * 100

    result = run(big)

    assert result.errors == [(1, "", "The file is larger than 1.0\xa0KB. Split it into smaller files.")]
    assert not Product.objects.exists()


def test_a_file_with_too_many_rows_is_refused_at_the_first_row_too_many(categories, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_ROWS", 3)

    result = run(HEADER + "X-1,T,,clothing,bad,,1,,,\n" + "".join(f"X-{i},T,,clothing,1,,1,,,\n" for i in range(2, 6)))

    assert result.errors[-1] == (5, "", "Too many rows: import at most 3 at a time.")
    assert not Product.objects.exists()


def test_formula_looking_text_is_imported_as_plain_text(categories):
    result = run(HEADER + 'F-1,=HYPERLINK("http://evil"),,clothing,1.00,,1,,,@SUM(A1)\n')

    assert result.ok, result.errors
    product = Product.objects.get()
    assert product.name == '=HYPERLINK("http://evil")'
    assert product.description == "@SUM(A1)"


# Export: no cell a spreadsheet would run


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_the_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(categories, start):
    ProductFactory(sku=f"{start}SKU", name=f"{start}1+1", category=categories["clothing"], description=f"{start}cmd")
    out = io.StringIO()

    csv_io.export_products(Product.objects.all(), out)

    row = list(csv.reader(io.StringIO(out.getvalue())))[1]
    assert (row[0], row[1], row[9]) == (f"'{start}SKU", f"'{start}1+1", f"'{start}cmd")


def test_an_export_with_formula_like_text_imports_back_unchanged(categories):
    texts = {"RT-A": "=1+1", "RT-B": "-50% off", "RT-C": "'=already quoted", "RT-D": "'plain apostrophe", "RT-E": "@x"}
    for sku, text in texts.items():
        ProductFactory(sku=sku, name=text, description=text, category=categories["clothing"])
    ProductFactory(sku="-RT-F", slug="-dash-slug", category=categories["clothing"])
    out = io.StringIO()
    csv_io.export_products(Product.objects.all(), out)
    Product.objects.update(name="changed", description="changed")

    result = run(out.getvalue())

    assert result.ok, result.errors
    assert (result.created, result.updated) == (0, 6)
    for sku, text in texts.items():
        product = Product.objects.get(sku=sku)
        assert (product.name, product.description) == (text, text)
    assert Product.objects.get(sku="-RT-F").slug == "-dash-slug"


# Writing in batches


def rows(n: int, start: int = 1) -> str:
    return "".join(f"B-{i},Batch {i},,clothing,{i}.00,,{i},,,\n" for i in range(start, start + n))


def test_it_writes_in_batches_of_short_transactions(categories, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    ProductFactory(sku="B-2", category=categories["clothing"], price=Decimal("99.00"))
    progress = []

    result = csv_io.import_products(
        as_file(HEADER + rows(7)), batch_size=3, progress=lambda done, total: progress.append((done, total))
    )

    assert result.ok, result.errors
    assert (result.created, result.updated, result.batches, result.written_through) == (6, 1, 3, 8)
    assert progress == [(3, 7), (6, 7), (7, 7)]
    assert Product.objects.get(sku="B-2").price == Decimal("2.00")
    assert Product.objects.get(sku="B-7").slug == "batch-7-b-7"


def test_checking_the_file_writes_nothing(categories):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = csv_io.check_file(as_file(HEADER + rows(50)))

    assert result.ok, result.errors
    assert len(result.products) == 50
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    assert len(queries.captured_queries) == 3  # categories, every product's slug and SKU, every variant's SKU
    assert not Product.objects.exists()


def test_the_catalog_cache_is_bumped_once_per_import_not_per_row(categories, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    existing = ProductFactory(sku="B-1", category=categories["clothing"])
    with mock.patch("shop.catalog.cache.changed") as changed:
        result = csv_io.import_products(as_file(HEADER + rows(9)), batch_size=4)

    assert result.ok, result.errors
    assert changed.call_count == 1
    existing.refresh_from_db()
    assert existing.name == "Batch 1"


def test_a_batch_that_fails_while_writing_is_reported_with_the_rows_that_were_written(categories, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    result = csv_io.check_file(as_file(HEADER + rows(6)))
    # Between the check and the write, someone takes the slug planned for the fourth row (line 5).
    ProductFactory(sku="SOMEONE", slug=result.products[3].slug, category=categories["clothing"])

    csv_io.write_rows(result, batch_size=2)

    assert (result.created, result.updated, result.written_through) == (2, 0, 3)
    assert len(result.errors) == 1
    row, column, message = result.errors[0]
    assert (row, column) == (4, "")
    assert "Rows up to 3 were imported (2 created, 0 updated); row 4 and the rows after it were not." in message
    assert set(Product.objects.filter(sku__startswith="B-").values_list("sku", flat=True)) == {"B-1", "B-2"}

    again = run(HEADER + rows(6))  # the same file again finishes the job

    assert again.ok, again.errors
    assert (again.created, again.updated) == (4, 2)
    assert Product.objects.filter(sku__startswith="B-").count() == 6
