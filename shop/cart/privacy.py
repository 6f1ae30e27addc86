"""The cart's part of a customer's data (shop/accounts/privacy.py, docs/privacy.md)."""

from django.utils.translation import gettext_lazy

from shop.cart import services
from shop.cart.models import CartLine


class CartData:
    key = "cart"
    label = gettext_lazy("Cart")
    erases = gettext_lazy("Your cart and what is in it.")

    def export(self, user) -> list:
        lines = CartLine.objects.filter(cart__user=user).select_related("product").order_by("added_at", "id")
        return [
            {
                "sku": line.product.sku,
                "product": line.product.name,
                "quantity": line.quantity,
                "added_at": line.added_at,
            }
            for line in lines
        ]

    def erase(self, user) -> None:
        services.cart_discard(user=user)
