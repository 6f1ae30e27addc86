"""What the loyalty panels show: the cart's points panel and the member's summary.

The reads live in loyalty.carts and loyalty.selectors; the tags are thin wrappers
that take the page's `cart` and `priced` when it has them, so a cart is never priced twice.
"""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

from loyalty import carts, selectors
from loyalty.program import current
from shop.cart.pricing import price_cart
from shop.cart.selectors import cart_for_request

register = template.Library()


# --- the member's summary ---------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def loyalty_summary(context):
    """{% loyalty_summary as loyalty %}: the logged-in member's summary (None for a visitor)."""
    user = context["request"].user
    return selectors.summary(user=user) if user.is_authenticated else None


@register.simple_tag
def loyalty_rules():
    """{% loyalty_rules as rules %}: the program's rules and tiers (cached)."""
    return current()


@register.filter
def signed(points) -> str:
    """+150, −1,000 (grouped as the locale does; a true minus sign: screen readers say "minus")."""
    points = int(points)
    shown = number_format(abs(points), force_grouping=True)
    return f"+{shown}" if points > 0 else f"\u2212{shown}" if points < 0 else "0"


@register.filter
def pending_at(entry, now) -> bool:
    """{% if entry|pending_at:now %}: a lot still in its pending period."""
    return entry.is_pending(now)


# --- the cart panel ---------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def cart_points(context):
    """{% cart_points as points %}: the request's cart's points status (None for a visitor)."""
    request = context["request"]
    if not request.user.is_authenticated:
        return None
    cart = context.get("cart") or cart_for_request(request, with_lines="priced" not in context)
    priced = context.get("priced") or price_cart(cart, customer=request.user)
    return carts.cart_points_status(cart=cart, priced=priced, user=request.user)


# --- an order's confirmation ----------------------------------------------------------------


@register.simple_tag
def order_points(order):
    """{% order_points order as earned %}: what a paid order earns the member (loyalty.selectors.order_points)."""
    return selectors.order_points(order=order)
