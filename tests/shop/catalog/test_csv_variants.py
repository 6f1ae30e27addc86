"""The product CSV with variants (docs/catalog-csv.md): one row per variant, options and attributes by slug,
checked whole before anything is written, written in bulk with each product's stock the sum of its variants'."""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.text import slugify

from shop.catalog import csv_io
from shop.catalog.models import (
    Attribute,
    AttributeValue,
    Product,
    ProductAttributeValue,
    ProductType,
    Variant,
    VariantOption,
)
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

DOC = Path(settings.BASE_DIR) / "docs" / "catalog-csv.md"
COLUMNS = [*csv_io.COLUMNS, "option:colour", "option:size", "attribute:material"]


@pytest.fixture
def store():
    """Categories, attributes, values and types as the demo has them (clothes and shoes)."""
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    categories = {
        "t-shirts": CategoryFactory(name="T-shirts", slug="t-shirts", parent=clothing),
        "shoes": CategoryFactory(name="Shoes", slug="shoes"),
        "home": CategoryFactory(name="Home", slug="home"),
    }
    attributes, values = {}, {}
    for name, slug, names in [
        ("Size", "size", ["S", "M", "L"]),
        ("Colour", "colour", ["Navy", "White", "Red"]),
        ("EU size", "eu-size", ["40", "41", "42", "43"]),
        ("Material", "material", ["Cotton", "Elastane", "Leather"]),
    ]:
        attribute = attributes[slug] = Attribute.objects.create(name=name, slug=slug)
        for position, value in enumerate(names):
            values[slug, value] = AttributeValue.objects.create(
                attribute=attribute, name=value, slug=slugify(value), position=position
            )
    types = {}
    for name, slug, variant_attributes, product_attributes in [
        ("Clothing", "clothing", ["colour", "size"], ["material"]),
        ("Shoes", "shoes", ["eu-size", "colour"], ["material"]),
        ("Bags", "bags", ["colour"], []),
    ]:
        kind = types[slug] = ProductType.objects.create(name=name, slug=slug)
        kind.variant_attributes.set([attributes[a] for a in variant_attributes])
        kind.product_attributes.set([attributes[a] for a in product_attributes])
    return SimpleNamespace(categories=categories, attributes=attributes, values=values, types=types)


def make(store, sku, *, kind=None, category="t-shirts", variants=(), materials=(), **fields):
    """A product as the admin makes it: its default variant, or these variants (sku, options, stock, extra)."""
    product = ProductFactory(
        sku=sku,
        name=fields.pop("name", f"Product {sku}"),
        slug=fields.pop("slug", slugify(sku)),
        category=store.categories[category],
        product_type=store.types[kind] if kind else None,
        description=fields.pop("description", ""),
        **fields,
    )
    if variants:
        product.variants.all().delete()
    for position, (variant_sku, options, stock, *extra) in enumerate(variants):
        variant = Variant.objects.create(
            product=product, sku=variant_sku, stock=stock, position=position, **dict(extra)
        )
        for attribute, value in options.items():
            VariantOption.objects.create(
                variant=variant, attribute=store.attributes[attribute], value=store.values[attribute, value]
            )
    for material in materials:
        ProductAttributeValue.objects.create(product=product, value=store.values["material", material])
    if variants:
        total = sum(v[2] for v in variants if dict(v[3:]).get("is_active", True))
        Product.objects.filter(pk=product.pk).update(stock=total)
    return product


def tee(store, sku="TEE", **fields):
    sizes = {"S": Decimal("0.180"), "M": Decimal("0.190"), "L": Decimal("0.200")}
    variants = []
    for colour, stocks in (("Navy", (4, 6, 0)), ("White", (3, 5, 2))):
        for (size, weight), stock in zip(sizes.items(), stocks, strict=True):
            extra = {"weight": weight} | ({"price": Decimal("27.00")} if size == "L" else {})
            variants.append((f"{sku}-{colour.upper()}-{size}", {"colour": colour, "size": size}, stock, *extra.items()))
    return make(store, sku, kind="clothing", variants=variants, materials=["Cotton"], price=Decimal("25.00"), **fields)


