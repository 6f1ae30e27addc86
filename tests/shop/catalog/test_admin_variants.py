"""Variants in the admin: product types and attributes, a product's variants inline with their options,
"Generate variants", stock per variant in the list and in bulk, and the variants' own list."""

import html
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.db import connection
from django.forms import MultiWidget
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.catalog import services
from shop.catalog.models import (
    Attribute,
    AttributeValue,
    Product,
    ProductAttributeValue,
    ProductType,
    Variant,
    VariantOption,
)
from shop.core.errors import ShopError
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, StaffFactory

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("admin:catalog_product_changelist")
ADD_PRODUCT = reverse("admin:catalog_product_add")
VARIANTS = reverse("admin:catalog_variant_changelist")
TYPES = reverse("admin:catalog_producttype_changelist")
ATTRIBUTES = reverse("admin:catalog_attribute_changelist")


def change_url(product) -> str:
    return reverse("admin:catalog_product_change", args=[product.pk])


def generate_url(product) -> str:
    return reverse("admin:catalog_product_generate_variants", args=[product.pk])


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def clothing():
    colour = Attribute.objects.create(name="Colour", slug="colour")
    size = Attribute.objects.create(name="Size", slug="size")
    material = Attribute.objects.create(name="Material", slug="material")
    values = {
        "red": AttributeValue.objects.create(attribute=colour, name="Red", slug="red", position=0, swatch="#cc0000"),
        "blue": AttributeValue.objects.create(attribute=colour, name="Blue", slug="blue", position=1, swatch="#0000cc"),
        "s": AttributeValue.objects.create(attribute=size, name="S", slug="s", position=0),
        "m": AttributeValue.objects.create(attribute=size, name="M", slug="m", position=1),
        "l": AttributeValue.objects.create(attribute=size, name="L", slug="l", position=2),
        "cotton": AttributeValue.objects.create(attribute=material, name="Cotton", slug="cotton"),
        "wool": AttributeValue.objects.create(attribute=material, name="Wool", slug="wool"),
    }
    kind = ProductType.objects.create(name="Clothing", slug="clothing")
    kind.variant_attributes.set([colour, size])
    kind.product_attributes.set([material])
    return {"type": kind, "colour": colour, "size": size, "material": material, **values}


def variant(product, sku, *values, stock=0, is_active=True) -> Variant:
    made = Variant.objects.create(product=product, sku=sku, stock=stock, is_active=is_active)
    for value in values:
        VariantOption.objects.create(variant=made, attribute=value.attribute, value=value)
    return made


def settle(product) -> Product:
    services.product_variants_saved(product=product)
    product.refresh_from_db()
    return product


@pytest.fixture
def tee(clothing):
    """A T-shirt in red S, red M and blue S (its default variant replaced by them)."""
    product = ProductFactory(name="Tee", sku="TEE", product_type=clothing["type"], stock=0)
    product.variants.all().delete()
    variant(product, "TEE-RED-S", clothing["red"], clothing["s"], stock=3)
    variant(product, "TEE-RED-M", clothing["red"], clothing["m"], stock=0)
    variant(product, "TEE-BLUE-S", clothing["blue"], clothing["s"], stock=5)
    return settle(product)


def options_of(product) -> dict[str, tuple[str, ...]]:
    return {
        v.sku: tuple(o.value.name for o in v.options.order_by("attribute__name").select_related("value"))
        for v in product.variants.all()
    }


