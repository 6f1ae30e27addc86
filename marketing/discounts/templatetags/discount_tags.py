from django import template

from marketing.discounts import carts
from shop.cart.pricing import price_cart
from shop.cart.selectors import cart_for_request

register = template.Library()


@register.simple_tag(takes_context=True)
def cart_code_status(context):
    """{% cart_code_status as status %}: the request's cart's code, whether it applies (and why not), its saving.

    Uses the page's `cart` and `priced` when it has them (the cart page), so the cart is not priced twice.
    """
    request = context["request"]
    customer = carts.customer_of(request)
    if "priced" in context and "cart" in context:
        cart, priced = context["cart"], context["priced"]
    else:
        cart = cart_for_request(request)
        priced = price_cart(cart, customer=customer)
    return carts.cart_code_status(cart=cart, priced=priced, customer=customer)