@pytest.fixture
def catalog(store):
    """A demo-like catalog: clothes in colours and sizes, shoes in EU sizes, a bag of one colour, a mug."""
    tee(store, name="Organic Tee", compare_at_price=Decimal("30.00"), brand="Halcyon", is_featured=True)
    shoes = [
        (f"RUN-{colour[:3].upper()}-{size}", {"eu-size": size, "colour": colour}, stock)
        for colour, stocks in (("Navy", (2, 0, 5)), ("Red", (1, 3, 4)))
        for size, stock in zip(("40", "41", "42"), stocks, strict=True)
    ]
    shoes[4] = (*shoes[4], ("is_active", False))  # Red 41: not sold
    shoes[0] = (*shoes[0], ("compare_at_price", Decimal("140.00")), ("price", Decimal("99.00")))
    make(store, "RUN", kind="shoes", category="shoes", variants=shoes, materials=["Leather", "Cotton"], price=120)
    make(store, "TOTE", kind="bags", category="home", variants=[("TOTE", {"colour": "Navy"}, 7)], price=15)
    make(store, "MUG-1", category="home", price=Decimal("12.00"), stock=40, description='=1+1, "quoted"\nnew line')


def export(queryset=None) -> str:
    out = io.StringIO()
    csv_io.export_products(Product.objects.all() if queryset is None else queryset, out)
    return out.getvalue()


def as_file(*rows: dict, columns=COLUMNS) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return io.BytesIO(out.getvalue().encode())


def tee_rows(sku="TEE", **first) -> list[dict]:
    """The T-shirt of the documentation: its own columns on the first of its six rows."""
    rows = [
        {"sku": sku, "variant_sku": f"{sku}-{colour.upper()}-{size}", "option:colour": colour, "option:size": size}
        | {"stock": stock, "variant_price": "27.00" if size == "L" else ""}
        for colour, stocks in (("Navy", (4, 6, 0)), ("White", (3, 5, 2)))
        for size, stock in zip("SML", stocks, strict=True)
    ]
    rows[0] |= {
        "name": "Organic Tee",
        "category": "t-shirts",
        "price": "25.00",
        "product_type": "clothing",
        "attribute:material": "Cotton",
    } | first
    return rows


def run(*rows: dict, columns=COLUMNS) -> csv_io.ImportResult:
    return csv_io.import_products(as_file(*rows, columns=columns))


def where(result) -> list[tuple[int, str]]:
    return [(row, column) for row, column, _message in result.errors]


def snapshot() -> dict:
    """Everything the import writes, as it is (without the time of the last change)."""
    fields = ["sku", "name", "slug", "category_id", "price", "compare_at_price", "stock", "is_active", "is_featured"]
    fields += ["brand", "description", "product_type_id"]
    products = {p["sku"]: p for p in Product.objects.values(*fields)}
    variants = {v["sku"]: v for v in Variant.objects.values()}
    options = sorted(VariantOption.objects.values_list("variant__sku", "attribute_id", "value_id"))
    described = sorted(ProductAttributeValue.objects.values_list("product__sku", "value_id"))
    return {"products": products, "variants": variants, "options": options, "described": described}


def assert_stock_is_the_sum_of_active_variants():
    for product in Product.objects.all():
        active = product.variants.filter(is_active=True)
        assert product.stock == sum(active.values_list("stock", flat=True)), product.sku
        assert product.variants.exists(), product.sku


# The format as documented


def documented_example() -> str:
    text = DOC.read_text()
    block = text[text.index("<!-- example: catalog-csv-variants -->") :]
    return re.search(r"```csv\n(.*?)```", block, re.S).group(1)


