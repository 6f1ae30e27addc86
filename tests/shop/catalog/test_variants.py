"""Variants: every product has a default one, and a single-variant product's SKU and stock are its variant's."""

import pytest
from django.db import IntegrityError

from shop.catalog.models import Product, Variant
from shop.catalog.services import products_set_stock, variants_create_defaults
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_it_gives_a_new_product_its_default_variant():
    lamp = ProductFactory(sku="LAMP-1", stock=7)
    assert [(v.sku, v.stock, v.price) for v in lamp.variants.all()] == [("LAMP-1", 7, None)]


def test_it_carries_a_single_variant_products_sku_and_stock_to_its_variant():
    lamp = ProductFactory(sku="LAMP-1", stock=7)
    lamp.sku, lamp.stock = "LAMP-2", 3
    lamp.save()
    assert Variant.objects.get(product=lamp).sku == "LAMP-2"
    assert Variant.objects.get(product=lamp).stock == 3


def test_it_leaves_the_variants_of_a_product_with_several_alone():
    shoe = ProductFactory(sku="SHOE", stock=5)
    Variant.objects.create(product=shoe, sku="SHOE-43", stock=4)
    shoe.stock = 9
    shoe.save()
    assert sorted(shoe.variants.values_list("sku", "stock")) == [("SHOE", 5), ("SHOE-43", 4)]


def test_it_sets_the_stock_of_every_active_variant_and_the_products_sum():
    lamp, shoe = ProductFactory(stock=1), ProductFactory(stock=2)
    Variant.objects.create(product=shoe, sku="SHOE-43", stock=4)
    assert products_set_stock(product_ids=[lamp.pk, shoe.pk], stock=3) == 2
    assert Product.objects.get(pk=lamp.pk).stock == 3
    assert lamp.variants.get().stock == 3
    assert Product.objects.get(pk=shoe.pk).stock == 6


def test_it_makes_default_variants_for_products_written_in_bulk():
    lamp = ProductFactory(stock=6)
    lamp.variants.all().delete()
    assert variants_create_defaults(product_ids=[lamp.pk]) == 1
    assert variants_create_defaults(product_ids=[lamp.pk]) == 0
    assert lamp.variants.get().stock == 6


def test_the_database_refuses_negative_variant_stock():
    lamp = ProductFactory(stock=1)
    with pytest.raises(IntegrityError):
        Variant.objects.filter(product=lamp).update(stock=-1)
