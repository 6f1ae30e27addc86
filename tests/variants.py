"""A product type with variant attributes, and products in its sizes and colours, for tests."""

from itertools import product as combinations

from django.utils.text import slugify

from shop.catalog.models import (
    Attribute,
    AttributeValue,
    Product,
    ProductAttributeValue,
    ProductType,
    Variant,
    VariantOption,
)
from tests.factories import ProductFactory

SWATCHES = {"Red": "#c0392b", "Blue": "#2e5fa3", "Black": "#111111", "White": "#ffffff"}


def attribute(name: str, values: list[str]) -> Attribute:
    found, _created = Attribute.objects.get_or_create(slug=slugify(name), defaults={"name": name})
    for position, value in enumerate(values):
        AttributeValue.objects.get_or_create(
            attribute=found,
            slug=slugify(value),
            defaults={"name": value, "position": position, "swatch": SWATCHES.get(value, "")},
        )
    return found


def clothing() -> ProductType:
    """Clothing: size and colour make variants, material describes."""
    kind, _created = ProductType.objects.get_or_create(slug="clothing", defaults={"name": "Clothing"})
    kind.variant_attributes.add(
        attribute("Size", ["S", "M", "L", "XL"]), attribute("Colour", ["Red", "Blue", "Black", "White"])
    )
    kind.product_attributes.add(attribute("Material", ["Cotton", "Wool"]))
    return kind


def value(attribute_slug: str, value_slug: str) -> AttributeValue:
    return AttributeValue.objects.get(attribute__slug=attribute_slug, slug=value_slug)


def with_variants(
    product: Product | None = None,
    *,
    sizes=("S", "M", "L"),
    colours=("Red", "Blue"),
    stock: dict | int = 5,
    prices: dict | None = None,
    missing=(),
    material: str | None = None,
    **fields,
) -> Product:
    """A Clothing product with one variant per size and colour (but the `missing` (size, colour)
    pairs), each with `stock` (or stock[(size, colour)]) and prices[(size, colour)] if given.
    Its default variant goes; its stock is the sum, as the catalog keeps it."""
    kind = clothing()
    product = product or ProductFactory(**fields)
    product.product_type = kind
    product.save(update_fields=["product_type"])
    product.variants.all().delete()
    total = 0
    for position, (size, colour) in enumerate(combinations(sizes, colours)):
        if (size, colour) in missing:
            continue
        count = stock.get((size, colour), 0) if isinstance(stock, dict) else stock
        variant = Variant.objects.create(
            product=product,
            sku=f"{product.sku}-{slugify(colour)}-{slugify(size)}".upper(),
            stock=count,
            price=(prices or {}).get((size, colour)),
            position=position,
        )
        for attr, name in (("size", size), ("colour", colour)):
            VariantOption.objects.create(
                variant=variant, attribute=Attribute.objects.get(slug=attr), value=value(attr, slugify(name))
            )
        total += count
    if material:
        ProductAttributeValue.objects.create(product=product, value=value("material", slugify(material)))
    Product.objects.filter(pk=product.pk).update(stock=total)
    product.refresh_from_db()
    return product


def variant(product: Product, size: str, colour: str) -> Variant:
    """The product's variant in this size and colour."""
    return (
        Variant.objects.filter(product=product, options__attribute__slug="size", options__value__slug=slugify(size))
        .filter(options__attribute__slug="colour", options__value__slug=slugify(colour))
        .get()
    )