def form_data(response) -> dict:
    """What the admin page's form would post as it stands (its fields' current values, inlines included)."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms.extend(inline.formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if field.disabled or value is None or value is False or hasattr(value, "url") or value == "":
                continue
            if field.show_hidden_initial:
                data[form.add_initial_prefix(name)] = str(value)
            if isinstance(field.widget, MultiWidget):
                for i, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{i}"] = str(part)
            elif value is True:
                data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            else:
                data[key] = str(value)
    return data


def variant_rows(data: dict) -> dict[str, str]:
    """{sku: form prefix} of the variant rows in posted data."""
    return {
        value: key[: -len("-sku")]
        for key, value in data.items()
        if key.startswith("variants-") and key.endswith("-sku")
    }


def add_row(data: dict, **fields) -> str:
    n = int(data["variants-TOTAL_FORMS"])
    data["variants-TOTAL_FORMS"] = str(n + 1)
    prefix = f"variants-{n}"
    data.update({f"{prefix}-{name}": str(value) for name, value in fields.items()})
    data.setdefault(f"{prefix}-position", "0")
    data.setdefault(f"{prefix}-is_active", "on")
    return prefix


def option(attribute) -> str:
    return f"option_{attribute.pk}"


def errors_of(response) -> str:
    body = response.content.decode()
    assert response.status_code == 200, response.status_code
    assert "errornote" in body or "errorlist" in body, "no error shown"
    return body


# Product types and attributes


def test_it_lists_product_types_with_their_attributes_and_product_count(admin_client, clothing, tee):
    ProductFactory(product_type=clothing["type"])
    response = admin_client.get(TYPES, {"q": "cloth"})

    body = response.content.decode()
    assert response.status_code == 200
    assert [t.name for t in response.context["cl"].result_list] == ["Clothing"]
    assert "Colour, Size" in body and "Material" in body
    assert f'?product_type__id__exact={clothing["type"].pk}">2</a>' in body


def test_it_edits_a_product_types_attributes_side_by_side(admin_client, clothing):
    response = admin_client.get(reverse("admin:catalog_producttype_change", args=[clothing["type"].pk]))

    assert response.status_code == 200
    assert "selectfilter" in response.content.decode()  # filter_horizontal


def test_it_refuses_an_attribute_that_both_makes_variants_and_describes(admin_client, clothing):
    response = admin_client.post(
        reverse("admin:catalog_producttype_add"),
        {
            "name": "Shoes",
            "slug": "shoes",
            "variant_attributes": [clothing["size"].pk],
            "product_attributes": [clothing["size"].pk],
        },
    )

    assert "either makes variants or describes the product, not both: Size" in errors_of(response)
    assert not ProductType.objects.filter(slug="shoes").exists()


def test_it_refuses_to_drop_a_variant_attribute_its_variants_use(admin_client, clothing, tee):
    url = reverse("admin:catalog_producttype_change", args=[clothing["type"].pk])
    response = admin_client.post(
        url,
        {"name": "Clothing", "slug": "clothing", "variant_attributes": [clothing["size"].pk]},
    )

    assert "have options of Colour" in errors_of(response)
    assert set(clothing["type"].variant_attributes.all()) == {clothing["colour"], clothing["size"]}


def test_it_shows_attribute_values_with_their_swatches(admin_client, clothing):
    listing = admin_client.get(ATTRIBUTES, {"q": "blue"}).content.decode()
    page = admin_client.get(reverse("admin:catalog_attribute_change", args=[clothing["colour"].pk])).content.decode()

    assert "Colour" in listing and "Size" not in listing  # searched by a value
    assert 'fill="#cc0000"' in listing and 'fill="#0000cc"' in listing
    assert 'fill="#cc0000"' in page
    assert "style=" not in page.split('class="swatch"')[1][:200]  # a fill, which the CSP allows


def test_it_adds_an_attribute_with_its_values(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_attribute_add"),
        {
            "name": "EU size",
            "slug": "eu-size",
            "values-TOTAL_FORMS": "2",
            "values-INITIAL_FORMS": "0",
            "values-0-name": "42",
            "values-0-slug": "42",
            "values-0-position": "0",
            "values-1-name": "Green",
            "values-1-slug": "green",
            "values-1-position": "1",
            "values-1-swatch": "green",
        },
    )

    assert "A colour as #rrggbb." in errors_of(response)
    assert not Attribute.objects.filter(slug="eu-size").exists()


def test_it_keeps_a_value_that_variants_use(admin_client, clothing, tee):
    url = reverse("admin:catalog_attribute_change", args=[clothing["size"].pk])
    data = form_data(admin_client.get(url))
    prefix = next(k[: -len("-name")] for k, v in data.items() if k.endswith("-name") and v == "M")
    data[f"{prefix}-DELETE"] = "on"

    assert "would require deleting the following protected related objects" in errors_of(admin_client.post(url, data))
    assert AttributeValue.objects.filter(pk=clothing["m"].pk).exists()


# A product's variants, inline


def test_it_adds_a_product_with_a_type_and_its_variants(admin_client, clothing):
    category = CategoryFactory()
    data = {
        "name": "Hoodie",
        "slug": "hoodie",
        "sku": "HOOD",
        "category": category.pk,
        "product_type": clothing["type"].pk,
        "attribute_values": [clothing["cotton"].pk],
        "price": "40.00",
        "stock": "0",
        "is_active": "on",
        "created_at_0": "2026-01-05",
        "created_at_1": "10:00:00",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
    }
    colour, size = option(clothing["colour"]), option(clothing["size"])
    add_row(data, sku="HOOD-RED-M", stock=4, **{colour: clothing["red"].pk, size: clothing["m"].pk})
    add_row(data, sku="HOOD-BLUE-M", stock=6, price="45.00", **{colour: clothing["blue"].pk, size: clothing["m"].pk})

    response = admin_client.post(ADD_PRODUCT, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    hoodie = Product.objects.get(sku="HOOD")
    assert options_of(hoodie) == {"HOOD-RED-M": ("Red", "M"), "HOOD-BLUE-M": ("Blue", "M")}  # no default variant
    assert hoodie.stock == 10
    assert hoodie.variants.get(sku="HOOD-BLUE-M").price == Decimal("45.00")
    assert [v.value for v in ProductAttributeValue.objects.filter(product=hoodie)] == [clothing["cotton"]]


def test_a_new_products_variants_are_asked_their_options_once_its_type_is_chosen(admin_client, clothing):
    """The add page shows no option columns until a type is chosen: posted with a type and two variants,
    it comes back with a column per variant attribute of that type and says what is missing."""
    assert 'name="variants-__prefix__-sku"' in admin_client.get(ADD_PRODUCT).content.decode()
    data = {
        "name": "Scarf",
        "slug": "scarf",
        "sku": "SCARF",
        "category": CategoryFactory().pk,
        "product_type": clothing["type"].pk,
        "price": "25.00",
        "stock": "0",
        "created_at_0": "2026-01-05",
        "created_at_1": "10:00:00",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
    }
    add_row(data, sku="SCARF-1", stock=1)
    add_row(data, sku="SCARF-2", stock=1)

    body = errors_of(admin_client.post(ADD_PRODUCT, data))

    assert "SCARF-1: choose its Colour, Size" in body
    assert f'name="variants-0-{option(clothing["colour"])}"' in body
    assert not Product.objects.filter(sku="SCARF").exists()


def test_it_shows_a_products_variants_with_their_options_and_summed_stock(admin_client, clothing, tee):
    response = admin_client.get(change_url(tee))

    body = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "The sum of the active variants' stock: set it per variant below." in body
    assert 'name="stock"' not in body  # read-only: set per variant
    data = form_data(response)
    rows = variant_rows(data)
    assert set(rows) == {"TEE-RED-S", "TEE-RED-M", "TEE-BLUE-S"}
    assert data[f"{rows['TEE-BLUE-S']}-{option(clothing['colour'])}"] == str(clothing["blue"].pk)
    assert "Generate variants" in body


def test_a_products_page_reads_as_many_queries_for_1_or_4_variants_and_pictures(admin_client, clothing, tee):
    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(change_url(tee))
        assert response.status_code == 200
        return len(queries), response.content.decode()

    ProductImageFactory(product=tee)
    measure()
    few, _body = measure()
    for n in range(3):
        ProductImageFactory(product=tee, variant=Variant.objects.get(sku="TEE-BLUE-S"), position=n + 1)
    variant(tee, "TEE-BLUE-L", clothing["blue"], clothing["l"])
    many, body = measure()

    assert few == many
    assert f'<option value="{Variant.objects.get(sku="TEE-BLUE-S").pk}" selected>Blue / S</option>' in body


def test_it_saves_variants_and_keeps_the_product_stock_their_sum(admin_client, clothing, tee):
    data = form_data(admin_client.get(change_url(tee)))
    rows = variant_rows(data)
    data[f"{rows['TEE-RED-M']}-stock"] = "7"
    data[f"{rows['TEE-BLUE-S']}-is_active"] = ""  # inactive: out of the sum
    data[f"{rows['TEE-RED-S']}-{option(clothing['size'])}"] = str(clothing["l"].pk)
    add_row(
        data,
        sku="TEE-BLUE-L",
        stock=2,
        **{option(clothing["colour"]): clothing["blue"].pk, option(clothing["size"]): clothing["l"].pk},
    )

    response = admin_client.post(change_url(tee), data)

    assert response.status_code == 302
    tee.refresh_from_db()
    assert tee.stock == 3 + 7 + 2
    assert options_of(tee)["TEE-RED-S"] == ("Red", "L")
    assert options_of(tee)["TEE-BLUE-L"] == ("Blue", "L")
    assert not tee.variants.get(sku="TEE-BLUE-S").is_active


def test_it_deletes_a_variant_and_the_sum_follows(admin_client, tee):
    data = form_data(admin_client.get(change_url(tee)))
    data[f"{variant_rows(data)['TEE-BLUE-S']}-DELETE"] = "on"

    assert admin_client.post(change_url(tee), data).status_code == 302

    tee.refresh_from_db()
    assert tee.stock == 3
    assert not Variant.objects.filter(sku="TEE-BLUE-S").exists()


def test_it_refuses_two_variants_with_the_same_options(admin_client, clothing, tee):
    data = form_data(admin_client.get(change_url(tee)))
    rows = variant_rows(data)
    data[f"{rows['TEE-RED-M']}-{option(clothing['size'])}"] = str(clothing["s"].pk)
    data[f"{rows['TEE-RED-M']}-stock"] = "9"

    body = errors_of(admin_client.post(change_url(tee), data))

    assert "TEE-RED-S, TEE-RED-M have the same options (Red / S)" in body
    assert options_of(tee)["TEE-RED-M"] == ("Red", "M")
    assert tee.variants.get(sku="TEE-RED-M").stock == 0


def test_it_refuses_a_new_variant_with_the_options_of_another(admin_client, clothing, tee):
    data = form_data(admin_client.get(change_url(tee)))
    add_row(
        data,
        sku="TEE-RED-S-2",
        stock=1,
        **{option(clothing["colour"]): clothing["red"].pk, option(clothing["size"]): clothing["s"].pk},
    )

    assert "have the same options (Red / S)" in errors_of(admin_client.post(change_url(tee), data))
    assert not Variant.objects.filter(sku="TEE-RED-S-2").exists()


def test_it_refuses_a_value_of_another_attribute(admin_client, clothing, tee):
    data = form_data(admin_client.get(change_url(tee)))
    data[f"{variant_rows(data)['TEE-RED-M']}-{option(clothing['size'])}"] = str(clothing["blue"].pk)

    assert "Select a valid choice" in errors_of(admin_client.post(change_url(tee), data))
    assert options_of(tee)["TEE-RED-M"] == ("Red", "M")


def test_it_needs_a_value_of_each_attribute_once_there_are_several_variants(admin_client, clothing, tee):
    data = form_data(admin_client.get(change_url(tee)))
    del data[f"{variant_rows(data)['TEE-RED-M']}-{option(clothing['colour'])}"]

    assert "TEE-RED-M: choose its Colour" in errors_of(admin_client.post(change_url(tee), data))
    assert options_of(tee)["TEE-RED-M"] == ("Red", "M")


def test_it_keeps_at_least_one_variant(admin_client, tee):
    data = form_data(admin_client.get(change_url(tee)))
    for prefix in variant_rows(data).values():
        data[f"{prefix}-DELETE"] = "on"

    assert "A product needs at least one variant" in errors_of(admin_client.post(change_url(tee), data))
    assert tee.variants.count() == 3


def test_it_refuses_a_compare_at_price_not_above_the_variants_price(admin_client, tee):
    data = form_data(admin_client.get(change_url(tee)))
    prefix = variant_rows(data)["TEE-RED-S"]
    data[f"{prefix}-price"] = "30.00"
    data[f"{prefix}-compare_at_price"] = "25.00"

    assert "The compare-at price must be above the price" in errors_of(admin_client.post(change_url(tee), data))


def test_it_sets_the_values_describing_the_product_of_its_type_only(admin_client, clothing, tee):
    other = Attribute.objects.create(name="Fit", slug="fit")
    slim = AttributeValue.objects.create(attribute=other, name="Slim", slug="slim")
    data = form_data(admin_client.get(change_url(tee)))
    data["attribute_values"] = [str(clothing["wool"].pk), str(slim.pk)]

    assert "Select a valid choice" in errors_of(admin_client.post(change_url(tee), data))

    data["attribute_values"] = [str(clothing["wool"].pk)]
    assert admin_client.post(change_url(tee), data).status_code == 302
    assert [v.value for v in tee.attribute_values.all()] == [clothing["wool"]]


def test_it_drops_the_options_of_a_type_the_product_leaves(admin_client, clothing, tee):
    plain = ProductType.objects.create(name="Plain", slug="plain")
    data = form_data(admin_client.get(change_url(tee)))
    data["product_type"] = str(plain.pk)

    response = admin_client.post(change_url(tee), data)

    # Several variants and no attribute to tell them apart: saved, but each has no options left.
    assert response.status_code == 302
    assert not VariantOption.objects.filter(variant__product=tee).exists()
    assert Product.objects.get(pk=tee.pk).stock == 8


# A product with a single variant: as before


def test_a_single_variant_product_keeps_its_sku_and_stock_fields(admin_client):
    lamp = ProductFactory(sku="LAMP", stock=4)
    response = admin_client.get(change_url(lamp))
    data = form_data(response)

    assert data["stock"] == "4" and data["sku"] == "LAMP"
    assert 'name="variants-0-sku"' in response.content.decode()
    assert "variants-0-sku" not in data and "variants-0-stock" not in data  # disabled: the product's

    data.update(sku="LAMP-2", stock="9")
    assert admin_client.post(change_url(lamp), data).status_code == 302

    lamp.refresh_from_db()
    assert (lamp.sku, lamp.stock) == ("LAMP-2", 9)
    assert [(v.sku, v.stock) for v in lamp.variants.all()] == [("LAMP-2", 9)]


def test_it_does_not_undo_a_sale_made_while_the_form_was_open(admin_client):
    lamp = ProductFactory(sku="LAMP", stock=4)
    data = form_data(admin_client.get(change_url(lamp)))
    Variant.objects.filter(product=lamp).update(stock=3)  # a sale meanwhile
    Product.objects.filter(pk=lamp.pk).update(stock=3)
    data["name"] = "Brass lamp"

    assert admin_client.post(change_url(lamp), data).status_code == 302

    lamp.refresh_from_db()
    assert (lamp.name, lamp.stock, lamp.variants.get().stock) == ("Brass lamp", 3, 3)


def test_it_refuses_a_product_sku_another_products_variant_has(admin_client, tee):
    lamp = ProductFactory(sku="LAMP", stock=4)
    data = form_data(admin_client.get(change_url(lamp)))
    data["sku"] = "TEE-RED-S"

    assert "A variant of “Tee” has this SKU already." in errors_of(admin_client.post(change_url(lamp), data))


def test_a_second_variant_turns_the_product_stock_into_the_sum(admin_client, clothing):
    shirt = ProductFactory(sku="SHIRT", stock=2, product_type=clothing["type"])
    data = form_data(admin_client.get(change_url(shirt)))
    prefix = variant_rows(data).get("SHIRT") or "variants-0"
    data[f"{prefix}-{option(clothing['colour'])}"] = str(clothing["red"].pk)
    data[f"{prefix}-{option(clothing['size'])}"] = str(clothing["s"].pk)
    add_row(
        data,
        sku="SHIRT-RED-M",
        stock=5,
        **{option(clothing["colour"]): clothing["red"].pk, option(clothing["size"]): clothing["m"].pk},
    )

    assert admin_client.post(change_url(shirt), data).status_code == 302

    shirt.refresh_from_db()
    assert shirt.stock == 7
    assert options_of(shirt) == {"SHIRT": ("Red", "S"), "SHIRT-RED-M": ("Red", "M")}
    assert 'name="stock"' not in admin_client.get(change_url(shirt)).content.decode()


# Generate variants


def test_it_generates_every_missing_combination(admin_client, clothing):
    shirt = ProductFactory(sku="SHIRT", stock=0, product_type=clothing["type"])
    page = admin_client.get(generate_url(shirt))
    assert page.status_code == 200 and "SHIRT-RED-S" in page.content.decode()  # the SKUs it would make

    response = admin_client.post(
        generate_url(shirt),
        {
            f"attribute_{clothing['colour'].pk}": [clothing["red"].pk, clothing["blue"].pk],
            f"attribute_{clothing['size'].pk}": [clothing["s"].pk, clothing["m"].pk, clothing["l"].pk],
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == change_url(shirt)
    body = response.content.decode()
    assert "6 variants created." in body
    assert "They replace the default variant" in body
    assert [v.sku for v in shirt.variants.all()] == [
        "SHIRT-RED-S",
        "SHIRT-RED-M",
        "SHIRT-RED-L",
        "SHIRT-BLUE-S",
        "SHIRT-BLUE-M",
        "SHIRT-BLUE-L",
    ]
    assert options_of(shirt)["SHIRT-BLUE-M"] == ("Blue", "M")
    assert {v.stock for v in shirt.variants.all()} == {0}


def test_it_skips_combinations_the_product_has_and_keeps_a_default_with_stock(admin_client, clothing, tee):
    response = admin_client.post(
        generate_url(tee),
        {
            f"attribute_{clothing['colour'].pk}": [clothing["red"].pk],
            f"attribute_{clothing['size'].pk}": [clothing["s"].pk, clothing["l"].pk],
        },
        follow=True,
    )
    assert "1 variant created; 1 combination existed already and was skipped." in response.content.decode()
    assert set(options_of(tee)) == {"TEE-RED-S", "TEE-RED-M", "TEE-BLUE-S", "TEE-RED-L"}
    assert Product.objects.get(pk=tee.pk).stock == 8

    shirt = ProductFactory(sku="SHIRT", stock=4, product_type=clothing["type"])
    response = admin_client.post(
        generate_url(shirt),
        {
            f"attribute_{clothing['colour'].pk}": [clothing["red"].pk],
            f"attribute_{clothing['size'].pk}": [clothing["s"].pk],
        },
        follow=True,
    )
    assert "SHIRT has no options: give it a value of each below, or delete it." in response.content.decode()
    assert [(v.sku, v.stock) for v in shirt.variants.all()] == [("SHIRT", 4), ("SHIRT-RED-S", 0)]
    assert Product.objects.get(pk=shirt.pk).stock == 4


def test_it_needs_a_value_of_each_attribute_to_generate(admin_client, clothing, tee):
    response = admin_client.post(generate_url(tee), {f"attribute_{clothing['colour'].pk}": [clothing["red"].pk]})

    assert response.status_code == 400
    assert "Choose at least one value." in response.content.decode()
    assert tee.variants.count() == 3


def test_it_refuses_to_generate_without_variant_attributes(admin_client, clothing):
    lamp = ProductFactory(sku="LAMP")
    plain = ProductFactory(sku="PLAIN", product_type=ProductType.objects.create(name="Lamps", slug="lamps"))

    untyped = admin_client.post(generate_url(lamp), follow=True)
    assert "Choose a product type with variant attributes" in untyped.content.decode()
    assert untyped.redirect_chain[-1][0] == change_url(lamp)
    assert (
        "The product type Lamps has no variant attributes"
        in admin_client.get(generate_url(plain), follow=True).content.decode()
    )
    assert Variant.objects.filter(product__in=[lamp, plain]).count() == 2


def test_it_refuses_to_generate_a_sku_that_is_taken(admin_client, clothing):
    ProductFactory(sku="SHIRT-RED-M")  # another product's default variant
    shirt = ProductFactory(sku="SHIRT", stock=0, product_type=clothing["type"])

    response = admin_client.post(
        generate_url(shirt),
        {
            f"attribute_{clothing['colour'].pk}": [clothing["red"].pk],
            f"attribute_{clothing['size'].pk}": [clothing["s"].pk, clothing["m"].pk],
        },
    )

    assert response.status_code == 400
    assert "These SKUs are taken already: SHIRT-RED-M." in response.content.decode()
    assert [v.sku for v in shirt.variants.all()] == ["SHIRT"]  # all or nothing


def test_it_refuses_too_many_combinations_at_once(clothing, monkeypatch):
    monkeypatch.setattr(services, "MAX_GENERATED_VARIANTS", 5)
    shirt = ProductFactory(sku="SHIRT", stock=0, product_type=clothing["type"])
    values = [clothing[k] for k in ("red", "blue", "s", "m", "l")]

    with pytest.raises(ShopError, match="That makes 6 combinations; at most 5"):
        services.variants_generate(product=shirt, values=values)


def test_generating_needs_the_change_permission_and_a_post(client, clothing):
    shirt = ProductFactory(sku="SHIRT", stock=0, product_type=clothing["type"])
    body = {
        f"attribute_{clothing['colour'].pk}": [clothing["red"].pk],
        f"attribute_{clothing['size'].pk}": [clothing["s"].pk],
    }
    viewer = StaffFactory(email="viewer@example.org", is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(viewer)

    assert client.post(generate_url(shirt), body).status_code == 403

    clerk = StaffFactory(email="clerk@example.org", is_superuser=False)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_product", "change_product"]))
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(clerk)
    assert checked.post(generate_url(shirt), body).status_code == 403  # no CSRF token
    checked.get(generate_url(shirt))  # a GET shows the form and makes nothing
    assert [v.sku for v in shirt.variants.all()] == ["SHIRT"]

    response = checked.post(generate_url(shirt), {**body, "csrfmiddlewaretoken": checked.cookies["csrftoken"].value})
    assert response.status_code == 302
    assert [v.sku for v in shirt.variants.all()] == ["SHIRT-RED-S"]


# The product list


def listed_text(response) -> str:
    return response.content.decode().replace("\u00a0", " ")  # no-break spaces keep each variant on one line


def test_it_shows_the_stock_of_each_variant_in_the_list(admin_client, clothing, tee, settings):
    ProductFactory(sku="LAMP", stock=4)
    body = listed_text(admin_client.get(PRODUCTS))

    assert 'Red / S 3</span> · <span class="tone-bad">Red / M 0</span> · <span class="">Blue / S 5' in body


def test_it_shortens_the_stock_of_many_variants(admin_client, clothing):
    coat = ProductFactory(sku="COAT", product_type=clothing["type"])
    coat.variants.all().delete()
    sizes = [
        AttributeValue.objects.create(attribute=clothing["size"], name=f"X{n}", slug=f"x{n}", position=10 + n)
        for n in range(10)
    ]
    for n, size in enumerate(sizes):
        variant(coat, f"COAT-{n}", clothing["red"], size, stock=1)
    settle(coat)

    body = listed_text(admin_client.get(PRODUCTS))

    assert "Red / X7 1" in body and "Red / X8" not in body
    assert "· 2 more" in body


def add_variant_products(clothing, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        product = ProductFactory(sku=f"P{i}", product_type=clothing["type"])
        product.variants.all().delete()
        variant(product, f"P{i}-RED-S", clothing["red"], clothing["s"], stock=1)
        variant(product, f"P{i}-BLUE-M", clothing["blue"], clothing["m"], stock=0)
        settle(product)


def test_the_list_reads_as_many_queries_for_1_or_10_products_with_variants(admin_client, clothing):
    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(PRODUCTS)
        assert response.status_code == 200
        return len(queries), listed_text(response)

    add_variant_products(clothing, 1)
    admin_client.get(PRODUCTS)  # what is read once (content types, sessions' first touch)
    few, body = measure()
    assert "Red / S 1" in body

    add_variant_products(clothing, 9, start=1)
    many, body = measure()

    assert body.count("Blue / M 0") == 10
    assert few == many


@pytest.mark.parametrize(
    ("value", "expected"),
    [("several", {"TEE", "FULL"}), ("single", {"LAMP"}), ("sold_out", {"TEE"})],
)
def test_it_filters_products_by_their_variants(admin_client, clothing, tee, value, expected):
    ProductFactory(sku="LAMP", stock=0)
    full = ProductFactory(sku="FULL", product_type=clothing["type"])
    full.variants.all().delete()
    variant(full, "FULL-RED-S", clothing["red"], clothing["s"], stock=1)
    variant(full, "FULL-RED-M", clothing["red"], clothing["m"], stock=1)
    variant(full, "FULL-RED-L", clothing["red"], clothing["l"], stock=0, is_active=False)  # inactive: not sold out
    settle(full)

    response = admin_client.get(PRODUCTS, {"variants": value})

    assert {p.sku for p in response.context["cl"].result_list} == expected


# Set stock in bulk


def test_setting_stock_sets_each_active_variant_and_the_product_their_sum(admin_client, clothing, tee):
    lamp = ProductFactory(sku="LAMP", stock=1)
    Variant.objects.filter(sku="TEE-RED-M").update(is_active=False)
    settle(tee)

    response = admin_client.post(
        PRODUCTS,
        {"action": "set_stock", ACTION_CHECKBOX_NAME: [tee.pk, lamp.pk], "stock": "6", "apply": "Set stock"},
        follow=True,
    )

    assert "Stock set on 2 products. Each active variant has 6" in response.content.decode()
    assert dict(tee.variants.values_list("sku", "stock")) == {"TEE-RED-S": 6, "TEE-RED-M": 0, "TEE-BLUE-S": 6}
    assert Product.objects.get(pk=tee.pk).stock == 12
    assert (Product.objects.get(pk=lamp.pk).stock, lamp.variants.get().stock) == (6, 6)


def test_the_set_stock_page_says_how_many_variants_each_product_has(admin_client, tee):
    response = admin_client.post(PRODUCTS, {"action": "set_stock", ACTION_CHECKBOX_NAME: [tee.pk]})

    assert "Tee (TEE): 8 · 3 variants" in response.content.decode()


def test_set_stock_writes_in_one_transaction(tee, monkeypatch):
    """The variants' and the products' stock change together or not at all."""

    def fail(*args, **kwargs):
        raise RuntimeError("the products' update failed")

    monkeypatch.setattr(services, "_sum_stock", fail)
    with pytest.raises(RuntimeError):
        services.products_set_stock(product_ids=[tee.pk], stock=50)

    assert sorted(tee.variants.values_list("stock", flat=True)) == [0, 3, 5]


# The variants' list


def test_it_lists_variants_with_options_and_searches_them(admin_client, clothing, tee):
    ProductFactory(name="Lamp", sku="LAMP")

    by_name = admin_client.get(VARIANTS, {"q": "tee"})
    by_sku = admin_client.get(VARIANTS, {"q": "BLUE-S"})
    by_option = admin_client.get(VARIANTS, {"option": clothing["red"].pk})

    assert {v.sku for v in by_name.context["cl"].result_list} == {"TEE-RED-S", "TEE-RED-M", "TEE-BLUE-S"}
    assert "Red / M" in by_name.content.decode()
    assert {v.sku for v in by_sku.context["cl"].result_list} == {"TEE-BLUE-S"}
    assert {v.sku for v in by_option.context["cl"].result_list} == {"TEE-RED-S", "TEE-RED-M"}
    sold_out = admin_client.get(
        VARIANTS, {"stock_status": "out", "product__product_type__id__exact": clothing["type"].pk}
    )
    assert {v.sku for v in sold_out.context["cl"].result_list} == {"TEE-RED-M"}


def test_the_variants_list_reads_as_many_queries_for_2_or_20_variants(admin_client, clothing):
    def measure():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(VARIANTS).status_code == 200
        return len(queries)

    add_variant_products(clothing, 1)
    measure()
    few = measure()
    add_variant_products(clothing, 9, start=1)
    assert measure() == few


def test_editing_stock_in_the_variants_list_keeps_the_product_sum(admin_client, tee):
    rows = list(Variant.objects.filter(product=tee).order_by("sku"))  # the list's order: by position, id
    response = admin_client.get(VARIANTS, {"q": "TEE"})
    listed = list(response.context["cl"].result_list)
    data = {"form-TOTAL_FORMS": str(len(listed)), "form-INITIAL_FORMS": str(len(listed)), "_save": "Save"}
    for i, v in enumerate(listed):
        data[f"form-{i}-id"] = str(v.pk)
        data[f"form-{i}-stock"] = "10" if v.sku == "TEE-RED-M" else str(v.stock)

    assert admin_client.post(VARIANTS + "?q=TEE", data).status_code == 302

    assert {v.sku: v.stock for v in Variant.objects.filter(pk__in=[r.pk for r in rows])}["TEE-RED-M"] == 10
    assert Product.objects.get(pk=tee.pk).stock == 3 + 10 + 5


def test_it_marks_variants_sold_out(admin_client, tee):
    chosen = Variant.objects.filter(sku__in=["TEE-RED-S", "TEE-RED-M"])

    response = admin_client.post(
        VARIANTS, {"action": "mark_sold_out", ACTION_CHECKBOX_NAME: [v.pk for v in chosen]}, follow=True
    )

    assert "1 variant marked sold out." in response.content.decode()  # the other had none
    assert dict(tee.variants.values_list("sku", "stock")) == {"TEE-RED-S": 0, "TEE-RED-M": 0, "TEE-BLUE-S": 5}
    assert Product.objects.get(pk=tee.pk).stock == 5


def test_a_variants_page_edits_its_options_but_not_into_another_variants(admin_client, clothing, tee):
    red_m = Variant.objects.get(sku="TEE-RED-M")
    url = reverse("admin:catalog_variant_change", args=[red_m.pk])
    data = form_data(admin_client.get(url))
    data[option(clothing["colour"])] = str(clothing["blue"].pk)
    data[option(clothing["size"])] = str(clothing["s"].pk)

    assert "TEE-BLUE-S, TEE-RED-M have the same options (Blue / S)" in errors_of(admin_client.post(url, data))

    data[option(clothing["size"])] = str(clothing["l"].pk)
    data["stock"] = "4"
    assert admin_client.post(url, data).status_code == 302
    assert options_of(tee)["TEE-RED-M"] == ("Blue", "L")
    assert Product.objects.get(pk=tee.pk).stock == 3 + 4 + 5


def test_variants_are_added_and_deleted_on_their_products_page(admin_client, tee):
    red_m = Variant.objects.get(sku="TEE-RED-M")

    assert admin_client.get(reverse("admin:catalog_variant_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:catalog_variant_delete", args=[red_m.pk]), {"post": "yes"}).status_code == 403
    )
    assert Variant.objects.filter(pk=red_m.pk).exists()
