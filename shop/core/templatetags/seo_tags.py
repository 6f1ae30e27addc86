from django import template
from django.utils.html import format_html
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


# Pages indexed by their address alone, with no head of their own: the content pages (shipping, returns...).
INDEXED_APPS = {"pages"}


@register.simple_tag(takes_context=True)
def default_head(context):
    """A page that does not describe itself to search engines: a content page is canonical at
    its own path (without a query string); any other page (the cart, the account, checkout,
    orders, errors) is kept out of search results."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is not None and match.app_name in INDEXED_APPS:
        return format_html('<link rel="canonical" href="{}">', request.build_absolute_uri(request.path))
    return mark_safe('<meta name="robots" content="noindex">')
