"""The category menu every page shows: in the header (a bar on wide screens, a drawer on
phones) and in the footer. Built from the cached category tree and kept as HTML under the
tree's token: a page pays two cache reads for all three and no query.
"""

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from shop.catalog import cache as catalog_cache
from shop.catalog import selectors
from shop.catalog.tree import build_tree

PLACES = {"bar": "catalog/menu/_bar.html", "drawer": "catalog/menu/_drawer.html", "footer": "catalog/menu/_footer.html"}


def _build() -> dict[str, str]:
    roots = build_tree(selectors.category_tree())
    return {place: render_to_string(template, {"roots": roots}) for place, template in PLACES.items()}


def menus() -> dict[str, str]:
    """Each place's menu HTML, for the current language."""
    built = catalog_cache.kept("menu", (get_language(),), _build, on=(catalog_cache.TREE,))
    return {place: mark_safe(html) for place, html in built.items()}  # noqa: S308 (our own templates' output)
