"""Checkout takes stock per variant (and the same from its product's summed stock); cancelling gives it back."""

from decimal import Decimal

import pytest

from shop.catalog.models import Attribute, AttributeValue, Product, ProductType, Variant, VariantOption
from shop.core.errors import InsufficientStock
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.services import order_cancel
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")


def shoe_in_two_sizes(*, small: int, large: int) -> tuple[Product, Variant, Variant]:
    size = Attribute.objects.create(name="Size", slug="size")
    colour = Attribute.objects.create(name="Colour", slug="colour")
    shoes = ProductType.objects.create(name="Shoes", slug="shoes")
    shoes.variant_attributes.set([size, colour])
    shoe = ProductFactory(name="Runner", sku="RUN-42", price=Decimal("80.00"), stock=small, product_type=shoes)
    v42 = shoe.variants.get()
    v43 = Variant.objects.create(product=shoe, sku="RUN-43", stock=large)
    Product.objects.filter(pk=shoe.pk).update(stock=small + large)
    blue = AttributeValue.objects.create(attribute=colour, name="Blue", slug="blue", swatch="#1f4e9c")
    for variant, name in ((v42, "42"), (v43, "43")):
        value = AttributeValue.objects.create(attribute=size, name=name, slug=name)
        VariantOption.objects.create(variant=variant, attribute=size, value=value)
        VariantOption.objects.create(variant=variant, attribute=colour, value=blue)
    shoe.refresh_from_db()
    return shoe, v42, v43


def place(user, *lines):
    cart = CartFactory(user=user)
    for variant, quantity in lines:
        CartLineFactory(cart=cart, product=variant.product, variant=variant, quantity=quantity)
    order, _created = checkout_place(
        cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard"
    )
    return order


def test_it_takes_stock_from_the_variant_and_the_products_sum_and_snapshots_the_options():
    shoe, v42, v43 = shoe_in_two_sizes(small=5, large=3)

    order = place(UserFactory(), (v42, 2), (v43, 1))

    v42.refresh_from_db(), v43.refresh_from_db(), shoe.refresh_from_db()
    assert (v42.stock, v43.stock, shoe.stock) == (3, 2, 5)
    lines = {line.sku: (line.variant_id, line.options, line.quantity) for line in order.lines.all()}
    assert lines == {
        "RUN-42": (v42.pk, {"Size": "42", "Colour": "Blue"}, 2),
        "RUN-43": (v43.pk, {"Size": "43", "Colour": "Blue"}, 1),
    }


def test_it_refuses_more_than_the_variant_has_even_when_the_product_has_more():
    shoe, v42, v43 = shoe_in_two_sizes(small=5, large=1)
    with pytest.raises(InsufficientStock):
        place(UserFactory(), (v43, 2))
    v43.refresh_from_db(), shoe.refresh_from_db()
    assert (v43.stock, shoe.stock) == (1, 6)


def test_a_single_variant_products_line_keeps_no_options():
    lamp = ProductFactory(sku="LAMP", stock=4)
    order = place(UserFactory(), (lamp.variants.get(), 1))
    assert [(line.sku, line.options) for line in order.lines.all()] == [("LAMP", {})]
    assert Product.objects.get(pk=lamp.pk).stock == 3 and lamp.variants.get().stock == 3


def test_cancelling_gives_the_stock_back_to_the_variant_and_the_product():
    shoe, v42, v43 = shoe_in_two_sizes(small=5, large=3)
    order = place(UserFactory(), (v43, 2))

    order_cancel(order_id=order.pk)

    v42.refresh_from_db(), v43.refresh_from_db(), shoe.refresh_from_db()
    assert (v42.stock, v43.stock, shoe.stock) == (5, 3, 8)


def test_cancelling_after_a_variant_left_the_store_keeps_the_products_sum_right():
    shoe, v42, v43 = shoe_in_two_sizes(small=5, large=3)
    first, second = place(UserFactory(), (v43, 2)), place(UserFactory(), (v42, 1))
    # Staff take size 43 off sale (its stock leaves the product's sum) and delete size 42.
    Variant.objects.filter(pk=v43.pk).update(is_active=False)
    Product.objects.filter(pk=shoe.pk).update(stock=4)
    v42.delete()
    Product.objects.filter(pk=shoe.pk).update(stock=0)

    order_cancel(order_id=first.pk)
    order_cancel(order_id=second.pk)

    v43.refresh_from_db(), shoe.refresh_from_db()
    assert v43.stock == 3  # back on the inactive variant
    assert shoe.stock == 0  # the sum of the active variants: none left
