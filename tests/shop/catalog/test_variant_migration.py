"""The migration to variants: each product becomes a product with one default variant, nothing lost."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("catalog", "0007_review_moderation")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def seed_products(apps) -> list[tuple[str, int]]:
    Category = apps.get_model("catalog", "Category")
    Product = apps.get_model("catalog", "Product")
    lamps = Category.objects.create(name="Lamps", slug="lamps-m", path="lamps-m")
    rows = [("LAMP-1", 5), ("LAMP-2", 0), ("LAMP-3", 120)]
    for i, (sku, stock) in enumerate(rows):
        Product.objects.create(
            sku=sku, slug=f"lamp-m-{i}", name=f"Lamp {i}", category=lamps, price=Decimal("30.00"), stock=stock
        )
    return rows


def test_it_gives_each_product_one_default_variant_with_its_sku_and_stock():
    try:
        rows = seed_products(migrate(BEFORE))
        apps = migrate(latest())
        Product = apps.get_model("catalog", "Product")
        for sku, stock in rows:
            product = Product.objects.get(sku=sku)
            variants = list(product.variants.all())
            assert [(v.sku, v.stock, v.price, v.is_active) for v in variants] == [(sku, stock, None, True)]
            assert product.stock == stock, "the product's stock is the sum of its variants'"
    finally:
        migrate(latest())