def test_the_documented_example_imports_and_its_export_is_the_same_text(store):
    example = documented_example()

    result = csv_io.import_products(io.BytesIO(example.encode()))

    assert result.ok, result.errors
    assert (result.created, result.variants_created) == (2, 7)
    tee = Product.objects.get(sku="TEE")
    assert (tee.name, tee.price, tee.stock, tee.product_type.slug) == ("Organic Tee", Decimal("25.00"), 20, "clothing")
    assert [(v.sku, v.stock, v.price) for v in tee.variants.order_by("position")] == [
        ("TEE-NAVY-S", 4, None),
        ("TEE-NAVY-M", 6, None),
        ("TEE-NAVY-L", 0, Decimal("27.00")),
        ("TEE-WHITE-S", 3, None),
        ("TEE-WHITE-M", 5, None),
        ("TEE-WHITE-L", 2, Decimal("27.00")),
    ]
    assert tee.variants.get(sku="TEE-WHITE-M").options_snapshot() == {"Colour": "White", "Size": "M"}
    assert [str(v.value) for v in tee.attribute_values.all()] == ["Material: Cotton"]
    mug = Product.objects.get(sku="MUG-1")
    assert [(v.sku, v.stock) for v in mug.variants.all()] == [("MUG-1", 40)]
    assert export().replace("\r\n", "\n") == example


def test_a_single_variant_product_without_a_type_exports_as_before_variants_with_empty_columns_after(store):
    make(store, "MUG-1", category="home", name="Mug", slug="mug", price=Decimal("12.00"), stock=40)

    rows = list(csv.reader(io.StringIO(export())))

    assert rows[0] == csv_io.COLUMNS
    assert rows[1] == ["MUG-1", "Mug", "mug", "home", "12.00", "", "40", "1", "0", "", "", *[""] * 6]


# Round trips


def test_a_catalog_with_variants_round_trips_through_an_empty_database_byte_for_byte(store, catalog):
    first = export()
    Product.objects.all().delete()  # categories, types, attributes and values stay: the file names them

    result = csv_io.import_products(io.BytesIO(first.encode()))

    assert result.ok, result.errors
    assert (result.created, result.updated, result.variants_created) == (4, 0, 6 + 6 + 1 + 1)
    assert export() == first
    assert_stock_is_the_sum_of_active_variants()
    assert Product.objects.get(sku="RUN").stock == 2 + 0 + 5 + 1 + 4  # Red 41 is not sold
    assert Product.objects.get(sku="MUG-1").description == '=1+1, "quoted"\nnew line'


def test_importing_an_export_back_changes_nothing(store, catalog):
    before = snapshot()
    text = export()

    result = csv_io.import_products(io.BytesIO(text.encode()))

    assert result.ok, result.errors
    assert (result.created, result.updated, result.variants_created, result.variants_updated) == (0, 4, 0, 14)
    assert snapshot() == before
    assert export() == text


def test_the_export_writes_a_products_columns_on_its_first_row_only_and_its_variants_in_order(store, catalog):
    rows = list(csv.DictReader(io.StringIO(export(Product.objects.filter(sku="RUN")))))

    assert list(rows[0])[-3:] == ["option:colour", "option:eu-size", "attribute:material"]
    assert [r["variant_sku"] for r in rows] == [
        "RUN-NAV-40",
        "RUN-NAV-41",
        "RUN-NAV-42",
        "RUN-RED-40",
        "RUN-RED-41",
        "RUN-RED-42",
    ]
    assert {r["sku"] for r in rows} == {"RUN"}
    assert (rows[0]["name"], rows[0]["product_type"], rows[0]["attribute:material"]) == (
        "Product RUN",
        "shoes",
        "Cotton|Leather",
    )
    assert all(r["name"] == r["category"] == r["product_type"] == "" for r in rows[1:])
    assert (rows[0]["variant_price"], rows[0]["variant_compare_at_price"]) == ("99.00", "140.00")
    assert [r["variant_is_active"] for r in rows] == ["", "", "", "", "0", ""]
    assert [(r["option:colour"], r["option:eu-size"]) for r in rows[:2]] == [("Navy", "40"), ("Navy", "41")]


