from decimal import Decimal

from django import template
from django.conf import settings

from shop.core.money import Money

register = template.Library()


@register.filter
def money(value, currency=None):
    """{{ product.price|money }} -> "$19.99" in the active language's format."""
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return value.format()
    return Money(Decimal(value), currency or settings.SHOP_CURRENCY).format()


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters changed (pagination, sorting)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


@register.simple_tag(takes_context=True)
def shelves(context, page, **extra):
    """{% shelves "cart" product_ids=ids %}: the shelves other apps add to this page (shop.core.shelves)."""
    from shop.core import shelves as page_shelves

    return page_shelves.render(context.get("request"), page, **extra)
