"""The migration to variants: each product becomes a product with one default variant, nothing lost.

A store as it was before variants (catalog 0007, cart 0001, orders 0002), written through the
historical models, migrated forward: the products keep their SKU, price and stock on their default
variant, cart lines and past order lines point at it, and every order line keeps what it recorded.
"""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("catalog", "0007_review_moderation"), ("cart", "0001_initial"), ("orders", "0002_paid_at_index")]
# (sku, price, compare-at price, stock, active): like the demo's, one sold out, one on sale, one hidden.
PRODUCTS = [
    ("BZ-000001", "171.95", None, 42, True),
    ("BZ-000002", "64.99", "81.24", 0, True),
    ("BZ-000003", "217.99", None, 120, True),
    ("BZ-000004", "9.49", None, 3, False),
]


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


def seed_store(apps) -> dict:
    """Products, two carts and two orders as the old schema had them: lines by product."""
    Category, Product = apps.get_model("catalog", "Category"), apps.get_model("catalog", "Product")
    Cart, CartLine = apps.get_model("cart", "Cart"), apps.get_model("cart", "CartLine")
    Order, OrderLine = apps.get_model("orders", "Order"), apps.get_model("orders", "OrderLine")
    dresses = Category.objects.create(name="Dresses", slug="dresses-m", path="dresses-m")
    products = {}
    for i, (sku, price, compare_at, stock, active) in enumerate(PRODUCTS):
        products[sku] = Product.objects.create(
            sku=sku, slug=f"dress-m-{i}", name=f"Wrap Dress {i}", category=dresses, price=Decimal(price),
            compare_at_price=compare_at and Decimal(compare_at), stock=stock, is_active=active,
        )  # fmt: skip
    gone = Product.objects.create(sku="BZ-GONE", slug="gone-m", name="Gone", category=dresses, price=Decimal(1))
    carts = [Cart.objects.create(token=uuid.uuid4()) for _n in range(2)]
    cart_lines = [
        CartLine.objects.create(cart=carts[0], product=products["BZ-000001"], quantity=2),
        CartLine.objects.create(cart=carts[0], product=products["BZ-000003"], quantity=1),
        CartLine.objects.create(cart=carts[1], product=products["BZ-000001"], quantity=1),
    ]
    placed = timezone.now() - dt.timedelta(days=30)
    order_lines = []
    for n, bought in enumerate([[("BZ-000001", 1), ("BZ-000002", 3)], [("BZ-000003", 2), ("BZ-GONE", 1)]]):
        order = Order.objects.create(
            number=f"MIGRATE{n}", email=f"buyer{n}@example.com", status="delivered", currency="USD",
            subtotal=Decimal("100.00"), total=Decimal("100.00"), shipping_method="standard",
            shipping_name="Ada", shipping_line1="1 Main St", shipping_city="Springfield",
            shipping_postal_code="12345", shipping_country="US", idempotency_scope="demo",
            idempotency_key=f"migrate-{n}", placed_at=placed, paid_at=placed,
        )  # fmt: skip
        for sku, quantity in bought:
            product = products.get(sku, gone)
            order_lines.append(
                OrderLine.objects.create(
                    order=order,
                    product=product,
                    sku=sku,
                    name=f"{product.name} (as bought)",
                    unit_price=product.price,
                    quantity=quantity,
                    subtotal=product.price * quantity,
                    discount=Decimal("1.50") * n,
                )
            )
    gone.delete()  # a product deleted since: its order line keeps the rest (its product is null)
    return {
        "cart_lines": [(line.pk, line.cart_id, line.product_id, line.quantity) for line in cart_lines],
        "order_lines": {
            line.pk: (line.order_id, line.sku, line.name, line.unit_price, line.quantity, line.subtotal, line.discount)
            for line in order_lines
        },
        "products": {sku: p.pk for sku, p in products.items()},
    }


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


def test_it_keeps_a_stores_products_carts_and_orders_and_points_their_lines_at_the_default_variants():
    try:
        before = seed_store(migrate(BEFORE))
        migrate(latest())

        # The models as they are now, on the migrated tables.
        from shop.cart.models import CartLine
        from shop.catalog.models import Product, Variant
        from shop.orders.models import OrderLine

        defaults = {}
        for sku, price, compare_at, stock, active in PRODUCTS:
            product = Product.objects.get(sku=sku)
            variant = Variant.objects.select_related("product").get(product=product)  # exactly one
            assert (variant.sku, variant.price, variant.stock, variant.is_active) == (sku, None, stock, True)
            assert variant.unit_price == Decimal(price), "no price of its own: the product's"
            assert (product.stock, product.is_active, product.price) == (stock, active, Decimal(price))
            assert product.compare_at_price == (compare_at and Decimal(compare_at))
            assert not variant.options.exists() and product.product_type_id is None
            defaults[product.pk] = variant.pk

        cart_lines = list(CartLine.objects.order_by("pk").values_list("pk", "cart_id", "product_id", "quantity"))
        assert cart_lines == before["cart_lines"]
        for line in CartLine.objects.all():
            assert line.variant_id == defaults[line.product_id]

        assert OrderLine.objects.count() == len(before["order_lines"])
        for line in OrderLine.objects.all():
            kept = (line.order_id, line.sku, line.name, line.unit_price, line.quantity, line.subtotal, line.discount)
            assert kept == before["order_lines"][line.pk]
            assert line.options == {}
            if line.product_id is None:
                assert line.variant_id is None, "a deleted product's line has no variant to point at"
            else:
                assert line.variant_id == defaults[line.product_id]
                assert line.sku == Variant.objects.get(pk=line.variant_id).sku
    finally:
        migrate(latest())