# Files made before variants


def test_products_created_from_a_file_made_before_variants_get_their_default_variant(store):
    header = csv_io.COLUMNS[:11]

    result = run({"sku": "OLD-1", "name": "Lamp", "category": "home", "price": "30.00", "stock": 6}, columns=header)

    assert result.ok, result.errors
    product = Product.objects.get(sku="OLD-1")
    assert [(v.sku, v.stock, v.price, v.is_active) for v in product.variants.all()] == [("OLD-1", 6, None, True)]
    assert product.stock == 6


def test_a_row_made_before_variants_sets_the_stock_of_a_single_variant_product_and_of_its_variant(store):
    lamp = make(store, "LAMP", category="home", stock=3)
    Variant.objects.filter(product=lamp).update(weight=Decimal("1.500"))

    result = run(
        {"sku": "LAMP", "name": "Lamp", "category": "home", "price": "30.00", "stock": 9}, columns=csv_io.COLUMNS[:11]
    )

    assert result.ok, result.errors
    assert (result.variants_created, result.variants_updated) == (0, 1)
    lamp.refresh_from_db()
    assert lamp.stock == 9
    assert [(v.sku, v.stock, v.weight) for v in lamp.variants.all()] == [("LAMP", 9, Decimal("1.500"))]  # weight kept


# Updating variants


def test_it_updates_variants_by_sku_adds_new_ones_and_leaves_the_others_alone(store, catalog):
    rows = [
        {"sku": "TEE", "name": "Organic Tee", "category": "t-shirts", "price": "26.00", "product_type": "clothing"}
        | {"variant_sku": "TEE-NAVY-S", "option:colour": "Navy", "option:size": "S", "stock": 10},
        {"sku": "TEE", "variant_sku": "TEE-RED-M", "option:colour": "Red", "option:size": "M", "stock": 8},
    ]

    result = run(*rows, columns=[c for c in COLUMNS if c != "attribute:material"])

    assert result.ok, result.errors
    assert (result.updated, result.variants_created, result.variants_updated) == (1, 1, 1)
    tee = Product.objects.get(sku="TEE")
    assert tee.price == Decimal("26.00")
    stocks = dict(tee.variants.values_list("sku", "stock"))
    assert stocks == {
        "TEE-NAVY-S": 10,
        "TEE-NAVY-M": 6,
        "TEE-NAVY-L": 0,
        "TEE-WHITE-S": 3,
        "TEE-WHITE-M": 5,
        "TEE-WHITE-L": 2,
        "TEE-RED-M": 8,
    }
    assert tee.stock == sum(stocks.values())
    new = tee.variants.get(sku="TEE-RED-M")
    assert new.position == 6  # after the existing ones
    assert new.options_snapshot() == {"Colour": "Red", "Size": "M"}
    assert [str(v.value) for v in tee.attribute_values.all()] == ["Material: Cotton"]  # no column: kept
    assert tee.variants.get(sku="TEE-NAVY-L").price == Decimal("27.00")  # not in the file: left alone


def test_an_empty_variant_price_is_the_products_price_and_an_inactive_variant_does_not_count(store):
    rows = tee_rows()
    rows[1] |= {"variant_price": "", "variant_is_active": "0"}

    result = run(*rows)

    assert result.ok, result.errors
    tee = Product.objects.get(sku="TEE")
    assert tee.stock == 20 - 6
    navy_m = tee.variants.get(sku="TEE-NAVY-M")
    assert (navy_m.price, navy_m.unit_price, navy_m.is_active) == (None, Decimal("25.00"), False)


