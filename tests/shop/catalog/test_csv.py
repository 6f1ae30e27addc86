import csv
import io
from decimal import Decimal

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
    assert rows[2] == ["A-1", "Linen Dress", "linen-dress", "dresses", "49.00", "60.00", "3", "1", "1", "Light, airy."]


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
