"""The demo store's sizes and colours (shop/catalog/demo_variants.py), read from the whole seeded store."""

import random
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.html import escape

from shop.catalog.demo import LEAVES, _product_spec
from shop.catalog.demo_variants import VARIANT_PLANS, colour_image, plan_for, variant_specs
from shop.catalog.models import (
    Attribute,
    AttributeValue,
    Product,
    ProductAttributeValue,
    ProductImage,
    ProductType,
    Variant,
    VariantOption,
)
from shop.orders.models import OrderLine

pytestmark = pytest.mark.django_db

SKU = re.compile(r"BZ-\d{6}-[A-Z]{3}(-[A-Z0-9]{1,3})?")


def counts() -> dict[str, int]:
    models = (Attribute, AttributeValue, ProductType, Variant, VariantOption, ProductAttributeValue, ProductImage)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture(scope="module")
def seeded(demo_store):
    """The whole demo store seeded, then seeded again (tests/conftest.py: shared with other modules, rolled back)."""
    return {"first": demo_store["first"][__name__], "second": demo_store["second"][__name__]}


def typed():
    return Product.objects.exclude(product_type=None)


def test_every_products_stock_is_the_sum_of_its_active_variants(seeded):
    products = Product.objects.annotate(
        summed=Sum("variants__stock", filter=Q(variants__is_active=True), default=0), variants_count=Count("variants")
    )

    assert products.count() == 200
    assert not products.filter(variants_count=0).exists()
    assert [p.sku for p in products if p.stock != p.summed] == []
    # Withdrawn variants keep stock the product's does not count: the sum above is not all stock.
    assert Variant.objects.filter(is_active=False, stock__gt=0).exists()


def test_clothes_shoes_and_audio_come_in_sizes_and_colours(seeded):
    by_type = Counter(typed().values_list("product_type__slug", flat=True))
    categories = set(typed().values_list("category__slug", flat=True))

    assert set(by_type) == {"clothing", "shoes", "bedding", "electronics"}
    assert by_type["clothing"] >= 30 and by_type["shoes"] >= 15
    assert {"dresses", "tops", "shirts", "jackets", "womens-shoes", "mens-shoes"} <= categories
    assert categories <= set(VARIANT_PLANS)
    for product in typed().prefetch_related("variants__options__attribute", "variants__options__value"):
        variants = list(product.variants.all())
        expected = set(product.product_type.variant_attributes.values_list("name", flat=True))
        combinations = [v.options_snapshot() for v in variants]
        assert len(variants) >= 2, product.sku
        assert all(set(c) == expected for c in combinations), product.sku
        assert len({tuple(sorted(c.items())) for c in combinations}) == len(variants), "each combination once"
        assert all(SKU.fullmatch(v.sku) and v.sku.startswith(product.sku + "-") for v in variants)
        assert len({c["Colour"] for c in combinations}) >= 2


def test_colours_have_swatches_and_products_a_material(seeded):
    colours = AttributeValue.objects.filter(attribute__slug="colour")
    materials = ProductAttributeValue.objects.filter(value__attribute__slug="material")

    assert colours.count() >= 10
    assert not colours.filter(swatch="").exists()
    clothes = typed().filter(product_type__slug="clothing")
    assert materials.filter(product__in=clothes).count() == clothes.count()
    named = set(materials.filter(product__name__contains="Linen Shirt").values_list("value__name", flat=True))
    assert named == {"Linen"}, "the material a name says"


def test_some_sizes_are_sold_out_and_some_combinations_were_never_made(seeded):
    in_stock = typed().filter(stock__gt=0)
    sold_out_sizes = Variant.objects.filter(product__in=in_stock, stock=0, is_active=True)
    options = defaultdict(lambda: defaultdict(set))  # product: attribute: values
    variants = Counter()
    for product_id, attribute, value in VariantOption.objects.filter(
        variant__product__product_type__slug__in=["clothing", "shoes"]
    ).values_list("variant__product_id", "attribute__slug", "value_id"):
        options[product_id][attribute].add(value)
        variants[product_id] += attribute == "colour"

    assert sold_out_sizes.count() >= 20, "sizes sold out of products still in stock"
    assert typed().filter(stock=0).exists(), "and a few products sold out in every size"
    never_made = [
        product_id
        for product_id, values in options.items()
        if len(values["colour"]) * max(len(values["size"]), len(values["eu-size"])) > variants[product_id]
    ]
    assert len(never_made) >= 5


