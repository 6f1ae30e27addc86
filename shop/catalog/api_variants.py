"""The API's view of variants: a product's type, attributes, options and variants, and the lists' facets.

A product's detail reads them with a fixed number of queries whatever the number of variants
(`load_variants`): its active variants, then (for a product with a type) their options with
their attributes and values, and the values describing the product. A product without a type
(one plain variant) costs the one query for its variant.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Coalesce
from rest_framework import serializers

from shop.catalog.models import Product, ProductAttributeValue, Variant, VariantOption
from shop.catalog.offers import variant_offers


class ProductTypeRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class ValueSerializer(serializers.Serializer):
    slug = serializers.SlugField(help_text="What the `attr` filter takes after the colon (colour:blue).")
    name = serializers.CharField()
    swatch = serializers.CharField(help_text="The colour shown for it as #rrggbb; empty but for colours.")


class AttributeSerializer(serializers.Serializer):
    attribute = serializers.SlugField(help_text="The attribute's slug (size, colour, material).")
    name = serializers.CharField()
    values = ValueSerializer(many=True)


class FacetValueSerializer(ValueSerializer):
    count = serializers.IntegerField(
        min_value=0, help_text="How many products the list would have with this value chosen too."
    )
    chosen = serializers.BooleanField(help_text="Whether the request's `attr` chose it.")


class FacetSerializer(serializers.Serializer):
    attribute = serializers.SlugField(source="slug")
    name = serializers.CharField()
    values = FacetValueSerializer(many=True, help_text="The values the list's products have, in their order.")


def with_variant_count(products):
    """Products annotated with `variant_count`, their number of active variants (a subquery in the same query)."""
    count = (
        Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        .order_by()
        .values("product")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return products.annotate(variant_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)))


def load_variants(product: Product) -> Product:
    """Give the product (read with its `product_type` and prefetched `images`) what its detail shows:
    `api_variants`, `api_options`, `api_attributes` (plain data), and `variant_count`."""
    typed = product.product_type_id is not None
    variants = Variant.objects.active().order_by("position", "id")
    if typed:
        options = VariantOption.objects.select_related("attribute", "value")
        variants = variants.prefetch_related(Prefetch("options", queryset=options))
    found = list(variants.filter(product=product))
    images = {}
    for image in product.images.all():  # prefetched in their order: the first of each variant wins
        if image.variant_id is not None:
            images.setdefault(image.variant_id, image)
    offers = variant_offers(product, found)
    product.api_variants = [_variant(v, product, images.get(v.pk), offers.get(v.pk), typed=typed) for v in found]
    product.api_options = _options(found) if typed else []
    product.api_attributes = _described(product) if typed else []
    product.variant_count = len(found)
    return product


def _variant(variant: Variant, product: Product, image, offer, *, typed: bool) -> dict:
    variant.product = product  # its price, or the product's: no query
    compare_at = variant.compare_at_money
    return {
        "id": variant.pk,
        "sku": variant.sku,
        "price": variant.unit_price,
        "compare_at_price": compare_at.amount if compare_at else None,
        "offer": offer,
        "currency": settings.SHOP_CURRENCY,
        "in_stock": variant.stock > 0,
        "stock": variant.stock,
        "options": {o.attribute.slug: o.value.slug for o in variant.options.all()} if typed else {},
        "image": image,
    }


def _options(variants: list[Variant]) -> list[dict]:
    """The variant attributes (by name, as the product type lists them) with the values the variants use."""
    attributes, values = {}, {}
    for variant in variants:
        for option in variant.options.all():
            attributes.setdefault(option.attribute_id, option.attribute)
            values.setdefault(option.attribute_id, {})[option.value_id] = option.value
    return [
        {
            "attribute": a.slug,
            "name": a.name,
            "values": [_value(v) for v in sorted(values[a.pk].values(), key=lambda v: (v.position, v.pk))],
        }
        for a in sorted(attributes.values(), key=lambda a: (a.name, a.pk))
    ]


def _described(product: Product) -> list[dict]:
    """The values that describe the product as a whole (material: cotton), by attribute: one query."""
    rows = (
        ProductAttributeValue.objects.filter(product=product)
        .select_related("value__attribute")
        .order_by("value__attribute__name", "value__attribute_id", "value__position", "value_id")
    )
    grouped: dict[int, dict] = {}
    for row in rows:
        a = row.value.attribute
        grouped.setdefault(a.pk, {"attribute": a.slug, "name": a.name, "values": []})["values"].append(
            _value(row.value)
        )
    return list(grouped.values())


def _value(value) -> dict:
    return {"slug": value.slug, "name": value.name, "swatch": value.swatch}