def test_a_file_without_option_columns_keeps_the_variants_options(store, catalog):
    columns = ["sku", "name", "category", "price", "stock", "variant_sku"]
    rows = [
        {"sku": "TEE", "name": "Tee", "category": "t-shirts", "price": "25.00", "variant_sku": "TEE-NAVY-S", "stock": 1}
    ]
    rows += [{"sku": "TEE", "variant_sku": "TEE-WHITE-L", "stock": 1}]

    result = run(*rows, columns=columns)

    assert result.ok, result.errors
    tee = Product.objects.get(sku="TEE")
    assert tee.product_type.slug == "clothing"
    assert tee.variants.get(sku="TEE-WHITE-L").options_snapshot() == {"Colour": "White", "Size": "L"}
    assert tee.stock == 1 + 6 + 0 + 3 + 5 + 1


def test_following_rows_may_repeat_the_products_columns(store):
    rows = tee_rows()
    for row in rows[1:]:
        row |= {"name": "Organic Tee", "category": "clothing/t-shirts", "price": "25.0", "product_type": "CLOTHING"}
        row |= {"attribute:material": "cotton"}

    result = run(*rows)

    assert result.ok, result.errors
    assert Product.objects.get(sku="TEE").variants.count() == 6


def test_a_product_with_one_row_becomes_a_product_with_variants_by_naming_its_sku(store):
    make(store, "TEE", stock=5)
    rows = tee_rows()
    rows[0]["variant_sku"] = "TEE"  # the default variant becomes Navy S

    result = run(*rows)

    assert result.ok, result.errors
    assert (result.variants_created, result.variants_updated) == (5, 1)
    tee = Product.objects.get(sku="TEE")
    assert tee.variants.get(sku="TEE").options_snapshot() == {"Colour": "Navy", "Size": "S"}
    assert tee.stock == 20


def test_values_are_found_by_name_in_any_case_or_by_slug_and_product_attributes_take_several(store):
    AttributeValue.objects.create(attribute=store.attributes["colour"], name="Sky Blue", slug="sky")
    rows = tee_rows()
    rows[0] |= {"option:colour": "NAVY", "attribute:material": "Cotton | elastane"}
    rows[3]["option:colour"] = "sky"

    result = run(*rows)

    assert result.ok, result.errors
    tee = Product.objects.get(sku="TEE")
    assert tee.variants.get(sku="TEE-NAVY-S").options_snapshot()["Colour"] == "Navy"
    assert tee.variants.get(sku="TEE-WHITE-S").options_snapshot()["Colour"] == "Sky Blue"
    assert sorted(str(v.value) for v in tee.attribute_values.all()) == ["Material: Cotton", "Material: Elastane"]


def test_a_value_name_two_values_share_needs_the_slug_and_the_export_writes_it(store):
    AttributeValue.objects.create(attribute=store.attributes["size"], name="M", slug="m-long")  # position 0: first
    rows = tee_rows()
    rows[1]["option:size"] = "M"

    refused = run(*rows)

    assert where(refused) == [(3, "option:size"), (6, "option:size")]
    assert "give the slug of the one you mean (m-long, m)" in refused.errors[0][2]
    rows[1]["option:size"] = rows[4]["option:size"] = "m-long"
    assert run(*rows).ok
    written = list(csv.DictReader(io.StringIO(export())))
    assert written[1]["option:size"] == "m-long"


# Problems: each reported on its row, nothing written