def test_bigger_beds_cost_more_and_keep_the_sale(seeded):
    beds = Variant.objects.filter(product__product_type__slug="bedding").select_related("product")
    own = [v for v in beds if v.price is not None]

    assert own, "the larger bed sizes have their own price"
    assert all(v.price > v.product.price for v in own)
    assert beds.filter(price=None).exists(), "the smallest costs the product's price"
    for variant in own:
        if variant.product.compare_at_price is not None:
            assert variant.compare_at_price > variant.price
        else:
            assert variant.compare_at_price is None
    assert not Variant.objects.exclude(product__product_type__slug="bedding").exclude(price=None).exists()


def test_every_other_product_keeps_its_single_default_variant(seeded):
    plain = Product.objects.filter(product_type=None).annotate(n=Count("variants"))

    assert plain.count() >= 80
    assert set(plain.values_list("n", flat=True)) == {1}
    for product in plain.prefetch_related("variants")[:50]:
        variant = product.variants.get()
        assert (variant.sku, variant.stock, variant.price, variant.is_active) == (product.sku, product.stock, None, 1)


def test_each_colour_has_its_picture_of_a_variant_in_that_colour(seeded):
    pictures = ProductImage.objects.exclude(variant=None).select_related("product", "variant")

    assert pictures.count() >= typed().count() * 2
    for picture in pictures.prefetch_related("variant__options__attribute", "variant__options__value")[:100]:
        colour = picture.variant.options_snapshot()["Colour"]
        assert picture.variant.product_id == picture.product_id
        assert picture.alt_text == f"{picture.product.name} in {colour}"
    # The product's own pictures still come first: its card shows the same picture as before.
    assert not ProductImage.objects.filter(variant=None, position__gte=2).exists()


def test_order_lines_keep_the_variant_its_sku_and_options(seeded):
    lines = OrderLine.objects.filter(order__idempotency_scope="demo").select_related("variant__product")
    with_options = lines.exclude(options={})

    assert not lines.filter(variant=None).exists()
    assert with_options.count() >= 300
    assert Counter(len(line.options) for line in with_options).keys() == {1, 2}
    for line in with_options.prefetch_related("variant__options__attribute", "variant__options__value")[:300]:
        assert line.sku == line.variant.sku
        assert line.options == line.variant.options_snapshot()
        assert line.variant.product_id == line.product_id
    for line in lines.filter(options={})[:300]:
        assert line.variant.product.product_type_id is None
        assert line.sku == line.variant.sku == line.variant.product.sku


def test_the_page_of_a_product_in_sizes_and_colours_opens(seeded, client):
    product = typed().filter(is_active=True, stock__gt=0).order_by("pk").first()

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert escape(product.name) in response.content.decode()


def test_running_it_again_adds_no_variant(seeded):
    assert seeded["second"] == seeded["first"]


def test_it_draws_the_same_variants_from_the_same_seed():
    rng = random.Random(1)
    specs = [_product_spec(i, rng, timezone.now()) for i in range(len(LEAVES) * 3)]
    planned = [s for s in specs if plan_for(s)]

    assert len(planned) >= 20
    for spec in planned:
        first = variant_specs(spec, plan_for(spec), seed=2026)
        assert variant_specs(spec, plan_for(spec), seed=2026) == first
        if spec["stock"] == 0:  # a product drawn sold out is sold out in every size
            assert {v["stock"] for v in first} == {0}
    assert variant_specs(planned[0], plan_for(planned[0]), seed=7) != variant_specs(
        planned[0], plan_for(planned[0]), seed=2026
    )


def test_a_bigger_bed_costs_a_round_price_above_the_product():
    spec = {
        "sku": "BZ-000015", "stock": 40, "price": Decimal("45.99"), "compare_at_price": None,
    }  # fmt: skip

    prices = {v["size"]: v["price"] for v in variant_specs(spec, VARIANT_PLANS["bedding"], seed=2026)}

    assert prices["Single"] is None
    assert prices["Double"] == Decimal("59.99")  # 45.99 × 1.3 = 59.787, up to the next .99
    assert prices["Double"] < prices["Queen"] < prices["King"]


def test_products_past_the_unique_pictures_share_them_by_colour(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    rng = random.Random(3)
    first, later = _product_spec(0, rng, timezone.now()), _product_spec(4, rng, timezone.now())
    cache = {}

    own = colour_image(first, "Rose", cache, unique=4)
    shared = colour_image(later, "Rose", cache, unique=4)  # product 4 shares product 0's pictures
    category_card = colour_image(later, "Navy", cache, unique=4)  # which product 0 has not in Navy

    assert own == shared == f"demo/{first['sku']}-ROS.jpg"
    assert category_card == "demo/shared-jackets-NVY.jpg"
    assert (tmp_path / own).exists() and (tmp_path / category_card).exists()
