"""The cart's part of an erasure."""

import pytest

from shop.accounts.privacy import customer_erase
from shop.cart.models import Cart, CartLine
from shop.cart.privacy import CartData
from tests.factories import CartLineFactory

pytestmark = pytest.mark.django_db


def test_it_deletes_the_customers_cart_only(customer, stranger):
    mine = CartLineFactory(cart__user=customer)
    theirs = CartLineFactory(cart__user=stranger)

    customer_erase(user=customer, requested_by="self")

    assert not Cart.objects.filter(user=customer).exists()
    assert not CartLine.objects.filter(pk=mine.pk).exists()
    assert CartLine.objects.filter(pk=theirs.pk).exists()


def test_it_exports_the_lines(customer):
    line = CartLineFactory(cart__user=customer, quantity=2)

    assert CartData().export(customer) == [
        {"sku": line.product.sku, "product": line.product.name, "quantity": 2, "added_at": line.added_at}
    ]