def problem_cases():
    def changed(index, **cells):
        rows = tee_rows()
        rows[index] |= {key.replace("__", ":"): value for key, value in cells.items()}
        return rows

    mug = {"sku": "MUG-1", "name": "Mug", "category": "home", "price": "12.00", "stock": 4}
    return {
        "unknown product type": (
            changed(0, product_type="clothes"),
            (2, "product_type"),
            "product types: bags, clothing, shoes",
        ),
        "unknown value": (changed(2, option__colour="Nvay"), (4, "option:colour"), "its values: Navy, White, Red"),
        "unknown product attribute value": (changed(0, attribute__material="Silk"), (2, "attribute:material"), "Silk"),
        "option not of the type": (
            [*changed(0), {**mug, "option:size": "M"}],
            (8, "option:size"),
            "Product MUG-1 has no product type",
        ),
        "attribute not of the type": (
            [{**mug, "product_type": "bags", "option:colour": "Navy", "attribute:material": "Cotton"}],
            (2, "attribute:material"),
            "not a product attribute of product type Bags",
        ),
        "missing option": (changed(3, option__size=""), (5, "option:size"), "needs a value of Size"),
        "same options twice": (changed(1, option__size="S"), (3, "option:colour"), "Same options as row 2"),
        "variant SKU twice": (changed(2, variant_sku="TEE-NAVY-S"), (4, "variant_sku"), "also on row 2"),
        "several rows without variant_sku": (
            changed(4, variant_sku=""),
            (6, "variant_sku"),
            "each needs its variant_sku",
        ),
        "rows apart": ([*tee_rows()[:3], mug, *tee_rows()[3:]], (6, "sku"), "must follow one another"),
        "conflicting repeated value": (
            changed(2, price="24.00"),
            (4, "price"),
            "Differs from this product's first row",
        ),
        "conflicting repeated type": (changed(5, product_type="shoes"), (7, "product_type"), "row 2: “clothing”"),
        "negative stock": (changed(1, stock="-1"), (3, "stock"), "greater than or equal to 0"),
        "bad variant price": (changed(1, variant_price="12,50"), (3, "variant_price"), "Enter a number"),
        "variant compare-at not above its price": (
            changed(2, variant_compare_at_price="27.00"),
            (4, "variant_compare_at_price"),
            "Must be above the variant's price",
        ),
        "negative weight": (changed(1, variant_weight="-1"), (3, "variant_weight"), "greater than or equal to 0"),
        "bad active flag": (changed(1, variant_is_active="maybe"), (3, "variant_is_active"), "valid choice"),
    }


@pytest.mark.parametrize("case", list(problem_cases()))
def test_a_problem_is_reported_on_its_row_and_nothing_is_imported(store, case):
    rows, expected, fragment = problem_cases()[case]

    result = run(*rows)

    assert where(result) == [expected], result.errors
    assert fragment in result.errors[0][2]
    assert not Product.objects.exists()
    assert not Variant.objects.exists()


def test_an_unknown_attribute_column_is_refused_with_the_attributes_there_are(store):
    result = run(*tee_rows(), columns=[*COLUMNS, "option:sise"])

    assert where(result) == [(1, "")]
    assert "unknown columns: option:sise" in result.errors[0][2]
    assert "(attributes: colour, eu-size, material, size)" in result.errors[0][2]


def test_a_variant_sku_of_another_product_is_refused(store, catalog):
    rows = tee_rows("NEW")
    rows[2]["variant_sku"] = "RUN-NAV-40"

    result = run(*rows)

    assert where(result) == [(4, "variant_sku")]
    assert "SKU RUN-NAV-40 belongs to product RUN." == result.errors[0][2]
    assert not Product.objects.filter(sku="NEW").exists()


def test_a_new_product_may_not_take_the_sku_of_another_products_variant(store, catalog):
    result = run({"sku": "RUN-NAV-41", "name": "Socks", "category": "home", "price": "5.00", "stock": 1})

    assert result.errors == [(2, "sku", "SKU RUN-NAV-41 belongs to product RUN.")]


def test_the_same_options_as_a_variant_left_alone_are_refused(store, catalog):
    row = {"sku": "TEE", "name": "Tee", "category": "t-shirts", "price": "25.00", "product_type": "clothing"}
    row |= {"variant_sku": "TEE-NAVY-M2", "option:colour": "Navy", "option:size": "M", "stock": 1}

    result = run(row)

    assert where(result) == [(2, "option:colour")]
    assert "Same options as variant TEE-NAVY-M, which the product already has" in result.errors[0][2]
    assert not Variant.objects.filter(sku="TEE-NAVY-M2").exists()


