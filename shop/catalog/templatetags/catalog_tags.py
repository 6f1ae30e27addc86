from django import template

from shop.catalog import selectors
from shop.catalog.menu import menus

register = template.Library()


@register.simple_tag(takes_context=True)
def category_menu(context, place: str):
    """The category menu for a place on the page: "bar", "drawer" or "footer" (shop/catalog/menu.py).

    Read once per request, however many places show it.
    """
    request = context.get("request")
    found = getattr(request, "_category_menus", None)
    if found is None:
        found = menus()
        if request is not None:
            request._category_menus = found
    return found[place]


@register.inclusion_tag("catalog/_category_tiles.html")
def category_tiles():
    """The home page's top-category tiles (inside the cached home page: built when it is)."""
    return {"tiles": selectors.category_tiles()}
