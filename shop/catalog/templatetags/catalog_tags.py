from django import template
from django.utils.translation import gettext as _

from shop.catalog import selectors, variants
from shop.catalog.menu import menus
from shop.core.templatetags.shop_tags import money

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


@register.simple_tag(takes_context=True)
def active_filters(context) -> list[dict]:
    """The list page's active filters as removable chips: [{label, remove (aria label), url, filter}]
    (`filter`: set in the filter panel; the search is a chip too, but not one of the panel's).

    Read from the filter form's cleaned values, so a wrong value (shown as an error) makes no chip.
    """
    request, filters = context["request"], context.get("filters")
    clean = getattr(getattr(filters, "form", None), "cleaned_data", None) or {}

    def without(*names):
        query = request.GET.copy()
        for name in (*names, "page"):
            query.pop(name, None)
        return f"?{query.urlencode()}" if query else request.path

    chips = []
    search = request.GET.get("search", "").strip()
    if search:
        chips.append(
            {
                "label": f"“{search}”",
                "remove": _("Remove the search “%(q)s”") % {"q": search},
                "url": without("search", "exact"),
                "filter": False,
            }
        )
    category = getattr(filters.form, "category_obj", None) if clean.get("category") else None
    if category is not None and context.get("category") is None:
        name = category.name
        chips.append(
            {
                "label": name,
                "remove": _("Remove the category %(name)s") % {"name": name},
                "url": without("category"),
                "filter": True,
            }
        )
    if clean.get("min_price") is not None:
        price = money(clean["min_price"])
        chips.append(
            {
                "label": _("From %(p)s") % {"p": price},
                "remove": _("Remove the lowest price, %(p)s") % {"p": price},
                "url": without("min_price"),
                "filter": True,
            }
        )
    if clean.get("max_price") is not None:
        price = money(clean["max_price"])
        chips.append(
            {
                "label": _("Up to %(p)s") % {"p": price},
                "remove": _("Remove the highest price, %(p)s") % {"p": price},
                "url": without("max_price"),
                "filter": True,
            }
        )
    if clean.get("in_stock"):
        chips.append(
            {
                "label": _("In stock only"),
                "remove": _("Remove: in stock only"),
                "url": without("in_stock"),
                "filter": True,
            }
        )
    if clean.get("on_sale"):
        chips.append({"label": _("On sale"), "remove": _("Remove: on sale"), "url": without("on_sale"), "filter": True})
    for slug, ids in (clean.get("attr") or {}).items():
        attribute = variants.attributes()[slug]
        for value in attribute.values.values():
            if value.id in ids:
                chips.append(
                    {
                        "label": f"{attribute.name}: {value.name}",
                        "remove": _("Remove %(attribute)s: %(value)s")
                        % {"attribute": attribute.name, "value": value.name},
                        "url": _without_value(request, f"{slug}:{value.slug}"),
                        "filter": True,
                    }
                )
    return chips


def _without_value(request, param: str) -> str:
    """The list without one chosen attribute value (the others kept)."""
    query = request.GET.copy()
    query.pop("page", None)
    kept = [p for item in query.getlist("attr") for p in item.split(",") if p.strip() and p.strip() != param]
    query.setlist("attr", kept)
    return f"?{query.urlencode()}" if query else request.path


@register.inclusion_tag("catalog/_refine.html", takes_context=True)
def refine_categories(context, roots, current=None):
    """The list's categories to narrow it: the way up (the parent, or all products), the current
    category and its sub-categories; all the top categories on the all-products list. The whole
    tree is in the menu: here it would push the filters two screens down on a phone."""
    search = context["request"].GET.get("search", "")
    if current is None:
        return {"up": None, "current": None, "children": roots, "search": search, "top": True}
    stack, found, parents = [(node, None) for node in roots], None, {}
    while stack:
        node, parent = stack.pop()
        parents[node.pk] = parent
        if node.pk == current.pk:
            found = node
        stack.extend((child, node) for child in node.children_list)
    children = found.children_list if found is not None else []
    up = parents.get(current.pk)
    return {"up": up, "current": current, "children": children, "search": search, "top": False}


@register.filter
def panel_filters(chips) -> int:
    """How many of the chips are the filter panel's (the "Filters" button's count)."""
    return sum(1 for chip in chips if chip["filter"])