def test_one_row_without_variant_sku_cannot_update_a_product_with_variants(store, catalog):
    result = run({"sku": "TEE", "name": "Tee", "category": "t-shirts", "price": "9.00", "stock": 1})

    assert where(result) == [(2, "variant_sku")]
    assert "Product TEE has 6 variants" in result.errors[0][2]
    assert Product.objects.get(sku="TEE").price == Decimal("25.00")


def test_changing_a_products_type_needs_a_row_for_each_of_its_variants(store):
    make(store, "TEE", stock=5)

    result = run(*tee_rows())  # its default variant TEE is not in the file

    assert where(result) == [(2, "product_type")]
    assert "missing: TEE." in result.errors[0][2]
    assert Product.objects.get(sku="TEE").product_type is None


def test_a_new_variant_needs_its_options_even_when_the_file_has_no_option_column(store, catalog):
    row = {"sku": "TEE", "name": "Tee", "category": "t-shirts", "price": "25.00", "variant_sku": "TEE-NEW", "stock": 1}

    result = run(row, columns=["sku", "name", "category", "price", "stock", "variant_sku"])

    assert sorted(where(result)) == [(2, "option:colour"), (2, "option:size")]


def test_a_new_type_replaces_the_options_and_attribute_values_of_the_old_one(store):
    make(
        store,
        "CAP",
        kind="clothing",
        variants=[("CAP", {"colour": "Red", "size": "M"}, 3)],
        materials=["Cotton"],
        category="home",
    )
    row = {"sku": "CAP", "name": "Cap", "category": "home", "price": "9.00", "stock": 4, "product_type": "bags"}

    result = run(row | {"option:colour": "Navy"})

    assert result.ok, result.errors
    cap = Product.objects.get(sku="CAP")
    assert cap.product_type.slug == "bags"
    assert cap.variants.get().options_snapshot() == {"Colour": "Navy"}  # no size: bags have none
    assert not cap.attribute_values.exists()  # bags are not described by a material
    assert cap.stock == 4


# Writing


