from django import template
from django.utils.safestring import mark_safe

from shop.seo.head import with_origin

register = template.Library()


@register.simple_tag(takes_context=True)
def page_head(context, page):
    """A cached page's head tags (shop/catalog/seo.py) on this request's host; a page built
    without them (a refused filter, a missing page number) is kept out of search results."""
    head = page.get("head") if page else None
    if not head:
        return mark_safe('<meta name="robots" content="noindex">')
    return with_origin(context["request"], head)