def test_batches_never_split_a_products_rows(store, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    mug = {"sku": "MUG-1", "name": "Mug", "category": "home", "price": "12.00", "stock": 4}
    progress = []

    result = csv_io.import_products(
        as_file(mug, *tee_rows(), {**mug, "sku": "MUG-2"}), batch_size=4, progress=lambda *a: progress.append(a)
    )

    assert result.ok, result.errors
    assert progress == [(1, 8), (7, 8), (8, 8)]
    assert (result.batches, result.written_through) == (3, 9)
    assert_stock_is_the_sum_of_active_variants()


def test_a_product_given_variants_between_the_check_and_the_write_stops_the_import_with_a_clear_message(store):
    lamp = make(store, "LAMP", category="home", stock=2)
    Variant.objects.filter(product=lamp).update(sku="LAMP-1")  # its only variant, whatever its SKU
    row = {"sku": "LAMP", "name": "Lamp", "category": "home", "price": "30.00", "stock": 5}
    result = csv_io.check_file(as_file(row))
    Variant.objects.create(product=lamp, sku="LAMP-2", stock=1)  # meanwhile, in the admin

    csv_io.write_rows(result)

    assert where(result) == [(2, "")]
    assert "Writing stopped at rows 2–2 (product LAMP was given more variants meanwhile)." in result.errors[0][2]
    assert sorted(lamp.variants.values_list("sku", "stock")) == [("LAMP-1", 2), ("LAMP-2", 1)]


def test_a_background_import_counts_the_rows_of_a_file_with_variants(store, staff, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    from shop.catalog.models import ImportJob

    job = ImportJob(filename="tees.csv", created_by=staff)
    job.file.save("tees.csv", io.BytesIO(documented_example().encode()), save=True)

    csv_io.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done, job.created) == ("done", 7, 7, 2)


def test_checking_a_file_with_variants_reads_the_same_queries_for_1_or_20_products(store, catalog):
    def queries_to_check(text):
        with CaptureQueriesContext(connection) as queries:
            assert csv_io.check_file(text).ok
        return len(queries.captured_queries)

    # Categories, products, variants; attributes (the header); types and their attributes (three); values.
    assert queries_to_check(many_tees(1, "NEW")) == queries_to_check(many_tees(20, "NEW")) == 8
    # Updating existing products with variants: their options too.
    assert queries_to_check(as_file(*tee_rows())) == 9


def many_tees(n: int, prefix: str) -> io.BytesIO:
    return as_file(*(row for i in range(n) for row in tee_rows(f"{prefix}{i}")))


def queries_to_write(text: io.BytesIO) -> int:
    result = csv_io.check_file(text)
    assert result.ok, result.errors
    with CaptureQueriesContext(connection) as queries:
        csv_io.write_rows(result)
    assert result.ok, result.errors
    return len(queries.captured_queries)


def test_writing_a_batch_takes_the_same_queries_for_1_or_20_products_with_variants(store, monkeypatch):
    monkeypatch.setattr(csv_io, "SQLITE_BATCH_PAUSE", 0)
    created = queries_to_write(many_tees(1, "A")), queries_to_write(many_tees(20, "B"))
    updated = queries_to_write(many_tees(1, "A")), queries_to_write(many_tees(20, "B"))

    # A savepoint and its release; the products locked; new products; the variants read; new variants; their
    # options; the attribute values read, new ones; the products' stock summed from their variants.
    assert created == (10, 10)
    # The same files again: the products updated (one UPDATE prepared once, run per row); the variants read,
    # updated likewise; options and attribute values read, all as they should be; the stock summed.
    assert updated == (9, 9)
    assert Variant.objects.count() == 21 * 6
    assert_stock_is_the_sum_of_active_variants()


def queries_to_export(queryset) -> int:
    with CaptureQueriesContext(connection) as queries:
        export(queryset)
    return len(queries.captured_queries)


def test_the_export_takes_the_same_queries_for_1_or_20_products_with_variants(store):
    for i in range(20):
        tee(store, f"T{i:02d}")

    one, twenty = (queries_to_export(Product.objects.filter(sku__lte=last)) for last in ("T00", "T19"))

    # The types exported; types, their attributes (two tables) and attributes; the products' ids; then
    # per 500 products: products, variants, options, attribute values; the values once.
    assert (one, twenty) == (11, 11)
    assert len(export().splitlines()) == 1 + 20 * 6


# In the admin


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_import_a_file_with_variants_and_export_it_back(admin_client, store):
    upload = SimpleUploadedFile("tees.csv", documented_example().encode(), content_type="text/csv")

    response = admin_client.post(reverse("admin:catalog_product_import"), {"file": upload})

    assert response.status_code == 302
    assert Product.objects.get(sku="TEE").stock == 20
    ids = list(Product.objects.values_list("pk", flat=True))
    exported = admin_client.post(
        reverse("admin:catalog_product_changelist"), {"action": "export_csv", "_selected_action": ids}
    )
    assert exported.content.decode().replace("\r\n", "\n") == documented_example()


def test_staff_see_the_problems_of_a_file_with_variants_by_row(admin_client, store):
    rows = tee_rows()
    rows[3]["option:colour"] = "Purple"
    upload = SimpleUploadedFile("tees.csv", as_file(*rows).getvalue(), content_type="text/csv")

    response = admin_client.post(reverse("admin:catalog_product_import"), {"file": upload})

    assert response.status_code == 400
    assert (
        "<td>5</td><td>option:colour</td><td>Colour has no value “Purple” (its values: Navy, White, Red).</td>"
        in response.content.decode()
    )
    assert not Product.objects.exists()
